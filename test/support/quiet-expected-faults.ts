/**
 * Runs in every test file, before its tests (jest.config.js, setupFilesAfterEnv). Many tests inject faults on
 * purpose, and the product reports each one as it would in Lambda: Bolt's and the Slack client's `[ERROR]` lines
 * with their stacks, the answer streamer's `Slack: …` warnings, Powertools' JSON log lines and the EMF metric lines
 * (`{"_aws":…}`) on stdout. Printed, they bury a real failure under a hundred lines of expected ones, so they are
 * dropped; everything else a test prints is shown as usual. `TEST_LOGS=1 npx jest <file>` shows them all.
 *
 * Tests that assert on these lines replace `process.stdout.write` or `console.*` with their own spies, which see
 * every line: this only changes where an unobserved line goes.
 */

const SHOW_ALL = /^(1|true|yes)$/i.test(process.env.TEST_LOGS ?? '');

/** `[ERROR]  bolt-app …`: @slack/logger's format, used by Bolt and the Slack Web API client. */
const SLACK_LOGGER_LINE = /^\[(ERROR|WARN|INFO|DEBUG)\] /;
/** The answer streamer's own warnings (functions/core/slack/answer-streamer.ts), each about a Slack call it survives. */
const STREAMER_WARNING = /^Slack: /;

/** Whether a line is one of the product's machine-readable lines: an EMF metric or a Powertools log entry. */
function isProductJsonLine(line: string): boolean {
  if (!line.startsWith('{"')) return false;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    return '_aws' in entry || ('level' in entry && 'service' in entry && 'timestamp' in entry);
  } catch {
    return false;
  }
}

function isExpectedConsoleOutput(args: unknown[]): boolean {
  const [first] = args;
  if (typeof first !== 'string') return false;
  return SLACK_LOGGER_LINE.test(first) || STREAMER_WARNING.test(first) || isProductJsonLine(first);
}

function quietWrites(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text =
      typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
    const lines = text?.split('\n').filter((line) => line !== '') ?? [];
    if (lines.length > 0 && lines.every(isProductJsonLine)) {
      const done = rest.find((arg): arg is () => void => typeof arg === 'function');
      done?.();
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

/**
 * Bolt, the Slack client and the streamer report through console.error and console.warn; log and info are left
 * alone (tests print their measurements with them), so their lines keep pointing at the test that printed them.
 */
function quietConsole(level: 'error' | 'warn'): void {
  const original = console[level];
  console[level] = (...args: unknown[]) => {
    if (isExpectedConsoleOutput(args)) return;
    original.apply(console, args);
    // Jest's buffered console (npm test) records where a line came from: that is the caller, not this wrapper.
    const buffer = (console as unknown as { _buffer?: { origin: string }[] })._buffer;
    const entry = buffer?.[buffer.length - 1];
    if (entry !== undefined) {
      entry.origin = entry.origin
        .split('\n')
        .filter((frame) => !frame.includes('quiet-expected-faults'))
        .join('\n');
    }
  };
}

if (!SHOW_ALL) {
  quietWrites(process.stdout);
  quietWrites(process.stderr);
  quietConsole('error');
  quietConsole('warn');
}
