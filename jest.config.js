/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  // LanceDB's thread settings must be in the real environment, which a test's process.env is not.
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  // Expected faults (Bolt's error lines, EMF metrics, Powertools logs) print nothing unless TEST_LOGS=1.
  setupFilesAfterEnv: ['<rootDir>/test/support/quiet-expected-faults.ts'],
  // One line per skipped suite, saying why, after the default summary (which only counts them).
  reporters: ['default', '<rootDir>/test/support/skipped-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
