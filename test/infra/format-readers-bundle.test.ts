import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { productionBundleOptions } from '../../scripts/bench/bundle-settings';
import { DEBIAN_DOCUMENTS, describeWithDebianDocuments } from '../support/debian-documents';

const ROOT = join(__dirname, '..', '..');

/**
 * The HTML and Word readers bundled as the Batch function is bundled (infra/lambda-bundling.ts, through
 * scripts/bench/bundle-settings.ts): the unified packages are ES modules only and mammoth is CommonJS, and both
 * must come out of esbuild as one CommonJS file that runs in plain Node, outside Jest's transform. The bundle reads
 * a real chapter and a real Word file in a Node process of its own.
 */
describeWithDebianDocuments(
  'the HTML and Word readers in a Lambda bundle',
  ['referenceDir', 'pandoc'],
  () => {
    let dir: string;
    let bundle: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'format-bundle-'));
      const entry = join(dir, 'entry.ts');
      writeFileSync(
        entry,
        [
          `export { htmlFormat } from ${JSON.stringify(join(ROOT, 'functions/core/ingest/formats/html'))};`,
          `export { docxFormat } from ${JSON.stringify(join(ROOT, 'functions/core/ingest/formats/docx'))};`,
        ].join('\n'),
      );
      await build({
        ...productionBundleOptions({ readers: entry }, join(dir, 'out'), true),
        absWorkingDir: ROOT,
      });
      bundle = join(dir, 'out', 'readers.js');
      execFileSync(DEBIAN_DOCUMENTS.pandoc, [
        '--quiet',
        join(DEBIAN_DOCUMENTS.referenceDir, 'ch02.en.html'),
        '-o',
        join(dir, 'ch02.docx'),
      ]);
    }, 120_000);

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('bundles into one file that reads a chapter and a Word file', () => {
      // Arrange
      const script = `
      const { htmlFormat, docxFormat } = require(${JSON.stringify(bundle)});
      const { readFileSync } = require('node:fs');
      (async () => {
        const html = await htmlFormat.read(readFileSync(${JSON.stringify(join(DEBIAN_DOCUMENTS.referenceDir, 'ch02.ja.html'))}), { source: 'ch02.ja.html', maxBytes: 1e7 });
        const docx = await docxFormat.read(readFileSync(${JSON.stringify(join(dir, 'ch02.docx'))}), { source: 'ch02.docx', maxBytes: 1e7 });
        console.log(JSON.stringify({ html: [html.title, html.sections.length], docx: [docx.title, docx.sections.length] }));
      })();`;

      // Act
      const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });

      // Assert
      const read = JSON.parse(output) as { html: [string, number]; docx: [string, number] };
      expect(read.html[0]).toBe('第2章 Debian パッケージ管理');
      expect(read.html[1]).toBeGreaterThan(40);
      expect(read.docx[0]).toBe('Chapter 2. Debian package management');
      expect(read.docx[1]).toBeGreaterThan(40);
      // What the readers add to a function's bundle (minified): the figure the ingest Batch bundle grows by.
      expect(statSync(bundle).size).toBeLessThan(1024 * 1024);
      expect(readFileSync(bundle, 'utf8')).not.toMatch(/^import /m);
    });
  },
);
