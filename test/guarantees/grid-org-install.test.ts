import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  GUESTS_NOT_ALLOWED_IN_ORG,
  SLACK_CONNECT_NOT_ALLOWED,
  SLACK_CONNECT_NOT_ALLOWED_IN_ORG,
} from '../../functions/core/ack/who-may-ask';
import { textsFor } from '../../functions/core/i18n';
import { threadKey } from '../../functions/core/stores/keys';
import type { RetrievalResult } from '../../functions/core/types';
import {
  LOCAL_BOT_USER_ID,
  LOCAL_SISTER_TEAM_ID,
  LOCAL_TEAM_ID,
  type LocalStack,
} from '../../scripts/local/stack';
import { mentionPayload } from '../../stand-ins/slack/slack-request';
import { startTestStack } from '../support/local-stack';

/**
 * An org-wide install on Slack Enterprise Grid (issue 22, point 1): the local stack plays the organisation ORG with
 * two workspaces (LOCAL_TEAM_ID, LOCAL_SISTER_TEAM_ID) and a channel shared between them, as LOCAL_SLACK_ENTERPRISE
 * makes `npm run dev` do. The fake Slack's auth.test says `is_enterprise_install`, and the envelopes carry the
 * organisation and the workspace that delivered them. Members of either workspace are answered, one thread keeps
 * one history and one person one daily allowance whichever workspace's envelope brings the question; Slack Connect
 * people from other organisations and guests are refused as on a single workspace. Signed deliveries through the
 * real ack and the whole workflow; what the store holds is read from DynamoDB (dynalite).
 */

const ORG = 'E0LOCALORG1';
/** A channel both workspaces of the organisation see (an org-shared channel, not a Slack Connect one). */
const SHARED = 'C0ORGSHARE1';
const ALICE = 'W0ALICE0001';
/** A member of the sister workspace. */
const BOB = 'W0BOB000002';
const CAROL = 'W0CAROL0003';
/** A Slack Connect person from a workspace outside any Grid organisation. */
const STRANGER = 'U0PARTNER01';
/** A Slack Connect person from another Grid organisation. */
const OTHER_ORG_PERSON = 'W0OTHERORG1';
const GUEST = 'W0GUEST0004';
const DAVE = 'W0DAVE00005';

