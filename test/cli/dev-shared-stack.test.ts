import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DevState } from '../../scripts/local/local-store-lock';
import { ingestWorkspace } from '../support/ingest';
import { eventually, runScript, shellEnv, startScript } from '../support/run-command';

/**
 * `npm run dev` holds `.local/dynamodb` (LevelDB: one process at a time). While it runs, the other local commands
 * must use it rather than crash on that directory: `ask` sends its question to it, `ingest` keeps its manifest and
 * lock through its DynamoDB, a second `dev` says plainly that one is running. All real processes, in a workspace of
 * their own, offline on the `local` provider.
 */

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;
let dev: ReturnType<typeof startScript>;
let state: DevState;
const env = shellEnv({ LLM_PROVIDER: 'local' });

beforeAll(async () => {
  workspace = await ingestWorkspace();
  const synced = await runScript('ingest.ts', ['docs'], { cwd: workspace.root, env });
  expect(synced.code).toBe(0);
  dev = startScript('dev.ts', ['--port', '0'], { cwd: workspace.root, env });
  const file = join(workspace.root, '.local/dev.json');
  // As long as dev-first-run.test.ts gives it: on a busy machine (two suites at once) 30 s was seen not to do.
  await eventually(
    'npm run dev to start',
    () => (/Press Ctrl\+C/.test(dev.output().stdout) ? true : undefined),
    90_000,
  );
  state = JSON.parse(readFileSync(file, 'utf8')) as DevState;
}, 180_000);

afterAll(async () => {
  if (dev.exitCode === null) {
    dev.kill('SIGINT');
    await dev.exited;
  }
  await workspace.remove();
});

