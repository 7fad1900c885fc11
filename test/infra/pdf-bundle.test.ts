import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { ingestFunctions } from '../../functions/ingest-functions';
import { productionBundleOptions } from '../../scripts/bench/bundle-settings';
import { REPO_ROOT } from '../../scripts/local/stack';
import {
  DEBIAN_DOCUMENTS,
  debianDocumentFile,
  describeWithDebianDocuments,
} from '../support/debian-documents';

/**
 * The PDF reader as the Batch function will ship it: the Batch entry and the reader bundled together with the
 * production settings (infra/lambda-bundling.ts), loaded in a fresh Node with no node_modules, and reading the
 * Debian Policy Manual from the bundle alone. pdf.js is an ES module with no worker in unpdf's serverless build;
 * esbuild turns it into CommonJS and keeps it behind the reader's `import()`, so it is evaluated on the first PDF,
 * not at the function's cold start.
 */

let workDir: string;
let batchAlone: string;
let batchWithPdf: string;
/** Each ingest function but Batch (which will read PDFs): the packages in its bundle. */
let otherBundles: { entry: string; packages: string[] }[];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'pdf-bundle-'));
  const entry = join(workDir, 'batch-with-pdf.ts');
  await writeFile(
    entry,
    [
      `export { handler } from ${JSON.stringify(resolve(REPO_ROOT, 'functions/ingest-batch'))};`,
      `export { pdfFormat } from ${JSON.stringify(resolve(REPO_ROOT, 'functions/core/ingest/formats/pdf'))};`,
    ].join('\n'),
  );
  await build(
    productionBundleOptions(
      { 'alone/index': resolve(REPO_ROOT, 'functions/ingest-batch.ts'), 'with-pdf/index': entry },
      workDir,
      false,
    ),
  );
  const others = Object.values(ingestFunctions).filter((fn) => fn.entry !== 'functions/ingest-batch.ts');
  const built = await build({
    ...productionBundleOptions(
      Object.fromEntries(others.map((fn, i) => [`other-${i}/index`, resolve(REPO_ROOT, fn.entry)])),
      join(workDir, 'others'),
      false,
    ),
    // Only the module graph is wanted; LanceDB stays out as in the LanceDB functions' own bundling.
    external: ['@lancedb/lancedb', 'apache-arrow'],
    metafile: true,
    write: false,
  });
  otherBundles = others.map((fn, i) => {
    const output = Object.entries(built.metafile.outputs).find(([path]) =>
      path.endsWith(`other-${i}/index.js`),
    );
    return {
      entry: fn.entry,
      packages: Object.keys(output?.[1].inputs ?? {}).filter((p) => p.includes('node_modules/unpdf')),
    };
  });
  batchAlone = join(workDir, 'alone', 'index.js');
  batchWithPdf = join(workDir, 'with-pdf', 'index.js');
}, 120_000);
afterAll(() => rm(workDir, { recursive: true, force: true }));

describeWithDebianDocuments('the PDF reader in the Batch bundle', ['policyPdf'], () => {
  it('reads the Debian Policy Manual from the bundle alone, in a fresh Node', async () => {
    // Arrange
    const pdf = debianDocumentFile(DEBIAN_DOCUMENTS.policyPdf, join(workDir, 'docs'));
    const script = `
      const started = process.hrtime.bigint();
      const m = require(process.argv[1]);
      const loadedMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (typeof m.handler !== 'function') process.exit(2);
      m.pdfFormat.read(require('node:fs').readFileSync(process.argv[2]), { source: 'policy.pdf', maxBytes: 5e7 }).then((r) => {
        const rules = r.ok && r.sections.find((s) => s.path.at(-1) === '4.9 Main building script: debian/rules');
        console.log(JSON.stringify({ ok: r.ok, title: r.title, path: rules && rules.path, page: rules && rules.pages[0].page, loadedMs }));
      });`;

    // Act
    const run = spawnSync(process.execPath, ['-e', script, batchWithPdf, pdf], {
      cwd: join(workDir, 'with-pdf'),
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });

    // Assert
    expect({ status: run.status, stderr: run.stderr.slice(0, 2000) }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      title: 'Debian Policy Manual',
      path: ['Source packages', '4.9 Main building script: debian/rules'],
      page: 33,
    });
  });

  it('ships pdf.js (about 1.6 MB, already minified by unpdf) in the Batch bundle itself, which reads PDFs', async () => {
    // The Batch entry alone (formats/index.ts registers the reader) is the bundle with the reader exported again.
    const alone = (await stat(batchAlone)).size;
    const withPdf = (await stat(batchWithPdf)).size;
    // Printed for the report: what the Batch bundle weighs with every reader in it.
    process.stdout.write(`Batch bundle: ${Math.round(alone / 1024)} KB\n`);
    expect(Math.abs(withPdf - alone)).toBeLessThan(10_000);
    expect(alone).toBeGreaterThan(1_600_000 + 1_000_000);
    expect(alone).toBeLessThan(8_000_000);
  });
});

it('leaves pdf.js out of every ingest function but Batch (Plan lists documents, it never reads one)', () => {
  expect(otherBundles.length).toBeGreaterThan(3);
  expect(otherBundles.filter((b) => b.packages.length > 0).map((b) => b.entry)).toEqual([]);
});