describe('an org-wide install on Enterprise Grid', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({
      slackEnterpriseId: ORG,
      env: { FOLLOW_UPS: 'asker', DAILY_QUESTION_LIMIT: '2' },
    }));
    stack.slack.addUser({ id: BOB, team_id: LOCAL_SISTER_TEAM_ID });
    stack.slack.addUser({ id: CAROL, team_id: LOCAL_SISTER_TEAM_ID });
    stack.slack.addUser({ id: STRANGER, team_id: 'T0PARTNER01', enterprise_id: null });
    stack.slack.addUser({ id: OTHER_ORG_PERSON, team_id: 'T0OTHERORG1', enterprise_id: 'E0OTHERORG1' });
    stack.slack.addUser({ id: GUEST, is_restricted: true });
  });
  afterAll(() => close());

  async function executionOf(eventId: string) {
    const execution = stack.stepFunctions.executions.find(
      (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === eventId,
    );
    await execution?.done;
    return execution;
  }

  function botReplies(channel: string, threadTs: string): string[] {
    return stack.slack
      .threadReplies(channel, threadTs)
      .filter((m) => m.bot_id !== undefined)
      .map((m) => m.text ?? '');
  }

  function answerWithButtons(channel: string, threadTs: string) {
    return stack.slack
      .threadReplies(channel, threadTs)
      .filter((m) => m.bot_id !== undefined)
      .find((m) => (m.blocks ?? []).some((b) => (b as { type?: string }).type === 'context_actions'));
  }

  async function storedTurns(threadTs: string) {
    const result = await stack.runtime.documentClient().send(
      new QueryCommand({
        TableName: stack.env.CONVERSATION_TABLE,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :turn)',
        ExpressionAttributeValues: {
          ':pk': threadKey({ teamId: LOCAL_TEAM_ID, enterpriseId: ORG, channel: SHARED, threadTs }),
          ':turn': 'TURN#',
        },
        ConsistentRead: true,
      }),
    );
    return (result.Items ?? []) as Array<{ feedback?: Record<string, { vote: string }> }>;
  }

  /** Sends a mention built by `mentionPayload`, changed by `change`; the executions it started and chat calls. */
  async function sendBuilt(change: (payload: ReturnType<typeof mentionPayload>) => void) {
    const payload = mentionPayload({
      text: 'How do I rotate my VPN key?',
      channel: SHARED,
      user: ALICE,
      botUserId: LOCAL_BOT_USER_ID,
      teamId: LOCAL_TEAM_ID,
      enterpriseId: ORG,
    });
    change(payload);
    const before = { executions: stack.stepFunctions.executions.length, calls: stack.slack.calls.length };
    const response = await stack.deliver(JSON.stringify(payload));
    await stack.stepFunctions.waitForIdle();
    return {
      status: response.status,
      executions: stack.stepFunctions.executions.length - before.executions,
      chatCalls: stack.slack.calls.slice(before.calls).filter((c) => c.method.startsWith('chat.')).length,
    };
  }

  it("a colleague from the sister workspace is answered in the organisation's shared channel", async () => {
    const sent = await stack.mention({
      text: 'How do I rotate my VPN key?',
      user: BOB,
      channel: SHARED,
      teamId: LOCAL_SISTER_TEAM_ID,
    });
    await executionOf(sent.eventId);

    expect(sent.status).toBe(200);
    expect(answerWithButtons(SHARED, sent.threadTs)).toBeDefined();
    expect(botReplies(SHARED, sent.threadTs)).not.toContain(SLACK_CONNECT_NOT_ALLOWED_IN_ORG);
    expect(botReplies(SHARED, sent.threadTs)).not.toContain(SLACK_CONNECT_NOT_ALLOWED);
  });

  it("one thread keeps one history when its messages arrive through either workspace's envelope", async () => {
    const first = await stack.mention({
      text: 'How do I rotate my VPN key?',
      user: ALICE,
      channel: SHARED,
      teamId: LOCAL_TEAM_ID,
    });
    await executionOf(first.eventId);
    // Alice's reply without a mention: a follow-up only if her thread is found, though this envelope is the
    // sister workspace's.
    const followUp = await stack.message({
      channelType: 'channel',
      text: 'And how often must I do it?',
      user: ALICE,
      channel: SHARED,
      threadTs: first.threadTs,
      teamId: LOCAL_SISTER_TEAM_ID,
    });
    const execution = await executionOf(followUp.eventId);

    expect(execution).toBeDefined();
    const answers = stack.slack
      .threadReplies(SHARED, first.threadTs)
      .filter((m) => m.bot_id !== undefined && (m.blocks ?? []).length > 0);
    expect(answers.length).toBeGreaterThanOrEqual(2);
    expect(await storedTurns(first.threadTs)).toHaveLength(2);
  });

  it('a vote from the sister workspace is stored on the answer it was cast on, and thanked for', async () => {
    const asked = await stack.mention({
      text: 'How do I rotate my VPN key?',
      user: DAVE,
      channel: SHARED,
      teamId: LOCAL_TEAM_ID,
    });
    await executionOf(asked.eventId);
    const answer = answerWithButtons(SHARED, asked.threadTs);
    if (answer === undefined) throw new Error('no answer with feedback buttons');

    const click = await stack.clickFeedback({
      channel: SHARED,
      answerTs: answer.ts,
      vote: 'positive',
      user: BOB,
      teamId: LOCAL_SISTER_TEAM_ID,
    });

    expect(click.status).toBe(200);
    expect(stack.slack.ephemerals().at(-1)?.text).toBe(textsFor('en').feedbackThanksPositive);
    const [turn] = await storedTurns(asked.threadTs);
    expect(turn?.feedback?.[BOB]?.vote).toBe('positive');
  });

  it('one person has one daily allowance, whichever workspace they ask from', async () => {
    const fromSister = await stack.mention({
      text: 'What is the VPN?',
      user: CAROL,
      channel: SHARED,
      teamId: LOCAL_SISTER_TEAM_ID,
    });
    await executionOf(fromSister.eventId);
    const fromHome = await stack.mention({
      text: 'What is MFA?',
      user: CAROL,
      channel: SHARED,
      teamId: LOCAL_TEAM_ID,
    });
    await executionOf(fromHome.eventId);
    const third = await stack.mention({
      text: 'And the wiki?',
      user: CAROL,
      channel: SHARED,
      teamId: LOCAL_SISTER_TEAM_ID,
    });
    await stack.stepFunctions.waitForIdle();

    expect(await executionOf(third.eventId)).toBeUndefined();
    expect(botReplies(SHARED, third.threadTs)).toEqual([textsFor('en').dailyLimit(2)]);
  });

  it('a Slack Connect stranger in a channel shared with their organisation gets the polite refusal', async () => {
    const stranger = await sendBuilt((p) => {
      (p as { is_ext_shared_channel?: boolean }).is_ext_shared_channel = true;
      p.event.user = STRANGER;
      p.event.team = 'T0PARTNER01';
    });
    const member = await sendBuilt((p) => {
      (p as { is_ext_shared_channel?: boolean }).is_ext_shared_channel = true;
    });

    expect(stranger).toMatchObject({ status: 200, executions: 0, chatCalls: 1 });
    expect(member).toMatchObject({ status: 200, executions: 0, chatCalls: 1 });
    const refusals = stack.slack
      .messages(SHARED)
      .filter((m) => m.bot_id !== undefined && m.text === SLACK_CONNECT_NOT_ALLOWED_IN_ORG);
    expect(refusals.length).toBeGreaterThanOrEqual(2);
  });

  it("people of another organisation or of no organisation, and the organisation's guests, are refused", async () => {
    const asks = [STRANGER, OTHER_ORG_PERSON, GUEST].map((user) =>
      stack.mention({ text: 'How do I rotate my VPN key?', user, channel: SHARED, teamId: LOCAL_TEAM_ID }),
    );
    const [stranger, otherOrg, guest] = await Promise.all(asks);
    await stack.stepFunctions.waitForIdle();

    for (const sent of [stranger, otherOrg, guest]) {
      expect(sent?.status).toBe(200);
      expect(await executionOf(sent?.eventId ?? '')).toBeUndefined();
    }
    expect(botReplies(SHARED, stranger?.threadTs ?? '')).toEqual([SLACK_CONNECT_NOT_ALLOWED_IN_ORG]);
    expect(botReplies(SHARED, otherOrg?.threadTs ?? '')).toEqual([SLACK_CONNECT_NOT_ALLOWED_IN_ORG]);
    expect(botReplies(SHARED, guest?.threadTs ?? '')).toEqual([GUESTS_NOT_ALLOWED_IN_ORG]);
  });

  it('a delivery for another organisation, or without one, is refused without a word', async () => {
    const otherOrg = await sendBuilt((p) => {
      (p as { enterprise_id?: string }).enterprise_id = 'E0OTHERORG1';
      (p as { context_enterprise_id: string | null }).context_enterprise_id = 'E0OTHERORG1';
      for (const a of p.authorizations) (a as { enterprise_id: string | null }).enterprise_id = 'E0OTHERORG1';
    });
    const noOrg = await sendBuilt((p) => {
      delete (p as { enterprise_id?: string }).enterprise_id;
      (p as { context_enterprise_id: string | null }).context_enterprise_id = null;
      for (const a of p.authorizations) (a as { enterprise_id: string | null }).enterprise_id = null;
    });

    expect(otherOrg).toEqual({ status: 200, executions: 0, chatCalls: 0 });
    expect(noOrg).toEqual({ status: 200, executions: 0, chatCalls: 0 });
  });
});