describe('local commands while npm run dev runs', () => {
  it('dev says where it is in .local/dev.json, readable by this user only', () => {
    expect(state).toMatchObject({
      eventsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/slack\/events$/),
      askUrl: expect.stringMatching(/\/local\/ask$/),
      transcriptUrl: expect.stringMatching(/\/transcript$/),
      dynamodbEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      signingSecret: expect.stringMatching(/^\w{16,}$/),
    });
    expect(dev.output().stdout).toContain(`Slack request URL:     ${state.eventsUrl}`);
    expect(statSync(join(workspace.root, '.local/dev.json')).mode & 0o077).toBe(0);
  });

  it('ask is answered by the running dev: the thread is in its transcript, and dev logs the request and the answer', async () => {
    // Act
    const asked = await runScript('ask.ts', ['How do I rotate my VPN key?'], { cwd: workspace.root, env });
    const followUp = await runScript(
      'ask.ts',
      [
        '--json',
        '--thread',
        /thread: (\d+\.\d+)/.exec(asked.stdout)?.[1] ?? '',
        'How often do I have to do that?',
      ],
      { cwd: workspace.root, env },
    );

    // Assert
    expect(asked.code).toBe(0);
    expect(asked.stderr).toContain(`asking the running npm run dev, pid ${state.pid}`);
    expect(asked.stdout).toContain('corpvpn rotate-key');
    expect(asked.stdout).toMatch(/execution \S+ SUCCEEDED/);
    expect(followUp.code).toBe(0);
    const answer = JSON.parse(followUp.stdout) as { answer: string; trace: { state: string }[] };
    expect(answer.trace.map((t) => t.state)).toContain('Condense question');
    expect(answer.answer).toMatch(/90 days/);
    const transcript = (await (await fetch(state.transcriptUrl)).json()) as { text: string }[];
    expect(transcript.map((m) => m.text)).toContain('<@U0LOCALBOT> How do I rotate my VPN key?');
    const lines = await eventually('the answer lines', () => {
      const logged = dev.output().stdout.split('\n');
      return logged.filter((l) => / answer to /.test(l)).length >= 2 ? logged : undefined;
    });
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\d\d:\d\d:\d\d {2}POST \/slack\/events {2}app_mention from U0HUMAN001 in C0GENERAL01 thread \d+\.\d+ {2}→ 200 in \d+ ms, started \S+$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\d\d:\d\d:\d\d {2}answer to app_mention from U0HUMAN001 in C0GENERAL01 thread \d+\.\d+ {2}SUCCEEDED in \d+\.\d s \(\S+\)$/,
      ),
    );
  });

  it('dev logs a request it refuses, with why', async () => {
    const body = JSON.stringify({
      type: 'event_callback',
      event_id: 'Ev0FORGED01',
      event: { type: 'app_mention' },
    });
    const response = await fetch(state.eventsUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Slack-Signature': 'v0=forged',
        'X-Slack-Request-Timestamp': '1',
      },
      body,
    });

    expect(response.status).toBe(401);
    await eventually('the refusal line', () =>
      /app_mention {2}→ 401 in \d+ ms, refused: the signature or timestamp is not valid/.test(
        dev.output().stdout,
      )
        ? true
        : undefined,
    );
  });

  it('ingest keeps its manifest through dev: nothing is embedded again', async () => {
    const run = await runScript('ingest.ts', ['--json', 'docs'], { cwd: workspace.root, env });

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ added: 0, unchanged: 4, embeddedChunks: 0 });
  });

  it('a second dev says that one is running, with its pid and URL, and exits 1', async () => {
    const run = await runScript('dev.ts', ['--port', '0'], { cwd: workspace.root, env });

    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd()).toBe(
      `npm run dev is already running (pid ${state.pid}, ${state.eventsUrl}); use that one, or stop it first ` +
        `(Ctrl+C in its terminal, or kill ${state.pid})`,
    );
  });

  it('a failed question prints its cause, in ask and in dev’s log', async () => {
    // Arrange: a dev whose model cannot be reached (another workspace: this one's dev is running)
    const other = await ingestWorkspace();
    expect((await runScript('ingest.ts', ['docs'], { cwd: other.root, env })).code).toBe(0);
    const unreachable = shellEnv({
      LLM_PROVIDER: 'openai',
      OPENAI_API_KEY: 'sk-local-test',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      OPENAI_MAX_RETRIES: '0',
    });
    const failing = startScript('dev.ts', ['--port', '0'], { cwd: other.root, env: unreachable });
    try {
      await eventually('the second workspace’s dev', () =>
        /Press Ctrl\+C/.test(failing.output().stdout) ? true : undefined,
      );

      // Act
      const asked = await runScript('ask.ts', ['How do I rotate my VPN key?'], { cwd: other.root, env });

      // Assert
      expect(asked.code).toBe(1);
      expect(asked.stdout).toMatch(/execution \S+ FAILED/);
      expect(asked.stderr).toMatch(/the question failed: PermanentError: Retrieve: Connection error/);
      await eventually('the failed answer line', () =>
        /answer to app_mention .* FAILED in \d+\.\d s \(\S+\): "Retrieve" caught, PermanentError: Retrieve: Connection error/.test(
          failing.output().stdout,
        )
          ? true
          : undefined,
      );
      // The log says it in that line; the apology's metric line (EMF, for CloudWatch) would only add raw JSON.
      expect(failing.output().stdout).not.toContain('{"_aws"');
    } finally {
      failing.kill('SIGINT');
      await failing.exited;
      await other.remove();
    }
  });

  it('Ctrl+C stops dev, exit 0, and removes .local/dev.json; ask then runs the stack itself', async () => {
    dev.kill('SIGINT');
    const stopped = await dev.exited;

    expect(stopped.code).toBe(0);
    expect(existsSync(join(workspace.root, '.local/dev.json'))).toBe(false);
    const asked = await runScript('ask.ts', ['How do I rotate my VPN key?'], { cwd: workspace.root, env });
    expect(asked.code).toBe(0);
    expect(asked.stderr).not.toContain('asking the running npm run dev');
    expect(asked.stdout).toContain('corpvpn rotate-key');
  });
});

describe('a dev that died without cleaning up (kill -9, a reboot)', () => {
  it('leaves a .local/dev.json that the next command sees through, removes, and runs without', async () => {
    // Arrange: the record of a dev whose process is gone
    const stale = await ingestWorkspace();
    const file = join(stale.root, '.local/dev.json');
    mkdirSync(join(stale.root, '.local'), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify({ ...state, pid: 2 ** 22 + 1, eventsUrl: 'http://127.0.0.1:9/slack/events' }),
    );
    try {
      // Act
      const asked = await runScript('ask.ts', ['How do I rotate my VPN key?'], { cwd: stale.root, env });

      // Assert: answered by a stack of its own (no documents there yet), the stale record gone
      expect(asked.code).toBe(0);
      expect(asked.stderr).not.toContain('asking the running npm run dev');
      expect(asked.stdout).toContain("I can't answer from documents yet");
      expect(existsSync(file)).toBe(false);
    } finally {
      await stale.remove();
    }
  });
});
