import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { textsFor } from '../../functions/core/i18n';
import { threadKey, turnSortKey } from '../../functions/core/stores/keys';
import { DEFAULT_CHANNEL, LOCAL_TEAM_ID, type LocalStack } from '../../scripts/local/stack';
import { FORM_CONTENT_TYPE, feedbackClickBody } from '../../stand-ins/slack/slack-request';
import { startTestStack } from '../support/local-stack';

/**
 * A thread belongs to the person who started it, and a vote to the person who cast it (issue 18, points 12, 18
 * and 21): only the thread's asker may have it forgotten, a comment is stored only with a 👎 and outlives a later
 * click, and a click is stored only on the turn of the message and workspace that carry it, from a person the
 * bot would answer. Signed deliveries in Slack's shapes (stand-ins/slack/fixtures/); what the store holds is read
 * from DynamoDB (dynalite), what people see from the fake Slack.
 */

const ASKER = 'U0ASKER001';
const SOMEONE_ELSE = 'U0OTHER002';
const GUEST = 'U0GUEST003';

interface StoredVote {
  vote: string;
  comment?: string;
}

describe('thread ownership and votes', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    // `anyone`: the most permissive follow-up policy, where a stranger's reply without a mention is a question too.
    ({ stack, close } = await startTestStack({ env: { FOLLOW_UPS: 'anyone' } }));
    stack.slack.addUser({ id: GUEST, is_restricted: true });
  });
  afterAll(() => close());

  /** A question by `user`, answered; the thread and the answer message. */
  async function answered(text: string, user = ASKER) {
    const sent = await stack.mention({ text, user });
    await waitForExecutionOf(sent.eventId);
    const answer = stack.slack
      .threadReplies(sent.channel, sent.threadTs)
      .find((m) => m.bot_id !== undefined && (m.blocks ?? []).some((b) => isFeedbackBlock(b)));
    if (answer === undefined) throw new Error('no answer with feedback buttons');
    return { ...sent, answerTs: answer.ts };
  }

  async function waitForExecutionOf(eventId: string): Promise<void> {
    const execution = stack.stepFunctions.executions.find(
      (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === eventId,
    );
    await execution?.done;
  }

  async function storedTurn(thread: { threadTs: string; ts: string }) {
    const item = await stack.runtime.documentClient().send(
      new GetCommand({
        TableName: stack.env.CONVERSATION_TABLE,
        Key: {
          pk: threadKey({ teamId: LOCAL_TEAM_ID, channel: DEFAULT_CHANNEL, threadTs: thread.threadTs }),
          sk: turnSortKey(thread.ts),
        },
        ConsistentRead: true,
      }),
    );
    return item.Item as { record?: unknown; feedback?: Record<string, StoredVote> } | undefined;
  }

  function lastBotReply(threadTs: string): string | undefined {
    return stack.slack
      .threadReplies(DEFAULT_CHANNEL, threadTs)
      .filter((m) => m.bot_id !== undefined)
      .at(-1)?.text;
  }

  describe('forget this thread (point 12)', () => {
    it("someone else's forget, by mention or by plain reply, is politely refused and deletes nothing", async () => {
      const question = await answered('How do I rotate my VPN key?');
      await stack.clickFeedback({
        channel: question.channel,
        answerTs: question.answerTs,
        vote: 'positive',
        user: ASKER,
      });

      const byMention = await stack.mention({
        text: 'forget this thread',
        user: SOMEONE_ELSE,
        threadTs: question.threadTs,
      });
      await stack.stepFunctions.waitForIdle();
      const refusedByMention = lastBotReply(question.threadTs);
      const byReply = await stack.message({
        channelType: 'channel',
        text: 'このスレッドを忘れて',
        user: SOMEONE_ELSE,
        threadTs: question.threadTs,
      });
      await stack.stepFunctions.waitForIdle();

      expect(byMention.status).toBe(200);
      expect(byReply.status).toBe(200);
      expect(refusedByMention).toBe(textsFor('en').forgetNotYours);
      expect(lastBotReply(question.threadTs)).toBe(textsFor('ja').forgetNotYours);
      const turn = await storedTurn(question);
      expect(turn?.record).toBeDefined();
      expect(turn?.feedback?.[ASKER]?.vote).toBe('positive');
    });

    it("the asker's own forget deletes the thread's turns", async () => {
      const question = await answered('Is MFA required?');

      const forget = await stack.mention({
        text: 'forget this thread',
        user: ASKER,
        threadTs: question.threadTs,
      });
      await waitForExecutionOf(forget.eventId);

      expect(lastBotReply(question.threadTs)).toMatch(/^Done: I deleted this thread's history/);
      expect((await storedTurn(question))?.record).toBeUndefined();
    });
  });

  describe('comments (point 18)', () => {
    it('a comment from a 👎 modal submitted after the person switched to 👍 is not stored on the 👍', async () => {
      const question = await answered('How many days of annual leave do I get?');
      const click = { channel: question.channel, answerTs: question.answerTs, user: ASKER };

      await stack.clickFeedback({ ...click, vote: 'negative' });
      await stack.clickFeedback({ ...click, vote: 'positive' });
      await stack.submitComment({ comment: 'The answer quotes last year.', user: ASKER });

      expect((await storedTurn(question))?.feedback?.[ASKER]).toEqual(
        expect.objectContaining({ vote: 'positive' }),
      );
      expect((await storedTurn(question))?.feedback?.[ASKER]?.comment).toBeUndefined();
    });

    it("a 👎's comment is kept when the person clicks again, 👍 or 👎", async () => {
      const question = await answered('How do I rotate my VPN key?');
      const click = { channel: question.channel, answerTs: question.answerTs, user: ASKER };
      await stack.clickFeedback({ ...click, vote: 'negative' });
      await stack.submitComment({ comment: 'IT rotates the key now.', user: ASKER });

      await stack.clickFeedback({ ...click, vote: 'positive' });
      const afterUp = (await storedTurn(question))?.feedback?.[ASKER];
      await stack.clickFeedback({ ...click, vote: 'negative' });
      const afterDownAgain = (await storedTurn(question))?.feedback?.[ASKER];

      expect(afterUp).toEqual(
        expect.objectContaining({ vote: 'positive', comment: 'IT rotates the key now.' }),
      );
      expect(afterDownAgain).toEqual(
        expect.objectContaining({ vote: 'negative', comment: 'IT rotates the key now.' }),
      );
    });
  });

  describe('clicks checked against what carries them (point 21)', () => {
    it('a guest clicking 👍 is refused politely and nothing is stored', async () => {
      const question = await answered('Is MFA required?');

      const clicked = await stack.clickFeedback({
        channel: question.channel,
        answerTs: question.answerTs,
        vote: 'positive',
        user: GUEST,
      });

      expect(clicked.status).toBe(200);
      expect((await storedTurn(question))?.feedback?.[GUEST]).toBeUndefined();
      expect(stack.slack.ephemerals().at(-1)).toEqual(
        expect.objectContaining({ user: GUEST, text: textsFor('en').guestsNotAllowed }),
      );
    });

    it("a click whose button names another thread's turn than the message carrying it stores nothing", async () => {
      const voted = await answered('How do I rotate my VPN key?');
      const carrier = await answered('How many days of annual leave do I get?');
      const buttons =
        stack.slack.messages(DEFAULT_CHANNEL).find((m) => m.ts === voted.answerTs)?.blocks ?? [];
      const value = feedbackValueOf(buttons, 'positive');

      const forged = await stack.deliver(
        feedbackClickBody({
          value,
          channel: DEFAULT_CHANNEL,
          messageTs: carrier.answerTs,
          threadTs: carrier.threadTs,
          user: SOMEONE_ELSE,
        }),
        { contentType: FORM_CONTENT_TYPE },
      );

      expect(forged.status).toBe(200);
      expect((await storedTurn(voted))?.feedback?.[SOMEONE_ELSE]).toBeUndefined();
      expect((await storedTurn(carrier))?.feedback?.[SOMEONE_ELSE]).toBeUndefined();
    });
  });
});

function isFeedbackBlock(block: unknown): boolean {
  return (block as { type?: string }).type === 'context_actions';
}

function feedbackValueOf(blocks: unknown[], vote: 'positive' | 'negative'): string {
  const block = blocks.find(isFeedbackBlock) as
    | { elements: Array<Record<string, { value?: string } | undefined>> }
    | undefined;
  const value = block?.elements[0]?.[vote === 'positive' ? 'positive_button' : 'negative_button']?.value;
  if (value === undefined) throw new Error('no feedback buttons');
  return value;
}
