import { textsFor } from '../../functions/core/i18n';
import { DEFAULT_CHANNEL, LOCAL_BOT_USER_ID, LOCAL_TEAM_ID } from '../../scripts/local/stack';
import { mentionPayload } from '../../stand-ins/slack/slack-request';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * The daily question limit counts a question on the day it was asked, not the day a delivery of it reached the
 * ack (issue 18, point 20): Slack redelivers a failed delivery up to ~5 minutes later, which may be after
 * midnight. The whole local stack (ack, fake Slack, Step Functions) runs on a wall clock set just before a UTC
 * midnight (only `Date` is faked, set before the stack starts; timers run for real), so every signature and ts is what Slack would send then.
 */

const USER = 'U0DAILY001';
const REAL_TIMERS = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

describe('the daily question limit keys on the question time', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    // Before the stack starts, so that every part of it reads this clock (it moves on at the real pace).
    jest.useFakeTimers({
      now: Date.UTC(2026, 11, 4, 23, 50, 0),
      advanceTimers: true,
      doNotFake: [...REAL_TIMERS],
    });
    ({ stack, close } = await startTestStack({ env: { DAILY_QUESTION_LIMIT: '1' } }));
  });
  afterAll(async () => {
    jest.useRealTimers();
    await close();
  });

  it("a question asked before midnight and redelivered after it does not use up the next day's question", async () => {
    jest.setSystemTime(Date.UTC(2026, 11, 4, 23, 59, 58));
    const posted = stack.slack.addMessage({
      channel: DEFAULT_CHANNEL,
      text: `<@${LOCAL_BOT_USER_ID}> How do I rotate my VPN key?`,
      user: USER,
    });
    const late = JSON.stringify(
      mentionPayload({
        text: 'How do I rotate my VPN key?',
        user: USER,
        ts: posted.ts,
        botUserId: LOCAL_BOT_USER_ID,
        teamId: LOCAL_TEAM_ID,
      }),
    );
    // The first delivery counts the question, then Slack fails the placeholder post: the ack answers 500.
    stack.slack.failNext('chat.postMessage', { status: 500, times: 2 });
    const first = await stack.deliver(late);
    // Slack's last redelivery, about five minutes later: the next UTC day.
    jest.setSystemTime(Date.UTC(2026, 11, 5, 0, 4, 58));
    const redelivered = await stack.deliver(late, { retryNum: 3 });
    await stack.stepFunctions.waitForIdle();

    jest.setSystemTime(Date.UTC(2026, 11, 5, 0, 10, 0));
    const nextDay = await stack.mention({ text: 'Is MFA required?', user: USER });
    await stack.stepFunctions.waitForIdle();

    expect([first.status, redelivered.status, nextDay.status]).toEqual([500, 200, 200]);
    const replies = stack.slack
      .threadReplies(DEFAULT_CHANNEL, nextDay.threadTs)
      .filter((m) => m.bot_id !== undefined)
      .map((m) => m.text);
    expect(replies).not.toContain(textsFor('en').dailyLimit(1));
    expect(
      stack.stepFunctions.executions.filter(
        (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === nextDay.eventId,
      ),
    ).toHaveLength(1);
  });
});
