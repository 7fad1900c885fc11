import { defineCommand, EXIT, runCommand } from './local/cli';

/**
 * `npm run lambda:native`: the command-line face of infra/scripts/fetch-lambda-native.ts (which does the work, and
 * which CDK's side of the repository owns): `--help`, and the exit codes every command shares.
 */

const LAMBDA_NATIVE = defineCommand({
  name: 'lambda:native',
  synopsis: '',
  summary:
    'Fetches the linux-arm64 LanceDB binary the Lambdas need (npm ci skips it on any other platform) into\n' +
    '.lambda-native/, at the version and sha512 package-lock.json pins, so that cdk synth can stay offline. A\n' +
    'download of 59 MB, whose binary unpacks to 142.3 MB; does nothing when the right version is already there.',
  options: {},
  examples: ['npm run lambda:native'],
  exitCodes: {
    0: 'the binary is in .lambda-native/',
    1: 'it could not be fetched or did not match the lockfile (the message says which)',
    2: 'usage error',
  },
});

runCommand(LAMBDA_NATIVE, async () => {
  // The fetch runs when its module loads, and throws on failure.
  require('../infra/scripts/fetch-lambda-native');
  return EXIT.ok;
});
