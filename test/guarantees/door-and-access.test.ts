import { NOT_ENABLED_HERE, TEXT_ONLY } from '../../functions/core/ack/ack-app';
import { askThroughSlack } from '../../scripts/local/ask-client';
import { LOCAL_BOT_USER_ID } from '../../scripts/local/stack';
import { mentionPayload, signedHeaders } from '../../stand-ins/slack/slack-request';
import { type LocalStack, startTestStack } from '../support/local-stack';

const GENERAL = 'C0GENERAL01';
const FINANCE = 'C0FINANCE01';

describe('bad input at the door', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({ env: { MAX_QUESTION_CHARS: '60' } }));
  });
  afterAll(() => close());

  /** Posts `body` with `headers`; returns the status and whether anything ran downstream. */
  async function knock(body: string, headers: Record<string, string>) {
    const before = { executions: stack.stepFunctions.executions.length, calls: stack.slack.calls.length };
    const response = await fetch(stack.eventsUrl, { method: 'POST', headers, body });
    return {
      status: response.status,
      executions: stack.stepFunctions.executions.length - before.executions,
      slackCalls: stack.slack.calls.slice(before.calls).filter((c) => c.method.startsWith('chat.')).length,
    };
  }

  const mention = () =>
    JSON.stringify(mentionPayload({ text: 'How do I rotate my VPN key?', botUserId: LOCAL_BOT_USER_ID }));

  it('a signed body that is neither JSON nor form data: 400, nothing runs', async () => {
    const body = 'this is { not json';
    expect(await knock(body, signedHeaders(stack.signingSecret, body))).toEqual({
      status: 400,
      executions: 0,
      slackCalls: 0,
    });
  });

  it('missing Slack headers: 401, nothing runs', async () => {
    const body = mention();
    const { 'X-Slack-Signature': _dropped, ...headers } = signedHeaders(stack.signingSecret, body);
    expect(await knock(body, headers)).toEqual({ status: 401, executions: 0, slackCalls: 0 });
  });

  it('a duplicated signature header: 401, nothing runs', async () => {
    const body = mention();
    const headers = new Headers(signedHeaders(stack.signingSecret, body));
    headers.append('X-Slack-Signature', 'v0=0000');
    const response = await fetch(stack.eventsUrl, { method: 'POST', headers, body });
    expect(response.status).toBe(401);
  });

  it('an oversized body: 413, nothing runs', async () => {
    const body = JSON.stringify({ ...JSON.parse(mention()), padding: 'x'.repeat(600 * 1024) });
    expect(await knock(body, signedHeaders(stack.signingSecret, body))).toEqual({
      status: 413,
      executions: 0,
      slackCalls: 0,
    });
  });

  it('a request replayed after 5 minutes, or stamped far in the future: 401', async () => {
    const body = mention();
    const now = Math.floor(Date.now() / 1000);
    const replayed = await knock(
      body,
      signedHeaders(stack.signingSecret, body, { timestampSeconds: now - 301 }),
    );
    const future = await knock(
      body,
      signedHeaders(stack.signingSecret, body, { timestampSeconds: now + 600 }),
    );
    expect([replayed.status, future.status]).toEqual([401, 401]);
    expect(replayed.executions + future.executions + replayed.slackCalls + future.slackCalls).toBe(0);
  });

  it('an event type the app does not handle: 200 so Slack stops, and nothing runs', async () => {
    const payload = mentionPayload({ text: 'x', botUserId: LOCAL_BOT_USER_ID }) as unknown as {
      event: Record<string, unknown>;
    };
    payload.event = {
      type: 'reaction_added',
      user: 'U0HUMAN001',
      reaction: 'thumbsup',
      event_ts: '1700000000.000300',
    };
    const body = JSON.stringify(payload);
    expect(await knock(body, signedHeaders(stack.signingSecret, body))).toEqual({
      status: 200,
      executions: 0,
      slackCalls: 0,
    });
  });

  it('a mention with only a file: a clear reply, no execution', async () => {
    const payload = mentionPayload({ text: '', botUserId: LOCAL_BOT_USER_ID }) as ReturnType<
      typeof mentionPayload
    > & {
      event: { files?: unknown[] };
    };
    payload.event.files = [{ id: 'F0FILE0001', name: 'diagram.png', mimetype: 'image/png' }];
    const body = JSON.stringify(payload);

    const result = await knock(body, signedHeaders(stack.signingSecret, body));

    expect(result).toEqual({ status: 200, executions: 0, slackCalls: 1 });
    expect(stack.slack.threadReplies(payload.event.channel, payload.event.ts).at(-1)?.text).toBe(TEXT_ONLY);
  });

  it('a question over MAX_QUESTION_CHARS: a clear reply, no model call', async () => {
    const result = await askThroughSlack(
      stack,
      'Please tell me everything about the VPN and the expense policy too.',
    );

    expect(result.execution).toBeUndefined();
    expect(result.replies.map((r) => r.text)).toEqual([
      'That question is 67 characters long; please ask in at most 60.',
    ]);
  });
});

describe('access control: allowed channels and collections per channel', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({
      env: {
        ALLOWED_CHANNELS: `${GENERAL},${FINANCE}`,
        CHANNEL_COLLECTIONS: JSON.stringify({ [GENERAL]: ['it', 'people'], [FINANCE]: ['finance'] }),
      },
    }));
  });
  afterAll(() => close());

  it('politely refuses in a channel that is not enabled, and runs nothing', async () => {
    const result = await askThroughSlack(stack, 'How do I rotate my VPN key?', { channel: 'C0RANDOM001' });

    expect(result.execution).toBeUndefined();
    expect(result.replies.map((r) => r.text)).toEqual([NOT_ENABLED_HERE]);
  });

  it('never surfaces a passage from a collection mapped only to another channel', async () => {
    const inGeneral = await askThroughSlack(stack, 'How do I claim expenses and what is the meal limit?', {
      channel: GENERAL,
    });
    const inFinance = await askThroughSlack(stack, 'How do I rotate my VPN key?', { channel: FINANCE });

    const generalSources = inGeneral.retrieval?.passages.map((p) => p.source) ?? [];
    const financeSources = inFinance.retrieval?.passages.map((p) => p.source) ?? [];
    expect(generalSources.length).toBeGreaterThan(0);
    expect(generalSources).not.toContain('samples/docs/expense-policy.md');
    expect(financeSources).toEqual(financeSources.filter((s) => s === 'samples/docs/expense-policy.md'));
    expect(financeSources.length).toBeGreaterThan(0);
  });
});
