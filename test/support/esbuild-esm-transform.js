/**
 * Jest's transform for the ES-module-only packages that the HTML and Word readers import (the unified family:
 * parse5, hast-util-from-parse5, hast-util-to-mdast, mdast-util-to-markdown, mdast-util-gfm and the packages they import),
 * which Jest's CommonJS runtime cannot load as they ship. esbuild rewrites each file to CommonJS, as the Lambda
 * bundles do; jest.config.js applies it to exactly those packages (ESM_PACKAGES), and to pdf.js as unpdf ships it.
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'js',
      format: 'cjs',
      target: 'node24',
      sourcemap: 'external',
      sourcefile: filename,
      // pdf.js reads `import.meta.url` only in its image decoders and canvas, which text extraction never runs.
      logLevel: 'silent',
    });
    return { code, map };
  },
};
