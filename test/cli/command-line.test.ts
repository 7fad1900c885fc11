import { type CommandRun, runScript } from '../support/run-command';

/**
 * The habits every command shares, as a person meets them: `--help` (usage, options, an example; exit 0), and a
 * wrong command line refused in one line that names the command and what is wrong (exit 2), before anything runs.
 */

const COMMANDS = [
  { script: 'demo.ts', name: 'demo' },
  { script: 'ask.ts', name: 'ask' },
  { script: 'dev.ts', name: 'dev' },
  { script: 'ingest.ts', name: 'ingest' },
  { script: 'bench.ts', name: 'bench' },
  { script: 'lambda-native.ts', name: 'lambda:native' },
  { script: 'feedback.ts', name: 'feedback' },
  { script: 'access.ts', name: 'access' },
];

function oneLine(run: CommandRun): string {
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0] ?? '';
}

describe('--help', () => {
  it.each(COMMANDS)(
    'npm run $name -- --help prints its usage, options, an example and exit codes',
    async ({ script, name }) => {
      const run = await runScript(script, ['--help']);

      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(new RegExp(`^usage: npm run ${name}\\b`));
      expect(run.stdout).toContain('\noptions:\n');
      expect(run.stdout).toMatch(/\n {2}-h, --help +print this help and exit\n/);
      expect(run.stdout).toMatch(new RegExp(`\\nexamples?:\\n {2}npm run ${name}\\b`));
      expect(run.stdout).toMatch(/\nexit codes:\n {2}0 +\S/);
      expect(run.stdout).toMatch(/\n {2}2 +usage error/);
    },
  );
});

describe('a wrong command line', () => {
  it('ask --thread refuses what is not a Slack ts, naming an example of one', async () => {
    const run = await runScript('ask.ts', ['--thread', 'notats', 'How often?']);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(oneLine(run)).toBe(
      'npm run ask: --thread takes the thread ts an earlier answer printed, such as 1712345678.123456, not "notats"; ' +
        'see npm run ask -- --help',
    );
  });

  it('ask --user refuses what is not a Slack user id, naming an example of one', async () => {
    const run = await runScript('ask.ts', ['--user', 'alice', 'How often?']);

    expect(run.code).toBe(2);
    expect(oneLine(run)).toBe(
      'npm run ask: --user takes a Slack user id such as U0123ABCD, not "alice"; see npm run ask -- --help',
    );
  });

  it('an unknown option is named, with the options there are, and no stray quote', async () => {
    const run = await runScript('ask.ts', ['--thred', '1712345678.123456', 'How often?']);

    expect(run.code).toBe(2);
    expect(oneLine(run)).toBe(
      'npm run ask: unknown option --thred (options: --thread, --user, --channel, --json, --help); see npm run ask -- --help',
    );
  });

  it('an option missing its value says which value', async () => {
    const run = await runScript('dev.ts', ['--port']);

    expect(run.code).toBe(2);
    expect(oneLine(run)).toBe('npm run dev: --port needs a value (--port N); see npm run dev -- --help');
  });

  it('a value out of range is refused before anything starts', async () => {
    const run = await runScript('dev.ts', ['--port', '70000']);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(oneLine(run)).toMatch(/^npm run dev: --port takes a port number from 0 to 65535, not "70000"/);
  });

  it('an empty question is refused', async () => {
    const run = await runScript('ask.ts', ['  ']);

    expect(run.code).toBe(2);
    expect(oneLine(run)).toMatch(/^npm run ask: needs a question that is not empty;/);
  });

  it('a command that needs arguments, run bare, shows its usage on stderr', async () => {
    const run = await runScript('ask.ts', []);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^usage: npm run ask -- \[--json\] \[--thread TS\] \[--user U…\] \[--channel C…\] "question"\n/,
    );
  });

  it('a command that takes no arguments refuses them', async () => {
    const run = await runScript('demo.ts', ['now']);

    expect(run.code).toBe(2);
    expect(oneLine(run)).toBe(
      'npm run demo: takes no arguments, and was given "now"; see npm run demo -- --help',
    );
  });

  it('bench --only names the sections there are', async () => {
    const run = await runScript('bench.ts', ['--only', 'ack,nope']);

    expect(run.code).toBe(2);
    expect(oneLine(run)).toMatch(/^npm run bench: unknown section\(s\): nope; sections: ack, coldStart, /);
  });
});
