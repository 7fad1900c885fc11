/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  // LanceDB's thread settings must be in the real environment, which a test's process.env is not.
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
