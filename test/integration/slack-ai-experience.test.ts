import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { generateAnswer } from '../../functions/core/conversation/generate-answer';
import { reportFailure } from '../../functions/core/conversation/steps';
import { chatModelFor } from '../../functions/core/models';
import { threadKey, turnSortKey } from '../../functions/core/stores/keys';
import type { RetrievalResult, Turn } from '../../functions/core/types';
import {
  DEFAULT_CHANNEL,
  DEFAULT_DM_CHANNEL,
  DEFAULT_USER,
  LOCAL_BOT_USER_ID,
  LOCAL_TEAM_ID,
  type LocalStack,
} from '../../scripts/local/stack';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import {
  assistantThreadStartedPayload,
  messagePayload,
  signedHeaders,
} from '../../stand-ins/slack/slack-request';
import { STILL_WORKING } from '../support/in-progress';
import { startTestStack, visibleText } from '../support/local-stack';

/**
 * Slack's AI-app experience on the local stack, through the real ASL: direct messages, follow-ups in a thread
 * without a mention, the thread status and title, the agent pane's suggested prompts, feedback buttons with
 * their clicks and comments, and the fixed texts in the asker's language. Every delivery is a signed request
 * shaped as Slack's (stand-ins/slack/fixtures/), and every Slack call is checked by the fake Slack.
 */

const OTHER_USER = 'U0OTHER002';

async function executionFor(stack: LocalStack, eventId: string): Promise<ExecutionRecord | undefined> {
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === eventId,
  );
  await execution?.done;
  return execution;
}

/** The bot's messages in a thread after `afterTs`. */
function botReplies(stack: LocalStack, channel: string, threadTs: string, afterTs: string) {
  return stack.slack.threadReplies(channel, threadTs).filter((m) => m.bot_id !== undefined && m.ts > afterTs);
}

function feedbackButtons(blocks: unknown[] | undefined) {
  return (blocks ?? []).filter((b) => (b as { type?: string }).type === 'context_actions');
}