describe('who may read what, on an org-wide install', () => {
  const HR_GROUP = 'S0HRTEAM01';
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({
      slackEnterpriseId: ORG,
      slackUserGroups: { [HR_GROUP]: [BOB] },
      env: { COLLECTION_AUDIENCES: JSON.stringify({ people: [HR_GROUP] }) },
    }));
    stack.slack.addUser({ id: BOB, team_id: LOCAL_SISTER_TEAM_ID });
  });
  afterAll(() => close());

  async function sourcesFor(user: string, teamId: string): Promise<string[]> {
    const sent = await stack.mention({
      text: 'What does the hiring manager order before day one?',
      user,
      channel: SHARED,
      teamId,
    });
    const execution = stack.stepFunctions.executions.find(
      (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
    );
    await execution?.done;
    const output = (execution?.output ?? {}) as { retrieval?: RetrievalResult };
    return output.retrieval?.passages.map((p) => p.source) ?? [];
  }

  it("a member of a user group reads its collection from their workspace, and a colleague outside it doesn't", async () => {
    const bob = await sourcesFor(BOB, LOCAL_SISTER_TEAM_ID);
    const dave = await sourcesFor(DAVE, LOCAL_TEAM_ID);

    expect(bob).toContain('samples/docs/onboarding.md');
    expect(dave).not.toContain('samples/docs/onboarding.md');
    // The groups were listed for the workspace the question came through, as Slack requires with an org token.
    const listed = stack.slack.calls.filter((c) => c.method === 'usergroups.list');
    expect(listed.map((c) => (c.args as { team_id?: string }).team_id)).toContain(LOCAL_SISTER_TEAM_ID);
  });
});

describe('thread keys', () => {
  it('a single-workspace thread keeps its key; an org-wide install keys on the organisation', () => {
    const thread = { teamId: 'T0LOCAL001', channel: 'C0GENERAL01', threadTs: '1700000000.000100' };

    expect(threadKey(thread)).toBe('THREAD#T0LOCAL001#C0GENERAL01#1700000000.000100');
    expect(threadKey({ ...thread, enterpriseId: ORG })).toBe(
      threadKey({ ...thread, teamId: LOCAL_SISTER_TEAM_ID, enterpriseId: ORG }),
    );
    expect(threadKey({ ...thread, enterpriseId: ORG })).toBe(`THREAD#${ORG}#C0GENERAL01#1700000000.000100`);
  });
});
