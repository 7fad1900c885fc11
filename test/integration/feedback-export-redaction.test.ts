import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readEvalSet } from '../../scripts/eval/dataset';
import { type LocalStack, type SentMention, startLocalStack } from '../../scripts/local/stack';
import { indexSampleDocuments, temporaryDirectory } from '../support/local-stack';
import { runScript } from '../support/run-command';

/**
 * Issue 18, point 16: `npm run feedback -- export` says no Slack user id leaves the table, yet questions, their
 * thread and the comments are what people wrote, mentions and e-mail addresses included. People ask with mentions
 * of colleagues (a user, an Enterprise Grid user, a channel, a user group, a mail link), then vote and comment with
 * an id and addresses typed as text; the exported file and the --json output carry none of them.
 */

const MENTIONED_USER = 'U0MENTION01';
const GRID_USER = 'W0GRIDUSR02';
const PRIVATE_CHANNEL = 'C0SECRET001';
const USER_GROUP = 'S0ITTEAM001';
const MAILED = 'jane@corp.example';
const COMMENTED = 'j.doe+vpn@mail.corp.example';
const IDENTIFYING = [MENTIONED_USER, GRID_USER, PRIVATE_CHANNEL, USER_GROUP, MAILED, COMMENTED, 'jane-doe'];

describe('npm run feedback -- export leaves mentions and e-mail addresses out', () => {
  let dir: { path: string; remove(): Promise<void> };
  let stack: LocalStack | undefined;

  async function answered(sent: SentMention): Promise<string> {
    const running = stack as LocalStack;
    const execution = running.stepFunctions.executions.find(
      (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
    );
    await execution?.done;
    expect(execution?.status).toBe('SUCCEEDED');
    const answer = running.slack
      .threadReplies(sent.channel, sent.threadTs)
      .find((m) => m.bot_id !== undefined && m.ts > sent.ts);
    return answer?.ts ?? '';
  }

  beforeAll(async () => {
    dir = await temporaryDirectory('slack-rag-feedback-redaction-');
    const env = { LLM_PROVIDER: 'local' };
    await indexSampleDocuments(join(dir.path, 'lancedb'), env);
    stack = await startLocalStack({
      lancedbUri: join(dir.path, 'lancedb'),
      dynamoPath: join(dir.path, '.local', 'dynamodb'),
      env,
      retryIntervalMs: 20,
    });
    // Arrange: the text as Slack delivers it, every kind of reference to a person or a place in it.
    const first = await stack.mention({
      text:
        `How do I rotate my VPN key? <@${MENTIONED_USER}> and <@${GRID_USER}|jane-doe> could not, ` +
        `see <#${PRIVATE_CHANNEL}> and <!subteam^${USER_GROUP}|@it-team>, or mail <mailto:${MAILED}|${MAILED}>`,
    });
    const answerTs = await answered(first);
    expect((await stack.clickFeedback({ channel: first.channel, answerTs, vote: 'positive' })).status).toBe(
      200,
    );
    const followUp = await stack.mention({
      text: `How often does @${MENTIONED_USER} have to do that?`,
      threadTs: first.threadTs,
    });
    const followUpAnswerTs = await answered(followUp);
    expect(
      (await stack.clickFeedback({ channel: followUp.channel, answerTs: followUpAnswerTs, vote: 'negative' }))
        .status,
    ).toBe(200);
    const comment = await stack.submitComment({
      comment: `Wrong for ${MENTIONED_USER}: ask ${COMMENTED} or <@${GRID_USER}>.`,
    });
    expect(comment.status).toBe(200);
    await stack.close();
    stack = undefined;
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await dir?.remove();
  });

  it('writes an eval set that keeps the questions but names no one, mentions and addresses replaced', async () => {
    const out = join(dir.path, 'from-users.jsonl');

    const run = await runScript('feedback.ts', ['export', '--out', out], { cwd: dir.path });

    expect(run.code).toBe(0);
    const written = await readFile(out, 'utf8');
    for (const identifying of IDENTIFYING) expect(written).not.toContain(identifying);
    const questions = await readEvalSet(out);
    expect(questions.map((q) => q.question)).toEqual([
      'How do I rotate my VPN key? @user and @user could not, see #channel and @it-team, or mail [email] ([email])',
      'How often does @user have to do that?',
    ]);
    // The follow-up's thread keeps the earlier question, as redacted.
    expect(questions[1]?.thread?.[0]?.content).toBe(questions[0]?.question);
    expect(written).toContain('comments "Wrong for @user: ask [email] or @user."');
  }, 60_000);

  it('prints --json with the questions, thread, answers and comments redacted the same way', async () => {
    const run = await runScript('feedback.ts', ['export', '--json'], { cwd: dir.path });

    expect(run.code).toBe(0);
    for (const identifying of IDENTIFYING) expect(run.stdout).not.toContain(identifying);
    const printed = JSON.parse(run.stdout) as {
      questions: { question: string; standaloneQuestion: string; votes: { comment?: string }[] }[];
    };
    expect(printed.questions.flatMap((q) => q.votes.map((v) => v.comment).filter(Boolean))).toEqual([
      'Wrong for @user: ask [email] or @user.',
    ]);
    expect(printed.questions[0]?.standaloneQuestion).toContain('@user');
  }, 60_000);
});
