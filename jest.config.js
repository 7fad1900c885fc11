const fs = require('node:fs');
const path = require('node:path');

/**
 * The ES-module-only packages in the dependencies of the unified-family packages the HTML and Word readers import
 * (functions/core/ingest/formats/html.ts: parse5, hast and mdast utilities): each has "type": "module", which Jest's CommonJS runtime cannot load,
 * so test/support/esbuild-esm-transform.js turns them into CommonJS. Every other file in node_modules stays
 * untransformed, as Jest's default has it.
 */
function esmPackages(roots) {
  const seen = new Set();
  const esm = new Set();
  const queue = roots.map((name) => ({ name, from: __dirname }));
  while (queue.length > 0) {
    const { name, from } = queue.pop();
    // Node's resolution: the dependent's own node_modules first (a nested ESM major of a CommonJS package), then up.
    let dir = from;
    let packageDir;
    for (;;) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        packageDir = candidate;
        break;
      }
      if (dir === __dirname || path.dirname(dir) === dir) break;
      dir = path.dirname(dir);
      while (path.basename(dir) !== 'node_modules' && dir !== __dirname) dir = path.dirname(dir);
      if (path.basename(dir) === 'node_modules') dir = path.dirname(dir);
    }
    if (packageDir === undefined || seen.has(packageDir)) continue;
    seen.add(packageDir);
    const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    if (manifest.type === 'module') esm.add(name);
    for (const dependency of Object.keys(manifest.dependencies ?? {}))
      queue.push({ name: dependency, from: packageDir });
  }
  return [...esm];
}

const ESM_PACKAGES = esmPackages([
  'parse5',
  'hast-util-from-parse5',
  'hast-util-to-mdast',
  'mdast-util-to-markdown',
  'mdast-util-to-string',
  'mdast-util-gfm',
]);
const escapeRegExp = (name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
    // ES-module-only packages (the HTML and Word readers' unified family, and pdf.js in the build unpdf ships) go
    // to CommonJS through esbuild, as the Lambda bundling does; every other package is left as it ships.
    '/node_modules/.+\\.m?js$': '<rootDir>/test/support/esbuild-esm-transform.js',
  },
  transformIgnorePatterns: [
    `/node_modules/(?!(?:(?:${ESM_PACKAGES.map(escapeRegExp).join('|')})/|unpdf/dist/pdfjs\\.mjs$))`,
  ],
  // `unpdf/pdfjs` is exported for `import` only, which Jest's CommonJS resolver does not take.
  moduleNameMapper: { '^unpdf/pdfjs$': '<rootDir>/node_modules/unpdf/dist/pdfjs.mjs' },
  // LanceDB's thread settings must be in the real environment, which a test's process.env is not.
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  // Expected faults (Bolt's error lines, EMF metrics, Powertools logs) print nothing unless TEST_LOGS=1.
  // Each test file's CDK apps synthesize into one temporary folder, removed after it (test/support/cdk-outdir.ts).
  setupFilesAfterEnv: [
    '<rootDir>/test/support/quiet-expected-faults.ts',
    '<rootDir>/test/support/cdk-outdir.ts',
  ],
  // One line per skipped suite, saying why, after the default summary (which only counts them).
  reporters: ['default', '<rootDir>/test/support/skipped-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
  // A worker that holds more than this between test files is replaced: the heavy suites (local stacks, bundles,
  // 200 executions at once) leave heap behind, and one worker that ran eight of them hit Node's 4 GB heap limit
  // in the load test while another suite ran beside it.
  workerIdleMemoryLimit: '1GB',
};