describe('Slack AI-app experience (local stack)', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack());
  });
  afterAll(() => close());

  describe('direct messages', () => {
    it('answers a DM without a mention, in its own thread, and titles the conversation', async () => {
      const sent = await stack.message({ channelType: 'im', text: 'How do I rotate my VPN key?' });
      expect(sent.status).toBe(200);
      const execution = await executionFor(stack, sent.eventId);
      expect(execution?.status).toBe('SUCCEEDED');

      const replies = botReplies(stack, DEFAULT_DM_CHANNEL, sent.ts, sent.ts);
      expect(replies).toHaveLength(1);
      const shown = visibleText(replies[0] as never);
      expect(shown).toContain('corpvpn rotate-key');
      expect(shown).not.toMatch(STILL_WORKING);
      expect(stack.slack.titles()[`${DEFAULT_DM_CHANNEL} ${sent.ts}`]).toBe('How do I rotate my VPN key?');
    });

    it('keeps each DM thread its own history: a follow-up in one thread is condensed with that thread only', async () => {
      const first = await stack.message({ channelType: 'im', text: 'How do I rotate my VPN key?' });
      await executionFor(stack, first.eventId);
      const other = await stack.message({
        channelType: 'im',
        text: 'How many days of annual leave do I get?',
      });
      await executionFor(stack, other.eventId);

      const followUp = await stack.message({
        channelType: 'im',
        text: 'How often do I have to do that?',
        threadTs: first.ts,
      });
      const execution = await executionFor(stack, followUp.eventId);
      const output = execution?.output as { standalone?: { question: string; condensed: boolean } };
      expect(output.standalone?.condensed).toBe(true);
      expect(output.standalone?.question).toMatch(/VPN/);
      expect(output.standalone?.question).not.toMatch(/leave/i);
      // The title is the thread's first question, not the follow-up.
      expect(stack.slack.titles()[`${DEFAULT_DM_CHANNEL} ${first.ts}`]).toBe('How do I rotate my VPN key?');
      expect(stack.slack.titles()[`${DEFAULT_DM_CHANNEL} ${first.ts}`]).not.toMatch(/often/);
    });

    it('does not answer a DM twice when Slack also delivers an app_mention for it', async () => {
      const sent = await stack.message({
        channelType: 'im',
        text: `<@${LOCAL_BOT_USER_ID}> Is MFA required?`,
      });
      // Slack's app_mention for the same DM message (another event id).
      const mention = await stack.mention({
        text: 'Is MFA required?',
        channel: DEFAULT_DM_CHANNEL,
        ts: sent.ts,
      });
      expect(mention.status).toBe(200);
      await stack.stepFunctions.waitForIdle();
      expect(botReplies(stack, DEFAULT_DM_CHANNEL, sent.ts, sent.ts)).toHaveLength(1);
    });
  });

  describe('the thread status', () => {
    it('says what is happening while the question is worked on, and is cleared when the answer lands', async () => {
      const sent = await stack.mention({ text: 'What is the per diem abroad?' });
      await executionFor(stack, sent.eventId);
      const statuses = stack.slack
        .statuses()
        .filter((s) => s.channel === sent.channel && s.thread_ts === sent.threadTs)
        .map((s) => s.status);
      expect(statuses).toEqual(['is searching the documents…', 'is writing the answer…', '']);
      expect(stack.slack.currentStatus(sent.channel, sent.threadTs)).toBeUndefined();
    });
  });

  describe('follow-ups in a channel thread without a mention', () => {
    it("answers the original asker's reply in a thread the bot answered", async () => {
      const first = await stack.mention({ text: 'How do I rotate my VPN key?' });
      await executionFor(stack, first.eventId);

      const reply = await stack.message({
        channelType: 'channel',
        text: 'How often do I have to do that?',
        threadTs: first.threadTs,
      });
      const execution = await executionFor(stack, reply.eventId);
      expect(execution?.status).toBe('SUCCEEDED');
      const answers = botReplies(stack, first.channel, first.threadTs, reply.ts);
      expect(answers).toHaveLength(1);
      expect(visibleText(answers[0] as never)).toContain('every 90 days');
    });

    it("ignores someone else's reply by default, a reply that mentions a person, and a thread the bot never answered", async () => {
      const first = await stack.mention({ text: 'How do I rotate my VPN key?' });
      await executionFor(stack, first.eventId);

      const fromOther = await stack.message({
        channelType: 'channel',
        text: 'How often do I have to do that?',
        threadTs: first.threadTs,
        user: OTHER_USER,
      });
      const toSomeone = await stack.message({
        channelType: 'channel',
        text: `<@${OTHER_USER}> can you check this with IT?`,
        threadTs: first.threadTs,
      });
      const human = stack.slack.addMessage({ channel: first.channel, text: 'lunch?' });
      const unrelated = await stack.message({
        channelType: 'channel',
        text: 'What is the VPN portal?',
        threadTs: human.ts,
      });
      expect([fromOther.status, toSomeone.status, unrelated.status]).toEqual([200, 200, 200]);
      await stack.stepFunctions.waitForIdle();
      for (const sent of [fromOther, toSomeone, unrelated]) {
        expect(
          stack.stepFunctions.executions.some(
            (e) => (e.input as { turn: { eventId: string } }).turn.eventId === sent.eventId,
          ),
        ).toBe(false);
      }
      expect(botReplies(stack, first.channel, first.threadTs, fromOther.ts)).toHaveLength(0);
      expect(botReplies(stack, first.channel, human.ts, human.ts)).toHaveLength(0);
    });
  });

  describe('the agent pane', () => {
    it('shows the configured suggested prompts when a conversation starts', async () => {
      const payload = assistantThreadStartedPayload({
        channel: DEFAULT_DM_CHANNEL,
        threadTs: '1700000900.000100',
      });
      const response = await stack.deliver(JSON.stringify(payload));
      expect(response.status).toBe(200);
      const set = stack.slack.suggestedPrompts().at(-1);
      expect(set?.channel_id).toBe(DEFAULT_DM_CHANNEL);
      expect(set?.thread_ts).toBe('1700000900.000100');
      expect(set?.prompts.length).toBeGreaterThan(0);
      expect(set?.prompts.length).toBeLessThanOrEqual(4);
      expect(set?.prompts[0]).toEqual({
        title: 'What can you answer?',
        message: 'What kinds of questions can you answer from our documents?',
      });
    });
  });

  describe('feedback', () => {
    it('puts 👍 / 👎 under every final answer and stores a click with the turn, the second replacing the first', async () => {
      const sent = await stack.mention({ text: 'How do I rotate my VPN key?' });
      await executionFor(stack, sent.eventId);
      const [answer] = botReplies(stack, sent.channel, sent.threadTs, sent.ts);
      expect(feedbackButtons(answer?.blocks)).toHaveLength(1);

      const up = await stack.clickFeedback({
        channel: sent.channel,
        answerTs: answer?.ts ?? '',
        vote: 'positive',
      });
      expect(up.status).toBe(200);
      expect(stack.slack.ephemerals().at(-1)?.text).toBe('Thanks for the feedback: glad it helped.');

      const down = await stack.clickFeedback({
        channel: sent.channel,
        answerTs: answer?.ts ?? '',
        vote: 'negative',
      });
      expect(down.status).toBe(200);
      // A negative vote offers a comment in a modal.
      expect(stack.slack.views().at(-1)?.view.callback_id).toBe('answer_feedback_comment');
      const comment = await stack.submitComment({ comment: 'The key is rotated by IT now.' });
      expect(comment.status).toBe(200);

      const item = await stack.runtime.documentClient().send(
        new GetCommand({
          TableName: stack.env.CONVERSATION_TABLE,
          Key: {
            pk: threadKey({ teamId: LOCAL_TEAM_ID, channel: sent.channel, threadTs: sent.threadTs }),
            sk: turnSortKey(sent.ts),
          },
        }),
      );
      const feedback = item.Item?.feedback as Record<string, { vote: string; comment?: string }>;
      expect(Object.keys(feedback)).toEqual(['U0HUMAN001']);
      expect(feedback.U0HUMAN001).toMatchObject({
        vote: 'negative',
        comment: 'The key is rotated by IT now.',
      });
    });

    it('changes nothing when the same click is delivered again', async () => {
      const sent = await stack.mention({ text: 'Is MFA required?' });
      await executionFor(stack, sent.eventId);
      const [answer] = botReplies(stack, sent.channel, sent.threadTs, sent.ts);
      const click = {
        channel: sent.channel,
        answerTs: answer?.ts ?? '',
        vote: 'negative' as const,
        actionTs: '1800000000.000001',
      };
      await stack.clickFeedback(click);
      const views = stack.slack.views().length;
      const ephemerals = stack.slack.ephemerals().length;
      await stack.clickFeedback(click);
      expect(stack.slack.views()).toHaveLength(views);
      expect(stack.slack.ephemerals()).toHaveLength(ephemerals);
    });

    it('stores nothing for an answer whose thread was forgotten, and says so', async () => {
      const sent = await stack.mention({ text: 'How do I rotate my VPN key?' });
      await executionFor(stack, sent.eventId);
      const [answer] = botReplies(stack, sent.channel, sent.threadTs, sent.ts);
      const forget = await stack.mention({ text: 'forget this thread', threadTs: sent.threadTs });
      await executionFor(stack, forget.eventId);

      await stack.clickFeedback({ channel: sent.channel, answerTs: answer?.ts ?? '', vote: 'positive' });
      expect(stack.slack.ephemerals().at(-1)?.text).toMatch(/no longer stored/);
    });
  });

  describe("the asker's language", () => {
    it('answers a Japanese question with Japanese fixed texts: placeholder, status, sources label, feedback labels', async () => {
      const sent = await stack.mention({ text: 'VPNの鍵はどうやって更新しますか？' });
      await executionFor(stack, sent.eventId);
      const [answer] = botReplies(stack, sent.channel, sent.threadTs, sent.ts);
      const shown = visibleText(answer as never);
      expect(shown).toContain('local-extractive による回答');
      expect(answer?.updates[0]?.text ?? '').not.toBe('');
      const placeholderText = stack.slack.messages(sent.channel).find((m) => m.ts === answer?.ts);
      expect(placeholderText).toBeDefined();
      expect(stack.slack.statuses().find((s) => s.thread_ts === sent.threadTs)?.status).toBe(
        'がドキュメントを検索しています…',
      );
      const [block] = feedbackButtons(answer?.blocks) as Array<{
        elements: Array<{ positive_button: { accessibility_label: string } }>;
      }>;
      expect(block?.elements[0]?.positive_button.accessibility_label).toBe('良い回答');
    });

    it('replies to an empty Japanese-free mention with the English usage hint', async () => {
      const sent = await stack.mention({ text: '' });
      expect(botReplies(stack, sent.channel, sent.threadTs, sent.ts)[0]?.text).toMatch(
        /In a channel, mention me first/,
      );
    });
  });

  describe('native streaming', () => {
    let native: LocalStack;
    let closeNative: () => Promise<void>;
    beforeAll(async () => {
      ({ stack: native, close: closeNative } = await startTestStack({
        env: { SLACK_STREAM_MODE: 'native' },
      }));
    });
    afterAll(() => closeNative());

    it('shows the search and the writing as task cards with the sections found, then the answer, then feedback', async () => {
      const sent = await native.mention({ text: 'How do I rotate my VPN key?' });
      await executionFor(native, sent.eventId);
      const replies = botReplies(native, sent.channel, sent.threadTs, sent.ts);
      expect(replies).toHaveLength(1);
      const [answer] = replies;
      expect(answer?.taskDisplayMode).toBe('plan');
      expect(answer?.tasks?.map((t) => [t.id, t.status])).toEqual([
        ['search', 'complete'],
        ['write', 'complete'],
      ]);
      expect(answer?.tasks?.[0]?.details).toContain('Rotating your VPN key');
      expect(answer?.text).toContain('corpvpn rotate-key');
      expect(feedbackButtons(answer?.blocks)).toHaveLength(1);
    });

    /** A turn whose earlier attempt of Generate started a native stream and died (a timeout, a crash). */
    async function crashedAttempt(eventId: string) {
      const slack = await native.runtime.slackClient();
      const mention = native.slack.addMessage({
        channel: DEFAULT_CHANNEL,
        text: 'How do I rotate my VPN key?',
      });
      const placeholder = await slack.chat.postMessage({
        channel: DEFAULT_CHANNEL,
        thread_ts: mention.ts,
        text: 'placeholder',
      });
      const turn: Turn = {
        intent: 'question',
        eventId,
        teamId: LOCAL_TEAM_ID,
        channel: DEFAULT_CHANNEL,
        threadTs: mention.ts,
        messageTs: mention.ts,
        user: DEFAULT_USER,
        question: 'How do I rotate my VPN key?',
        placeholderTs: placeholder.ts as string,
        lang: 'en',
        via: 'mention',
      };
      const store = native.runtime.eventStore();
      await store.claimAnswer(eventId, 'run-1', turn.placeholderTs, Date.now());
      const half = await slack.chat.startStream({
        channel: DEFAULT_CHANNEL,
        thread_ts: mention.ts,
        markdown_text: 'Half an ans',
        recipient_team_id: LOCAL_TEAM_ID,
        recipient_user_id: DEFAULT_USER,
      });
      await store.recordStream(eventId, 'run-1', half.ts as string);
      return { slack, turn, halfTs: half.ts as string };
    }

    const RETRIEVAL: RetrievalResult = {
      status: 'ok',
      search: 'vector',
      passages: [
        {
          source: 'vpn-guide.md',
          title: 'VPN guide',
          heading: 'VPN guide › Rotating your VPN key',
          text: 'To rotate it, run `corpvpn rotate-key` in a terminal and approve the push notification on your phone.',
          score: 1,
        },
      ],
    };

    it('a retry after an attempt that died mid-stream removes the half-written stream: one answer', async () => {
      const { slack, turn, halfTs } = await crashedAttempt('EvCRASHED0001');
      await generateAnswer(
        {
          slack,
          poster: await native.runtime.slackPoster(),
          model: await chatModelFor(native.runtime),
          eventStore: native.runtime.eventStore(),
          historyStore: native.runtime.historyStore(),
          streamMode: 'native',
          logger: native.runtime.logger,
          now: Date.now,
        },
        { turn, question: turn.question, retrieval: RETRIEVAL, executionName: 'x', runId: 'run-1' },
      );
      const replies = botReplies(native, turn.channel, turn.threadTs, turn.messageTs);
      expect(replies.map((m) => m.ts)).not.toContain(halfTs);
      expect(replies).toHaveLength(1);
      expect(replies[0]?.text).toContain('corpvpn rotate-key');
    });

    it("a retry after Slack refused an attempt's final edit shows the answer that attempt wrote, without asking the model again", async () => {
      // Arrange: Slack refuses every edit of the first attempt (a workspace out of chat.update calls)
      const { slack, turn } = await crashedAttempt('EvWRITTEN0001');
      const deps = {
        slack,
        poster: await native.runtime.slackPoster(),
        model: await chatModelFor(native.runtime),
        eventStore: native.runtime.eventStore(),
        historyStore: native.runtime.historyStore(),
        streamMode: 'update' as const,
        logger: native.runtime.logger,
        now: Date.now,
      };
      const input = {
        turn,
        question: turn.question,
        retrieval: RETRIEVAL,
        executionName: 'x',
        runId: 'run-1',
      };
      native.slack.failNext('chat.update', { status: 503, times: 1_000 });
      await expect(generateAnswer(deps, input)).rejects.toThrow(/Slack: update the answer message/);
      native.slack.clearFaults('chat.update');

      // Act: the step's retry, with a model whose answer would say it was asked again
      const asked = new FakeListChatModel({ responses: ['The model was asked again.'] });
      const retried = await generateAnswer({ ...deps, model: asked }, input);

      // Assert
      expect(retried.kind).toBe('answer');
      expect(retried.text).toContain('corpvpn rotate-key');
      expect(retried.text).not.toContain('asked again');
      const placeholder = native.slack.messages(turn.channel).find((m) => m.ts === turn.placeholderTs);
      expect(placeholder?.text).toContain('corpvpn rotate-key');
    });

    it('the apology after an attempt that died mid-stream removes the half-written stream too', async () => {
      const { slack, turn, halfTs } = await crashedAttempt('EvCRASHED0002');
      await reportFailure(
        {
          slack,
          eventStore: native.runtime.eventStore(),
          metrics: native.runtime.metrics(),
          logger: native.runtime.logger,
          now: Date.now,
        },
        { turn, executionName: 'exec-crashed', runId: 'run-1', error: { Error: 'States.Timeout' } },
      );
      const replies = botReplies(native, turn.channel, turn.threadTs, turn.messageTs);
      expect(replies.map((m) => m.ts)).not.toContain(halfTs);
      expect(replies).toHaveLength(1);
      expect(replies[0]?.text).toContain('exec-crashed');
    });

    it('falls back to editing the placeholder by itself when the workspace cannot stream, and remembers it', async () => {
      native.slack.failNext('chat.startStream', { error: 'not_allowed_token_type' });
      const sent = await native.mention({ text: 'How do I rotate my VPN key?' });
      const execution = await executionFor(native, sent.eventId);
      expect(execution?.status).toBe('SUCCEEDED');
      const [answer] = botReplies(native, sent.channel, sent.threadTs, sent.ts);
      expect(visibleText(answer as never)).toContain('corpvpn rotate-key');
      expect(feedbackButtons(answer?.blocks)).toHaveLength(1);

      const startsBefore = native.slack.calls.filter((c) => c.method === 'chat.startStream').length;
      const next = await native.mention({ text: 'How often do I have to rotate my VPN key?' });
      await executionFor(native, next.eventId);
      // Remembered for the workspace: the next answer does not try to stream natively.
      expect(native.slack.calls.filter((c) => c.method === 'chat.startStream')).toHaveLength(startsBefore);
      expect(visibleText(botReplies(native, next.channel, next.threadTs, next.ts)[0] as never)).toMatch(
        /90 days/,
      );
    });
  });

  describe('the daily question limit', () => {
    let limited: LocalStack;
    let closeLimited: () => Promise<void>;
    beforeAll(async () => {
      ({ stack: limited, close: closeLimited } = await startTestStack({
        env: { DAILY_QUESTION_LIMIT: '2' },
      }));
    });
    afterAll(() => closeLimited());

    it('answers a person up to the limit, counts a redelivery once, then replies politely without the workflow', async () => {
      const first = await limited.mention({ text: 'How do I rotate my VPN key?', user: 'U0LIMITED' });
      // Slack's retry of the same delivery: the same event, counted once.
      await limited.mention({
        text: 'How do I rotate my VPN key?',
        user: 'U0LIMITED',
        eventId: first.eventId,
        ts: first.ts,
        retryNum: 1,
      });
      const second = await limited.message({
        channelType: 'im',
        text: 'Is MFA required?',
        user: 'U0LIMITED',
      });
      const third = await limited.mention({
        text: 'What is the meal limit when travelling?',
        user: 'U0LIMITED',
      });
      const someoneElse = await limited.mention({
        text: 'What is the meal limit when travelling?',
        user: 'U0OTHER',
      });
      await limited.stepFunctions.waitForIdle();

      const started = (sent: { eventId: string }) =>
        limited.stepFunctions.executions.some(
          (e) => (e.input as { turn: { eventId: string } }).turn.eventId === sent.eventId,
        );
      expect([first, second, third, someoneElse].map(started)).toEqual([true, true, false, true]);
      expect(botReplies(limited, third.channel, third.threadTs, third.ts).map((m) => m.text)).toEqual([
        'You have asked 2 questions today, the daily limit your admin set. Please ask again tomorrow.',
      ]);
    });
  });

  it('answers a guest in a DM only with the polite refusal, by default', async () => {
    stack.slack.addUser({ id: 'U0GUEST', is_restricted: true });
    const sent = await stack.message({
      channelType: 'im',
      text: 'How do I rotate my VPN key?',
      user: 'U0GUEST',
    });
    await stack.stepFunctions.waitForIdle();
    const [reply] = botReplies(stack, DEFAULT_DM_CHANNEL, sent.ts, sent.ts);
    expect(reply?.text).toMatch(/I only answer full members of this workspace/);

    const inJapanese = await stack.message({
      channelType: 'im',
      text: 'VPNの鍵はどう更新しますか？',
      user: 'U0GUEST',
    });
    await stack.stepFunctions.waitForIdle();
    expect(botReplies(stack, DEFAULT_DM_CHANNEL, inJapanese.ts, inJapanese.ts)[0]?.text).toMatch(
      /ゲストの方にはお答えできません/,
    );
  });

  it('refuses a message delivery that is not signed by Slack', async () => {
    const body = JSON.stringify(messagePayload({ channelType: 'im', text: 'hello' }));
    const headers = signedHeaders('not-the-secret', body);
    const response = await fetch(stack.eventsUrl, { method: 'POST', headers, body });
    expect(response.status).toBe(401);
  });
});
