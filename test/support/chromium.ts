import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The Chromium an end-to-end test drives through playwright-core (which downloads none), and what a suite does
 * when there is none. On a person's machine a missing browser is not a failure of the product: the suite is
 * skipped, its title saying why in the one line test/support/skipped-reporter.js prints. In CI (`CI=true`) the
 * browser is part of the setup (.ci/run installs Debian's), so a missing one fails the suite.
 */

/** Where Debian and others install it, when it is not on the PATH. */
const KNOWN_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/usr/bin/google-chrome',
];
const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export const CHROMIUM_INSTALL_HINT =
  'apt-get install -y chromium (Debian), or CHROMIUM_PATH=/path/to/chromium';

/** CHROMIUM_PATH when set (and only it), else the first Chromium on the PATH or where Debian installs it. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env.CHROMIUM_PATH?.trim();
  if (chosen) return existsSync(chosen) ? chosen : undefined;
  const onPath = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .flatMap((dir) => NAMES.map((name) => join(dir, name)));
  return [...onPath, ...KNOWN_PATHS].find((path) => existsSync(path));
}

/** Why no Chromium was found, in a few words. */
export function noChromiumReason(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.CHROMIUM_PATH?.trim();
  return chosen ? `CHROMIUM_PATH (${chosen}) does not exist` : 'no Chromium found';
}

/**
 * Declares the suite `title` with `body` given the browser's path; without a browser, a skipped suite whose title
 * gives the reason (or, with CI=true, a suite whose one test fails saying how to install one).
 */
export function describeWithChromium(title: string, body: (chromiumPath: string) => void): void {
  if (process.env.PLAYGROUND_BROWSER === 'skip') {
    describe.skip(`${title} (skipped: PLAYGROUND_BROWSER=skip)`, () => {
      it('is skipped', () => undefined);
    });
    return;
  }
  const chromiumPath = findChromium();
  if (chromiumPath !== undefined) {
    describe(title, () => body(chromiumPath));
    return;
  }
  const reason = noChromiumReason();
  if (process.env.CI !== 'true') {
    describe.skip(`${title} (skipped: ${reason}; ${CHROMIUM_INSTALL_HINT}; CI=true fails instead)`, () => {
      it('is skipped', () => undefined);
    });
    return;
  }
  describe(title, () => {
    it('has a Chromium to run in', () => {
      const error = new Error(
        `${reason}: this test needs Chromium in CI (CI=true): ${CHROMIUM_INSTALL_HINT}; PLAYGROUND_BROWSER=skip skips it`,
      );
      // One line, not a stack: the message says all there is to do.
      error.stack = error.message;
      throw error;
    });
  });
}
