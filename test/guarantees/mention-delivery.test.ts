import { randomBytes } from 'node:crypto';
import mentionFixture from '../../stand-ins/slack/fixtures/app-mention.json';
import broadcastFixture from '../../stand-ins/slack/fixtures/app-mention-thread-broadcast.json';
import { signedHeaders } from '../../stand-ins/slack/slack-request';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * Deliveries the ack must neither drop nor have Slack retry in vain: a mention also sent to the channel
 * (`thread_broadcast`) is a question like any other; a Slack error no retry can fix (the channel archived, the bot
 * removed from it) is logged and answered 200, not 500.
 */

type Payload = typeof mentionFixture & { event: Record<string, unknown> };

function delivery(fixture: object): Payload {
  const payload = structuredClone(fixture) as Payload;
  const ts = `${Math.floor(Date.now() / 1000)}.${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  payload.event_id = `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event.ts = ts;
  payload.event.event_ts = ts;
  return payload;
}

async function send(stack: LocalStack, payload: Payload) {
  const before = stack.stepFunctions.executions.length;
  const body = JSON.stringify(payload);
  const response = await fetch(stack.eventsUrl, {
    method: 'POST',
    headers: signedHeaders(stack.signingSecret, body),
    body,
  });
  const started = stack.stepFunctions.executions.slice(before);
  await Promise.all(started.map((e) => e.done));
  return { status: response.status, executions: started };
}

describe('mention deliveries the ack must neither drop nor have retried in vain', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({ env: { LOG_LEVEL: 'error' } }));
  });
  afterAll(() => close());

  it('a mention also sent to the channel (subtype thread_broadcast) is answered in its thread', async () => {
    const payload = delivery(broadcastFixture);

    const result = await send(stack, payload);

    expect(result.status).toBe(200);
    expect(result.executions).toHaveLength(1);
    const input = result.executions[0]?.input as { turn: { question: string; threadTs: string } } | undefined;
    const turn = { question: input?.turn.question, threadTs: input?.turn.threadTs };
    expect(turn.question).toBe('and how do I rotate the VPN key?');
    expect(turn.threadTs).toBe(broadcastFixture.event.thread_ts);
    expect(result.executions[0]?.status).toBe('SUCCEEDED');
  });

  it.each(['channel_not_found', 'not_in_channel', 'is_archived'])(
    'Slack answering %s to the placeholder: 200 (a retry cannot help), logged, nothing started',
    async (slackError) => {
      const written: string[] = [];
      const capture = (...args: unknown[]) => void written.push(args.map(String).join(' '));
      const captureWrite = (chunk: unknown): boolean => {
        written.push(String(chunk));
        return true;
      };
      const spies = [
        jest.spyOn(process.stdout, 'write').mockImplementation(captureWrite),
        jest.spyOn(process.stderr, 'write').mockImplementation(captureWrite),
        jest.spyOn(console, 'log').mockImplementation(capture),
        jest.spyOn(console, 'error').mockImplementation(capture),
      ];
      stack.slack.failNext('chat.postMessage', { error: slackError });
      const payload = delivery(mentionFixture);

      const result = await send(stack, payload).finally(() => {
        for (const spy of spies) spy.mockRestore();
      });

      expect(result).toEqual({ status: 200, executions: [] });
      const logged = written.find((line) => line.includes(payload.event_id)) ?? '';
      expect(logged).toContain(slackError);
      expect(logged).toContain('ERROR');
    },
  );

  it('a transient Slack failure still answers 500, so that Slack retries', async () => {
    stack.slack.failNext('chat.postMessage', { status: 503, times: 3 });

    const result = await send(stack, delivery(mentionFixture));

    expect(result.status).toBe(500);
  });
});
