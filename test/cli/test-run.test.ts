import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/local/stack';

/**
 * What `npm test` prints, through the project's own Jest setup (jest.config.js): a sample suite that reports
 * injected faults as the product does, and one that is skipped. Expected faults print nothing unless TEST_LOGS=1;
 * what a test means to print is kept; a skipped suite gets one line with its reason.
 */

function runSample(env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const config = {
    rootDir: REPO_ROOT,
    roots: ['<rootDir>/test/support/fixtures/test-run'],
    testMatch: ['**/*.sample.ts'],
    transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
    setupFilesAfterEnv: ['<rootDir>/test/support/quiet-expected-faults.ts'],
    reporters: ['default', '<rootDir>/test/support/skipped-reporter.js'],
  };
  const jest = join(REPO_ROOT, 'node_modules/jest/bin/jest.js');
  // The real jest.config.js, with only the roots and the match changed to the sample.
  const base = require(join(REPO_ROOT, 'jest.config.js')) as Record<string, unknown>;
  const run = spawnSync(process.execPath, [jest, '--config', JSON.stringify({ ...base, ...config })], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env, TEST_LOGS: env.TEST_LOGS ?? '' },
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('a test run', () => {
  it('prints no expected fault: no EMF line, no Powertools log, no Bolt error, no streamer warning', () => {
    const { status, output } = runSample();

    expect(status).toBe(0);
    expect(output).not.toContain('{"_aws"');
    expect(output).not.toContain('"level":"ERROR"');
    expect(output).not.toContain('bolt-app');
    expect(output).not.toContain('Slack: could not update');
    expect(output).toContain('a line the test means to print');
  });

  it('shows any other error line, pointing at the test that printed it', () => {
    const { output } = runSample();

    expect(output).toContain('an error line no test expects');
    expect(output).toMatch(
      /at Object\.<anonymous> \(test\/support\/fixtures\/test-run\/expected-faults\.sample\.ts:\d+/,
    );
    expect(output).not.toContain('quiet-expected-faults');
  });

  it('says in one line which suite was skipped and why', () => {
    const { output } = runSample();

    const skipped = output.split('\n').filter((line) => line.startsWith('skipped: '));
    expect(skipped).toEqual([
      'skipped: test/support/fixtures/test-run/skipped.sample.ts › a suite the machine cannot run (skipped: it needs something this machine lacks)',
    ]);
  });

  it('shows the expected faults with TEST_LOGS=1', () => {
    const { output } = runSample({ TEST_LOGS: '1' });

    expect(output).toContain('{"_aws"');
    expect(output).toContain('bolt-app');
    expect(output).toContain('Slack: could not update');
  });
});
