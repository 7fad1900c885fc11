import { randomBytes } from 'node:crypto';
import { GUESTS_NOT_ALLOWED, SLACK_CONNECT_NOT_ALLOWED } from '../../functions/core/ack/who-may-ask';
import mentionFixture from '../../stand-ins/slack/fixtures/app-mention.json';
import slackConnectFixture from '../../stand-ins/slack/fixtures/app-mention-slack-connect.json';
import { signedHeaders } from '../../stand-ins/slack/slack-request';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * Who may ask: deliveries for another app or workspace are refused without a word; Slack Connect users, channels
 * shared with other organisations and guests get one polite reply, no model call and no execution, unless the
 * configuration allows them. The payloads are Slack's own shapes (stand-ins/slack/fixtures/), sent signed.
 */

type Payload = typeof mentionFixture & { event: Record<string, unknown> };

/** A fresh delivery of `fixture` (new event id and ts), with `change` applied to it. */
function delivery(fixture: object, change: (payload: Payload) => void = () => {}): Payload {
  const payload = structuredClone(fixture) as Payload;
  const ts = `${Math.floor(Date.now() / 1000)}.${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  payload.event_id = `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event.ts = ts;
  payload.event.event_ts = ts;
  change(payload);
  return payload;
}

/** Sends `payload` signed, as Slack would; reports the status, the executions it started and the bot's replies. */
async function send(stack: LocalStack, payload: Payload) {
  const before = { executions: stack.stepFunctions.executions.length, calls: stack.slack.calls.length };
  const body = JSON.stringify(payload);
  const response = await fetch(stack.eventsUrl, {
    method: 'POST',
    headers: signedHeaders(stack.signingSecret, body),
    body,
  });
  const started = stack.stepFunctions.executions.slice(before.executions);
  await Promise.all(started.map((e) => e.done));
  const channel = payload.event.channel as string;
  const threadTs = (payload.event.thread_ts as string | undefined) ?? (payload.event.ts as string);
  return {
    status: response.status,
    executions: started.length,
    chatCalls: stack.slack.calls.slice(before.calls).filter((c) => c.method.startsWith('chat.')).length,
    usersInfoCalls: stack.slack.calls.slice(before.calls).filter((c) => c.method === 'users.info').length,
    replies: stack.slack
      .threadReplies(channel, threadTs)
      .filter((m) => m.bot_id !== undefined)
      .map((m) => m.text),
  };
}

describe('who may ask, by default: members of the installing workspace only', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({ indexSamples: false }));
    stack.slack.addUser({ id: 'U0GUEST001', is_restricted: true });
    stack.slack.addUser({ id: 'U0SINGLE01', is_restricted: true, is_ultra_restricted: true });
    stack.slack.addUser({ id: 'U0PARTNER02', team_id: 'T0PARTNER01' });
  });
  afterAll(() => close());

  it('a delivery for another app is refused: 200 so Slack stops, nothing runs, nothing is posted', async () => {
    const result = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.api_app_id = 'A0OTHERAPP1';
      }),
    );

    expect(result).toMatchObject({ status: 200, executions: 0, chatCalls: 0, usersInfoCalls: 0 });
  });

  it('a delivery for another workspace is refused: 200, nothing runs, nothing is posted', async () => {
    const otherTeam = delivery(mentionFixture, (p) => {
      p.team_id = 'T0OTHER001';
      p.context_team_id = 'T0OTHER001';
      p.event.team = 'T0OTHER001';
      for (const a of p.authorizations) a.team_id = 'T0OTHER001';
    });
    const otherAuthorization = delivery(mentionFixture, (p) => {
      for (const a of p.authorizations) a.team_id = 'T0OTHER001';
    });

    expect(await send(stack, otherTeam)).toMatchObject({ status: 200, executions: 0, chatCalls: 0 });
    expect(await send(stack, otherAuthorization)).toMatchObject({ status: 200, executions: 0, chatCalls: 0 });
  });

  it('a Slack Connect user in a shared channel gets one polite reply, no execution', async () => {
    const result = await send(stack, delivery(slackConnectFixture));

    expect(result).toMatchObject({ status: 200, executions: 0, chatCalls: 1, usersInfoCalls: 0 });
    expect(result.replies).toEqual([SLACK_CONNECT_NOT_ALLOWED]);
  });

  it("a member asking in a channel shared with another organisation gets the same reply: it's read there", async () => {
    const result = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.is_ext_shared_channel = true;
      }),
    );

    expect(result).toMatchObject({ status: 200, executions: 0, chatCalls: 1 });
    expect(result.replies).toEqual([SLACK_CONNECT_NOT_ALLOWED]);
  });

  it('a person whose home workspace is another one (users.info) gets the Slack Connect reply', async () => {
    const result = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.event.user = 'U0PARTNER02';
      }),
    );

    expect(result).toMatchObject({ status: 200, executions: 0, chatCalls: 1 });
    expect(result.replies).toEqual([SLACK_CONNECT_NOT_ALLOWED]);
  });

  it('multi- and single-channel guests get one polite reply, no execution', async () => {
    const multi = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.event.user = 'U0GUEST001';
      }),
    );
    const single = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.event.user = 'U0SINGLE01';
      }),
    );

    expect(multi).toMatchObject({ status: 200, executions: 0, chatCalls: 1 });
    expect(multi.replies).toEqual([GUESTS_NOT_ALLOWED]);
    expect(single).toMatchObject({ status: 200, executions: 0, chatCalls: 1 });
    expect(single.replies).toEqual([GUESTS_NOT_ALLOWED]);
  });

  it('a member is answered, and is looked up once for several questions (users.info cached)', async () => {
    const first = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.event.user = 'U0MEMBER01';
      }),
    );
    const second = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.event.user = 'U0MEMBER01';
      }),
    );

    expect(first).toMatchObject({ status: 200, executions: 1, usersInfoCalls: 1 });
    expect(second).toMatchObject({ status: 200, executions: 1, usersInfoCalls: 0 });
  });

  it('users.info failing: 500 before anything is claimed, and Slack retry gets the question answered', async () => {
    stack.slack.failNext('users.info', { status: 503 });
    const payload = delivery(mentionFixture, (p) => {
      p.event.user = 'U0MEMBER02';
    });

    const failed = await send(stack, payload);
    const retried = await send(stack, payload);

    expect(failed).toMatchObject({ status: 500, executions: 0, chatCalls: 0 });
    expect(retried).toMatchObject({ status: 200, executions: 1 });
  });
});

describe('who may ask, when the configuration allows Slack Connect and guests', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({
      indexSamples: false,
      env: { ALLOW_SLACK_CONNECT: 'true', ALLOW_GUESTS: 'true', SLACK_TEAM_ID: 'T0LOCAL001' },
    }));
    stack.slack.addUser({ id: 'U0GUEST001', is_restricted: true });
  });
  afterAll(() => close());

  it('a Slack Connect user and a guest are answered, without a users.info call', async () => {
    const partner = await send(stack, delivery(slackConnectFixture));
    const guest = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.event.user = 'U0GUEST001';
      }),
    );

    expect(partner).toMatchObject({ status: 200, executions: 1, usersInfoCalls: 0 });
    expect(guest).toMatchObject({ status: 200, executions: 1, usersInfoCalls: 0 });
  });

  it('a delivery for another workspace is still refused', async () => {
    const result = await send(
      stack,
      delivery(mentionFixture, (p) => {
        p.team_id = 'T0OTHER001';
      }),
    );

    expect(result).toMatchObject({ status: 200, executions: 0, chatCalls: 0 });
  });
});
