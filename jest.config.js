/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
    // pdf.js (unpdf's serverless build) is an ES module only: that one file goes to CommonJS through esbuild.
    '/node_modules/unpdf/dist/pdfjs\\.mjs$': '<rootDir>/test/support/esm-to-cjs-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!unpdf/dist/pdfjs\\.mjs$)'],
  // `unpdf/pdfjs` is exported for `import` only, which Jest's CommonJS resolver does not take.
  moduleNameMapper: { '^unpdf/pdfjs$': '<rootDir>/node_modules/unpdf/dist/pdfjs.mjs' },
  // LanceDB's thread settings must be in the real environment, which a test's process.env is not.
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  // Expected faults (Bolt's error lines, EMF metrics, Powertools logs) print nothing unless TEST_LOGS=1.
  setupFilesAfterEnv: ['<rootDir>/test/support/quiet-expected-faults.ts'],
  // One line per skipped suite, saying why, after the default summary (which only counts them).
  reporters: ['default', '<rootDir>/test/support/skipped-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
