import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/local/stack';

/**
 * `npm test` on a machine without Chromium: the playground's browser test (test/e2e/playground.test.ts) is skipped,
 * with one line saying why and how to get one, and the run passes. In CI (CI=true) the browser is part of the setup,
 * so the same machine fails the run. The lookup is pointed at a path that does not exist (CHROMIUM_PATH), which is
 * what a machine without a browser looks like to it.
 */

const MISSING = '/nonexistent/chromium';

function runBrowserTest(ci: string): { status: number | null; output: string } {
  const jest = join(REPO_ROOT, 'node_modules/jest/bin/jest.js');
  const env: NodeJS.ProcessEnv = { ...process.env, CHROMIUM_PATH: MISSING, CI: ci, TEST_LOGS: '' };
  delete env.PLAYGROUND_BROWSER;
  const run = spawnSync(
    process.execPath,
    [jest, '--runTestsByPath', 'test/e2e/playground.test.ts', '--maxWorkers=1'],
    { cwd: REPO_ROOT, encoding: 'utf8', env },
  );
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('the browser test on a machine without Chromium', () => {
  it('is skipped, in one line with the reason, and the run passes', () => {
    const { status, output } = runBrowserTest('');

    expect(output.split('\n').filter((line) => line.startsWith('skipped: '))).toEqual([
      `skipped: test/e2e/playground.test.ts › the local playground in a browser (skipped: CHROMIUM_PATH (${MISSING}) does not exist; apt-get install -y chromium (Debian), or CHROMIUM_PATH=/path/to/chromium; CI=true fails instead)`,
    ]);
    expect(output).not.toContain('has a Chromium to run in');
    expect(status).toBe(0);
  });

  it('fails with CI=true, saying how to install it', () => {
    const { status, output } = runBrowserTest('true');

    expect(status).toBe(1);
    expect(output).toContain('✕ has a Chromium to run in');
    expect(output).toContain(
      `CHROMIUM_PATH (${MISSING}) does not exist: this test needs Chromium in CI (CI=true): apt-get install -y chromium (Debian)`,
    );
    expect(output).not.toMatch(/^skipped: /m);
  });
});
