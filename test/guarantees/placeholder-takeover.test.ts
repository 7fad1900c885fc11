import { createHandler as createAckHandler } from '../../functions/ack';
import { CLAIM_STALE_MS } from '../../functions/core/ack/ack-app';
import { IN_PROGRESS_TEXTS } from '../../functions/core/i18n';
import type { EventStore } from '../../functions/core/stores/event-store';
import { DEFAULT_CHANNEL, LOCAL_BOT_USER_ID, LOCAL_TEAM_ID } from '../../scripts/local/stack';
import { functionUrlEvent, mentionPayload, signedHeaders } from '../../stand-ins/slack/slack-request';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * A delivery that takes over a dead delivery's claim finds the placeholder the dead one posted but never recorded
 * (issue 18, point 19), however long the thread: it looks in a window from the event's own ts (the placeholder
 * comes after it), page by page, at this bot's messages only. The first delivery is the production ack killed
 * right after posting its placeholder (its event store, the real one, stops answering, as in a dead Lambda); the
 * retry comes once the claim went stale, on a clock moved past it. Deliveries are signed `app_mention`s.
 */

class KilledError extends Error {
  constructor() {
    super('the ack was killed');
  }
}

/** The real event store of a Lambda killed just before it records its placeholder: nothing after that happens. */
function killedBeforeRecordingThePlaceholder(real: EventStore): EventStore {
  let killed = false;
  const alive = <T>(call: () => Promise<T>): Promise<T> =>
    killed ? Promise.reject(new KilledError()) : call();
  return {
    ...(Object.fromEntries(
      (Object.getOwnPropertyNames(Object.getPrototypeOf(real)) as Array<keyof EventStore>)
        .filter((name) => (name as string) !== 'constructor')
        .map((name) => [
          name,
          (...args: unknown[]) =>
            alive(() => (real[name] as (...a: unknown[]) => Promise<unknown>).apply(real, args)),
        ]),
    ) as unknown as EventStore),
    recordPlaceholder: async () => {
      killed = true;
      throw new KilledError();
    },
  };
}

describe('a takeover reuses the placeholder its dead holder posted', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack());
  });
  afterAll(() => close());

  /**
   * A question in a thread of 250 replies; its first delivery killed after posting its placeholder, then Slack's retry
   * once the claim went stale (`lookupFails`: both tries of that retry's `conversations.replies` fail). The bot's
   * messages in the thread once every execution has ended, and the two deliveries' statuses.
   */
  async function killedThenTakenOver(lookupFails: boolean) {
    const parent = stack.slack.addMessage({
      channel: DEFAULT_CHANNEL,
      text: 'Release planning',
      user: 'U0CHAT0001',
    });
    for (let i = 0; i < 250; i++)
      stack.slack.addMessage({
        channel: DEFAULT_CHANNEL,
        text: `reply ${i}`,
        user: 'U0CHAT0001',
        thread_ts: parent.ts,
      });
    const question = stack.slack.addMessage({
      channel: DEFAULT_CHANNEL,
      text: `<@${LOCAL_BOT_USER_ID}> How do I rotate my VPN key?`,
      user: 'U0HUMAN001',
      thread_ts: parent.ts,
    });
    const body = JSON.stringify(
      mentionPayload({
        text: 'How do I rotate my VPN key?',
        ts: question.ts,
        threadTs: parent.ts,
        botUserId: LOCAL_BOT_USER_ID,
        teamId: LOCAL_TEAM_ID,
      }),
    );
    const startedAt = Date.now();
    const deliver = async (retryNum: number | undefined, offsetMs: number, eventStore: () => EventStore) => {
      const ack = await createAckHandler({ ...stack.runtime, now: () => Date.now() + offsetMs, eventStore });
      const headers = signedHeaders(stack.signingSecret, body, {
        timestampSeconds: Math.floor((startedAt + offsetMs) / 1000),
        retryNum,
      });
      return (await ack(functionUrlEvent(body, headers))).statusCode;
    };
    const real = stack.runtime.eventStore();

    const killed = await deliver(undefined, 0, () => killedBeforeRecordingThePlaceholder(real)).catch(
      () => 'killed',
    );
    if (lookupFails) stack.slack.failNext('conversations.replies', { status: 503, times: 2 });
    const takeover = await deliver(1, CLAIM_STALE_MS + 1_000, () => real);
    await stack.stepFunctions.waitForIdle();
    const fromBot = stack.slack
      .threadReplies(DEFAULT_CHANNEL, parent.ts)
      .filter((m) => m.bot_id !== undefined && !m.deleted);
    return { killed, takeover, fromBot };
  }

  it.each([
    ['in a thread of 250 replies: one answer, no second placeholder, none left searching', false],
    ['when the thread cannot be read then: a second placeholder, which the execution removes', true],
  ])('%s', async (_, lookupFails) => {
    const { killed, takeover, fromBot } = await killedThenTakenOver(lookupFails);

    expect(killed).not.toBe(200);
    expect(takeover).toBe(200);
    expect(fromBot).toHaveLength(1);
    expect(IN_PROGRESS_TEXTS).not.toContain(fromBot[0]?.text);
    expect(fromBot[0]?.text).toContain('corpvpn rotate-key');
  });
});
