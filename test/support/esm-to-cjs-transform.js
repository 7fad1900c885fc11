const { transformSync } = require('esbuild');

/**
 * Jest here runs CommonJS (ts-jest), and pdf.js, in the build `unpdf` ships (`unpdf/pdfjs`, the PDF reader's
 * parser), is an ES module only. This turns that one file into CommonJS with esbuild, as the Lambda bundling does
 * (esbuild, format cjs): jest.config.js sends only that file here. Its `import.meta.url` is read only by the image
 * decoders and the canvas, which text extraction never runs.
 */
module.exports = {
  process(source, path) {
    const { code } = transformSync(source, {
      loader: 'js',
      format: 'cjs',
      target: 'node24',
      sourcefile: path,
      logLevel: 'silent',
    });
    return { code };
  },
  getCacheKey(source, path) {
    return require('node:crypto')
      .createHash('sha256')
      .update(`esm-to-cjs-1\0${path}\0${source}`)
      .digest('hex');
  },
};
