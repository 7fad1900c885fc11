import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEvalSet, readEvalSet } from '../../scripts/eval/dataset';
import { exportFeedback, toEvalSet } from '../../scripts/feedback/export';
import { DEFAULT_USER, type LocalStack, type SentMention, startLocalStack } from '../../scripts/local/stack';
import { indexSampleDocuments, temporaryDirectory } from '../support/local-stack';
import { eventually, runScript, shellEnv, startScript } from '../support/run-command';

/**
 * Feedback export (issue 13, point 4) on the local stack: people ask, vote 👍 / 👎 (with a comment) under the answers
 * through signed Slack interactions, and `npm run feedback -- export` turns the voted turns in the conversation table
 * (.local/dynamodb, as `npm run ask` keeps it) into an eval set that `npm run eval` reads and runs. On the way, the
 * usage metrics the dashboard reads are captured as the functions write them (EMF lines on stdout).
 */

const OTHER_USER = 'U0OTHER002';

interface Emitted {
  name: string;
  value: unknown;
  dimensions: Record<string, string>;
}

describe('npm run feedback -- export (local stack)', () => {
  let dir: { path: string; remove(): Promise<void> };
  let stack: LocalStack;
  const emitted: Emitted[] = [];
  let vpn: SentMention;
  let followUp: SentMention;
  let mfa: SentMention;
  let unvoted: SentMention;
  let sinceSecondRound: string;

  async function answered(sent: SentMention): Promise<string> {
    const execution = stack.stepFunctions.executions.find(
      (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
    );
    await execution?.done;
    expect(execution?.status).toBe('SUCCEEDED');
    const answer = stack.slack
      .threadReplies(sent.channel, sent.threadTs)
      .find((m) => m.bot_id !== undefined && m.ts > sent.ts);
    expect(answer).toBeDefined();
    return answer?.ts ?? '';
  }

  async function vote(sent: SentMention, choice: 'positive' | 'negative', user = DEFAULT_USER) {
    const response = await stack.clickFeedback({
      channel: sent.channel,
      answerTs: await answered(sent),
      vote: choice,
      user,
    });
    expect(response.status).toBe(200);
  }

  beforeAll(async () => {
    dir = await temporaryDirectory('slack-rag-feedback-');
    const env = { LLM_PROVIDER: 'local' };
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      for (const line of String(chunk).split('\n')) {
        if (!line.startsWith('{"_aws"')) continue;
        const emf = JSON.parse(line) as {
          _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
        } & Record<string, unknown>;
        for (const directive of emf._aws.CloudWatchMetrics) {
          for (const metric of directive.Metrics) {
            for (const set of directive.Dimensions) {
              emitted.push({
                name: metric.Name,
                value: emf[metric.Name],
                dimensions: Object.fromEntries(set.map((d) => [d, String(emf[d])])),
              });
            }
          }
        }
      }
      return true;
    });
    try {
      // A sync through the ingest state machine, whose Report counts it.
      await indexSampleDocuments(join(dir.path, 'lancedb'), env);
      // The store `npm run ask` keeps, in a directory of the test's own, so the command can read it afterwards.
      stack = await startLocalStack({
        lancedbUri: join(dir.path, 'lancedb'),
        dynamoPath: join(dir.path, '.local', 'dynamodb'),
        env,
        retryIntervalMs: 20,
      });
      vpn = await stack.mention({ text: 'How do I rotate my VPN key?' });
      await vote(vpn, 'positive');
      sinceSecondRound = new Date(Date.now() + 1).toISOString();
      await new Promise((resolve) => setTimeout(resolve, 20));
      followUp = await stack.mention({ text: 'How often do I have to do that?', threadTs: vpn.threadTs });
      await vote(followUp, 'negative');
      const comment = await stack.submitComment({ comment: 'It says nothing about the 7-day warning.' });
      expect(comment.status).toBe(200);
      mfa = await stack.mention({ text: 'Is MFA required?', user: OTHER_USER });
      await vote(mfa, 'positive', OTHER_USER);
      await vote(mfa, 'negative', DEFAULT_USER);
      unvoted = await stack.mention({ text: 'How do I submit an expense claim?' });
      await answered(unvoted);
    } finally {
      write.mockRestore();
    }
  }, 120_000);

  let closed = false;
  afterAll(async () => {
    if (!closed) await stack?.close();
    await dir?.remove();
  });

  it('makes every voted turn an eval line: voted right with its sources and answer, voted wrong with none', async () => {
    const { turns } = await exportFeedback(
      stack.runtime.documentClient(),
      stack.env.CONVERSATION_TABLE as string,
    );

    expect(turns.map((t) => [t.line.question, t.verdict])).toEqual([
      ['How do I rotate my VPN key?', 'positive'],
      ['How often do I have to do that?', 'negative'],
      ['Is MFA required?', 'negative'],
    ]);
    const [right, wrong, mixed] = turns;
    // 👍: the sections the answer listed are the expected sources, the answer the reference.
    expect(right?.line.sources.length).toBeGreaterThan(0);
    expect(right?.line.sources.every((s) => /vpn-guide\.md#/.test(s))).toBe(true);
    expect(right?.line.reference).toContain('corpvpn rotate-key');
    expect(right?.line.language).toBe('en');
    expect(right?.line.thread).toBeUndefined();
    // 👎 on a follow-up: no expected sources (unknown), the thread's earlier turn kept so the eval condenses it.
    expect(wrong?.line.sources).toEqual([]);
    expect(wrong?.line.reference).toBeUndefined();
    expect(wrong?.line.thread).toEqual([
      { role: 'human', content: 'How do I rotate my VPN key?' },
      { role: 'ai', content: expect.stringContaining('corpvpn rotate-key') },
    ]);
    expect(wrong?.votes).toEqual([
      {
        vote: 'negative',
        at: expect.any(String),
        comment: 'It says nothing about the 7-day warning.',
        voter: expect.stringMatching(/^[0-9a-f]{16}$/),
      },
    ]);
    // One 👍 and one 👎: voted wrong, both votes kept, two different people, neither by their Slack id.
    expect(mixed?.votes.map((v) => v.vote).sort()).toEqual(['negative', 'positive']);
    expect(new Set(mixed?.votes.map((v) => v.voter)).size).toBe(2);
    expect(JSON.stringify(turns)).not.toMatch(/U0HUMAN001|U0OTHER002/);
  });

  it('with --negative, only the turns someone voted wrong; with --since, only votes from then on', async () => {
    const client = stack.runtime.documentClient();
    const table = stack.env.CONVERSATION_TABLE as string;

    const negative = await exportFeedback(client, table, { negativeOnly: true });
    const since = await exportFeedback(client, table, { since: Date.parse(sinceSecondRound) });
    const future = await exportFeedback(client, table, { since: Date.now() + 60_000 });

    expect(negative.turns.map((t) => t.line.question)).toEqual([
      'How often do I have to do that?',
      'Is MFA required?',
    ]);
    expect(since.turns.map((t) => t.line.question)).toEqual([
      'How often do I have to do that?',
      'Is MFA required?',
    ]);
    expect(future.turns).toEqual([]);
  });

  it('writes a file the eval’s own loader reads: notes with votes and comments, the lines in its format', async () => {
    const result = await exportFeedback(
      stack.runtime.documentClient(),
      stack.env.CONVERSATION_TABLE as string,
    );
    const text = toEvalSet(result, new Date('2026-12-01T00:00:00Z'));

    const questions = parseEvalSet(text, 'feedback.jsonl');

    expect(questions.map((q) => q.question)).toEqual(result.turns.map((t) => t.line.question));
    expect(questions[1]?.thread).toHaveLength(2);
    expect(questions[1]?.sources).toEqual([]);
    expect(questions[0]?.sources[0]?.path).toMatch(/vpn-guide\.md$/);
    expect(text).toContain('comments "It says nothing about the 7-day warning."');
    expect(text).toContain('votes 1 positive, 1 negative');
    expect(text).not.toMatch(/U0HUMAN001|U0OTHER002/);
  });

  it('emits what the usage dashboard reads: questions, outcomes, votes, step durations, tokens by model and the sync', () => {
    const names = (name: string) => emitted.filter((m) => m.name === name);
    expect(names('Questions')).toHaveLength(4);
    // "Is MFA required?" is not in the sample documents: the reply declines; the three others are answered.
    expect(names('Answered')).toHaveLength(3);
    expect(names('Declined')).toHaveLength(1);
    const steps = new Set(names('StepDuration').map((m) => m.dimensions.Step));
    expect([...steps].sort()).toEqual(
      ['Condense question', 'Generate and stream', 'Load history', 'Persist turn', 'Retrieve'].sort(),
    );
    for (const m of names('StepDuration')) expect(m.value).toEqual(expect.any(Number));
    const byModel = names('OutputTokens').filter((m) => m.dimensions.Model === 'local-extractive');
    const total = names('OutputTokens').filter((m) => m.dimensions.Model === undefined);
    // Generate four times, Condense once (the follow-up), each per model and in total.
    expect(byModel).toHaveLength(5);
    expect(total).toHaveLength(5);
    // Four votes stored (the ack counts each by vote): 👍 twice, 👎 twice.
    expect(
      names('Feedback')
        .map((m) => m.dimensions.Vote)
        .sort(),
    ).toEqual(['negative', 'negative', 'positive', 'positive']);
    expect(names('Syncs').map((m) => m.value)).toEqual([1]);
    expect(names('SyncFailures')).toEqual([]);
    for (const m of emitted) expect(m.dimensions.service).toBe('slack-rag-bot');
  });

  describe('the command, after the stack has closed (.local/dynamodb in its directory)', () => {
    beforeAll(async () => {
      await stack.close();
      closed = true;
    });

    it('writes --out FILE, says how many, and npm run eval runs the file', async () => {
      const out = join(dir.path, 'from-users.jsonl');

      const run = await runScript('feedback.ts', ['export', '--out', out], { cwd: dir.path });

      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        `exported 3 question(s) from .local/dynamodb: 1 voted right, 2 voted wrong to ${out}`,
      );
      expect(run.stdout).toContain(`run: npm run eval -- ${out}`);
      const questions = await readEvalSet(out);
      expect(questions.map((q) => q.question)).toEqual([
        'How do I rotate my VPN key?',
        'How often do I have to do that?',
        'Is MFA required?',
      ]);
      expect(await readFile(out, 'utf8')).not.toMatch(/U0HUMAN001|U0OTHER002/);

      const evaluated = await runScript('eval.ts', ['--json', out], {
        cwd: dir.path,
        env: shellEnv({ LLM_PROVIDER: 'local', LANCEDB_URI: join(dir.path, 'lancedb') }),
      });
      expect(evaluated.stderr).toBe('');
      expect(evaluated.code).toBe(0);
      const report = JSON.parse(evaluated.stdout) as {
        runs: {
          results: {
            question: string;
            followUp: boolean;
            expectedRank: number | null;
            citesExpected: boolean;
          }[];
        }[];
      };
      const results = report.runs[0]?.results ?? [];
      expect(results.map((r) => [r.question, r.followUp])).toEqual([
        ['How do I rotate my VPN key?', false],
        ['How often do I have to do that?', true],
        ['Is MFA required?', false],
      ]);
      // The question voted right finds and cites the sources its answer listed, as when it was asked.
      expect(results[0]).toMatchObject({ expectedRank: 1, citesExpected: true });
    }, 120_000);

    it('--negative --json prints one JSON object with the hashed votes', async () => {
      const run = await runScript('feedback.ts', ['export', '--negative', '--json'], { cwd: dir.path });

      expect(run.code).toBe(0);
      const printed = JSON.parse(run.stdout) as {
        exported: number;
        positive: number;
        negative: number;
        questions: { question: string; verdict: string; votes: { voter: string }[] }[];
      };
      expect(printed).toMatchObject({ exported: 2, positive: 0, negative: 2 });
      expect(printed.questions.map((q) => q.verdict)).toEqual(['negative', 'negative']);
      expect(run.stdout).not.toMatch(/U0HUMAN001|U0OTHER002/);
    }, 60_000);

    it('reads through a running npm run dev, which holds .local/dynamodb, as npm run ask does', async () => {
      const env = shellEnv({ LLM_PROVIDER: 'local', LANCEDB_URI: join(dir.path, 'lancedb') });
      const dev = startScript('dev.ts', ['--port', '0'], { cwd: dir.path, env });
      try {
        await eventually(
          'npm run dev to start',
          () => (/Press Ctrl\+C/.test(dev.output().stdout) ? true : undefined),
          60_000,
        );

        const run = await runScript('feedback.ts', ['export', '--json'], { cwd: dir.path, env });

        expect(run.code).toBe(0);
        const printed = JSON.parse(run.stdout) as { source: string; exported: number };
        expect(printed.source).toMatch(/^\.local\/dynamodb, through the running npm run dev \(pid \d+\)$/);
        expect(printed.exported).toBe(3);
      } finally {
        dev.kill('SIGINT');
        await dev.exited;
      }
    }, 120_000);

    it('says what to do where there is no local history, exit 1; a wrong subcommand is a usage error, exit 2', async () => {
      const empty = await temporaryDirectory('slack-rag-feedback-empty-');
      try {
        const none = await runScript('feedback.ts', ['export'], { cwd: empty.path });
        expect(none.code).toBe(1);
        expect(none.stderr).toContain('no local conversation history: .local/dynamodb does not exist here');
        expect(none.stderr).toContain('set CONVERSATION_TABLE and AWS_REGION');

        const wrong = await runScript('feedback.ts', ['import'], { cwd: empty.path });
        expect(wrong.code).toBe(2);
        expect(wrong.stderr).toBe(
          'npm run feedback: unknown subcommand "import"; the one subcommand is export; see npm run feedback -- --help\n',
        );
      } finally {
        await empty.remove();
      }
    }, 60_000);
  });
});
