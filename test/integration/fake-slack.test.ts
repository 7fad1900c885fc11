import { LogLevel, WebClient } from '@slack/web-api';
import { type FakeSlack, startFakeSlack } from '../../stand-ins/slack/fake-slack';

const CHANNEL = 'C0GENERAL';

let fake: FakeSlack;
let client: WebClient;

beforeEach(async () => {
  fake = await startFakeSlack({ botUserId: 'U0BOT', teamId: 'T0TEAM' });
  client = new WebClient(fake.token, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
  });
});

afterEach(async () => {
  await fake.close();
});

async function callJson(method: string, body: unknown, token = fake.token): Promise<Record<string, unknown>> {
  const response = await fetch(`${fake.apiUrl}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Record<string, unknown>;
}

describe('fake Slack', () => {
  it('answers auth.test with the bot it plays', async () => {
    // Act
    const auth = await client.auth.test();

    // Assert
    expect(auth).toMatchObject({ ok: true, user_id: 'U0BOT', team_id: 'T0TEAM' });
  });

  it('answers users.info as Slack does: a guest restricted, a Slack Connect user with their own team', async () => {
    // Arrange
    fake.addUser({ id: 'U0GUEST', is_restricted: true });
    fake.addUser({ id: 'U0SINGLE', is_ultra_restricted: true });
    fake.addUser({ id: 'U0PARTNER', team_id: 'T0PARTNER' });

    // Act
    const [member, guest, single, partner] = await Promise.all(
      ['U0MEMBER', 'U0GUEST', 'U0SINGLE', 'U0PARTNER'].map((user) => client.users.info({ user })),
    );
    const missing = await callJson('users.info', {});

    // Assert
    expect(member?.user).toMatchObject({ id: 'U0MEMBER', team_id: 'T0TEAM', is_restricted: false });
    expect(guest?.user).toMatchObject({ is_restricted: true, is_ultra_restricted: false });
    // As in Slack, a single-channel guest is restricted too.
    expect(single?.user).toMatchObject({ is_restricted: true, is_ultra_restricted: true });
    expect(partner?.user).toMatchObject({ team_id: 'T0PARTNER', is_restricted: false });
    expect(missing).toEqual({ ok: false, error: 'user_not_found' });
  });

  it('plays an org-wide install on Enterprise Grid: auth.test names the organisation, users.info its members', async () => {
    // Arrange
    const org = await startFakeSlack({ botUserId: 'U0BOT', teamId: 'T0TEAM', enterpriseId: 'E0ORG' });
    const orgClient = new WebClient(org.token, { slackApiUrl: org.apiUrl, logLevel: LogLevel.ERROR });
    org.addUser({ id: 'W0SISTER', team_id: 'T0SISTER' });
    org.addUser({ id: 'U0PARTNER', team_id: 'T0PARTNER', enterprise_id: null });

    try {
      // Act
      const auth = await orgClient.auth.test();
      const [member, sister, partner] = await Promise.all(
        ['W0MEMBER', 'W0SISTER', 'U0PARTNER'].map((user) => orgClient.users.info({ user })),
      );

      // Assert
      expect(auth).toMatchObject({ ok: true, enterprise_id: 'E0ORG', is_enterprise_install: true });
      expect(member?.user).toMatchObject({ team_id: 'T0TEAM', enterprise_user: { enterprise_id: 'E0ORG' } });
      expect(sister?.user).toMatchObject({
        team_id: 'T0SISTER',
        enterprise_user: { enterprise_id: 'E0ORG', teams: ['T0SISTER'] },
      });
      expect(partner?.user?.team_id).toBe('T0PARTNER');
      expect(partner?.user?.enterprise_user).toBeUndefined();
    } finally {
      await org.close();
    }
  });

  it('a single workspace says it is no org-wide install, and its people belong to no organisation', async () => {
    // Act
    const auth = await client.auth.test();
    const member = await client.users.info({ user: 'U0MEMBER' });

    // Assert
    expect(auth.is_enterprise_install).toBe(false);
    expect(member.user?.enterprise_user).toBeUndefined();
  });

  it('refuses a token that is not a bot token', async () => {
    // Act
    const result = await callJson('auth.test', {}, 'xoxp-user-token');

    // Assert
    expect(result).toEqual({ ok: false, error: 'invalid_auth' });
  });

  it('keeps a thread: posts with increasing ts, edits with their history, deletions', async () => {
    // Arrange
    const mention = fake.addMessage({ channel: CHANNEL, text: 'question' });

    // Act
    const first = await client.chat.postMessage({ channel: CHANNEL, thread_ts: mention.ts, text: 'Typing…' });
    const second = await client.chat.postMessage({
      channel: CHANNEL,
      thread_ts: mention.ts,
      text: 'fallback',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*answer*' } }],
    });
    await client.chat.update({ channel: CHANNEL, ts: first.ts ?? '', text: 'partial' });
    await client.chat.delete({ channel: CHANNEL, ts: first.ts ?? '' });
    const replies = await client.conversations.replies({ channel: CHANNEL, ts: mention.ts });

    // Assert
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    const [, deleted] = fake.messages(CHANNEL);
    expect(deleted).toMatchObject({ text: 'partial', deleted: true, updates: [{ text: 'partial' }] });
    expect(fake.threadReplies(CHANNEL, mention.ts).map((m) => m.text)).toEqual(['question', 'fallback']);
    expect(replies.messages?.map((m) => m.text)).toEqual(['question', 'fallback']);
    expect(replies.messages?.[1]?.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '*answer*' } },
    ]);
  });

  it('accepts JSON bodies as well as form bodies', async () => {
    // Act
    const result = await callJson('chat.postMessage', {
      channel: CHANNEL,
      text: 'hi',
      blocks: [{ type: 'divider' }],
    });

    // Assert
    expect(result).toMatchObject({ ok: true, channel: CHANNEL });
    expect(fake.messages(CHANNEL)[0]?.blocks).toEqual([{ type: 'divider' }]);
  });

  it('keeps blocks over a text-only edit, as Slack does, and drops them for an empty array', async () => {
    // Arrange
    const posted = await client.chat.postMessage({
      channel: CHANNEL,
      text: 'x',
      blocks: [{ type: 'divider' }],
    });
    const ts = posted.ts ?? '';

    // Act
    await client.chat.update({ channel: CHANNEL, ts, text: 'text only' });
    const kept = fake.messages(CHANNEL)[0]?.blocks;
    await client.chat.update({ channel: CHANNEL, ts, text: 'text only', blocks: [] });

    // Assert
    expect(kept).toEqual([{ type: 'divider' }]);
    expect(fake.messages(CHANNEL)[0]?.blocks).toBeUndefined();
  });

  it.each([
    ['a text over 40,000 characters', { text: 'x'.repeat(40_001) }, 'msg_too_long'],
    [
      'a section over 3,000 characters',
      { text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }] },
      'invalid_blocks',
    ],
    [
      'more than 50 blocks',
      { text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) },
      'invalid_blocks',
    ],
  ])('refuses %s', async (_what, content, error) => {
    // Act
    const result = await callJson('chat.postMessage', { channel: CHANNEL, ...content });

    // Assert
    expect(result).toMatchObject({ ok: false, error });
  });

  it('answers message_not_found for an unknown ts', async () => {
    // Act
    const result = await callJson('chat.update', { channel: CHANNEL, ts: '1.000001', text: 'x' });

    // Assert
    expect(result).toEqual({ ok: false, error: 'message_not_found' });
  });

  it('streams a message in a thread: text accumulates and the stop adds blocks', async () => {
    // Arrange
    const mention = fake.addMessage({ channel: CHANNEL, text: 'question' });

    // Act
    const started = await client.chat.startStream({
      channel: CHANNEL,
      thread_ts: mention.ts,
      markdown_text: 'Hel',
      recipient_team_id: fake.teamId,
      recipient_user_id: 'U0ASKER',
    });
    const ts = started.ts ?? '';
    await client.chat.appendStream({ channel: CHANNEL, ts, markdown_text: 'lo **world**' });
    await client.chat.stopStream({ channel: CHANNEL, ts, markdown_text: '!', blocks: [{ type: 'divider' }] });
    const late = await callJson('chat.appendStream', { channel: CHANNEL, ts, markdown_text: 'more' });

    // Assert
    const [, streamed] = fake.threadReplies(CHANNEL, mention.ts);
    expect(streamed).toMatchObject({
      text: 'Hello **world**!',
      streaming: false,
      blocks: [{ type: 'divider' }],
    });
    expect(streamed?.updates.map((update) => update.text)).toEqual(['Hello **world**', 'Hello **world**!']);
    expect(late).toEqual({ ok: false, error: 'message_not_in_streaming_state' });
  });

  it('injects a 429 with Retry-After, which WebClient waits out and retries', async () => {
    // Arrange
    const retrying = new WebClient(fake.token, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 1, minTimeout: 10, maxTimeout: 10 },
      logLevel: LogLevel.ERROR,
    });
    fake.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    const started = Date.now();

    // Act
    const posted = await retrying.chat.postMessage({ channel: CHANNEL, text: 'eventually' });

    // Assert
    expect(posted.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(fake.calls.map((call) => call.status)).toEqual([429, 200]);
  });

  it('injects ok:false errors for a number of calls', async () => {
    // Arrange
    fake.failNext('reactions.add', { error: 'ratelimited', times: 2 });
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'x' });
    const reaction = { channel: CHANNEL, timestamp: posted.ts ?? '', name: 'eyes' };

    // Act
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      outcomes.push(
        await client.reactions.add(reaction).then(
          () => 'fulfilled',
          () => 'rejected',
        ),
      );
    }

    // Assert
    expect(outcomes).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(fake.messages(CHANNEL)[0]?.reactions).toEqual(['eyes']);
  });

  it('measures how often a message is edited', async () => {
    // Arrange
    const posted = await client.chat.postMessage({ channel: CHANNEL, text: 'x' });
    const ts = posted.ts ?? '';

    // Act
    for (const text of ['a', 'b', 'c']) await client.chat.update({ channel: CHANNEL, ts, text });

    // Assert
    expect(fake.updateStats(CHANNEL, ts)).toMatchObject({ count: 3, maxPerSecond: 3 });
    expect(fake.maxUpdatesPerSecond()).toBe(3);
  });

  it('records assistant thread statuses', async () => {
    // Act
    await client.assistant.threads.setStatus({
      channel_id: CHANNEL,
      thread_ts: '1.000001',
      status: 'is thinking…',
    });

    // Assert
    expect(fake.statuses()).toMatchObject([
      { channel: CHANNEL, thread_ts: '1.000001', status: 'is thinking…' },
    ]);
  });
});

describe("fake Slack: the AI-app methods, checked as Slack's documentation states them", () => {
  it('requires the recipient to stream outside a DM, and not in one', async () => {
    const mention = fake.addMessage({ channel: CHANNEL, text: 'question' });
    const inChannel = await callJson('chat.startStream', {
      channel: CHANNEL,
      thread_ts: mention.ts,
      markdown_text: 'Hi',
    });
    const dm = fake.addMessage({ channel: 'D0DM', text: 'question' });
    const inDm = await callJson('chat.startStream', {
      channel: 'D0DM',
      thread_ts: dm.ts,
      markdown_text: 'Hi',
    });

    expect(inChannel).toMatchObject({ ok: false, error: 'invalid_arguments' });
    expect(inDm).toMatchObject({ ok: true });
  });

  it('keeps task cards by id across a stream and refuses malformed ones', async () => {
    const dm = fake.addMessage({ channel: 'D0DM', text: 'question' });
    const task = (status: string) => ({ type: 'task_update', id: 'search', title: 'Search', status });
    const started = await callJson('chat.startStream', {
      channel: 'D0DM',
      thread_ts: dm.ts,
      task_display_mode: 'plan',
      chunks: [task('in_progress')],
    });
    await callJson('chat.stopStream', { channel: 'D0DM', ts: started.ts, chunks: [task('complete')] });
    const bad = await callJson('chat.startStream', {
      channel: 'D0DM',
      thread_ts: dm.ts,
      chunks: [{ type: 'task_update', id: 'x', title: 'X', status: 'finished' }],
    });
    const longDetails = await callJson('chat.startStream', {
      channel: 'D0DM',
      thread_ts: dm.ts,
      chunks: [{ ...task('complete'), details: 'x'.repeat(257) }],
    });

    const [, streamed] = fake.threadReplies('D0DM', dm.ts);
    expect(streamed?.taskDisplayMode).toBe('plan');
    expect(streamed?.tasks).toEqual([task('complete')]);
    expect(bad).toMatchObject({ ok: false, error: 'invalid_chunks' });
    expect(longDetails).toMatchObject({ ok: false, error: 'invalid_chunks' });
  });

  it('takes 1 to 4 suggested prompts, each with a title and a message', async () => {
    const prompt = { title: 'T', message: 'M' };
    const four = await callJson('assistant.threads.setSuggestedPrompts', {
      channel_id: 'D0DM',
      prompts: [prompt, prompt, prompt, prompt],
    });
    const five = await callJson('assistant.threads.setSuggestedPrompts', {
      channel_id: 'D0DM',
      prompts: [prompt, prompt, prompt, prompt, prompt],
    });
    const untitled = await callJson('assistant.threads.setSuggestedPrompts', {
      channel_id: 'D0DM',
      prompts: [{ message: 'M' }],
    });

    expect([four.ok, five.ok, untitled.ok]).toEqual([true, false, false]);
    expect(fake.suggestedPrompts()).toHaveLength(1);
  });

  it('checks feedback buttons: plain text of at most 75 characters and a value', async () => {
    const button = (text: string) => ({ text: { type: 'plain_text', text }, value: 'v' });
    const blocks = (text: string) => [
      {
        type: 'context_actions',
        elements: [
          {
            type: 'feedback_buttons',
            action_id: 'a',
            positive_button: button(text),
            negative_button: button('👎'),
          },
        ],
      },
    ];
    const good = await callJson('chat.postMessage', {
      channel: CHANNEL,
      text: 'answer',
      blocks: blocks('👍'),
    });
    const bad = await callJson('chat.postMessage', {
      channel: CHANNEL,
      text: 'answer',
      blocks: blocks('x'.repeat(76)),
    });

    expect(good.ok).toBe(true);
    expect(bad).toMatchObject({ ok: false, error: 'invalid_blocks' });
  });

  it('opens a modal only with a trigger and a title of at most 24 characters, and records ephemerals', async () => {
    const view = (title: string) => ({
      type: 'modal',
      title: { type: 'plain_text', text: title },
      blocks: [{ type: 'divider' }],
    });
    const opened = await callJson('views.open', { trigger_id: '1.2.abc', view: view('What went wrong?') });
    const long = await callJson('views.open', { trigger_id: '1.2.abc', view: view('x'.repeat(25)) });
    const noTrigger = await callJson('views.open', { view: view('Fine') });
    await client.chat.postEphemeral({ channel: CHANNEL, user: 'U0PERSON', text: 'Thanks' });

    expect([opened.ok, long.ok, noTrigger.ok]).toEqual([true, false, false]);
    expect(fake.views()).toHaveLength(1);
    expect(fake.ephemerals()).toMatchObject([{ channel: CHANNEL, user: 'U0PERSON', text: 'Thanks' }]);
  });

  it("shows a thread's status until it is cleared or the bot posts in the thread", async () => {
    const mention = fake.addMessage({ channel: CHANNEL, text: 'question' });
    await client.assistant.threads.setStatus({
      channel_id: CHANNEL,
      thread_ts: mention.ts,
      status: 'is searching…',
    });
    const shown = fake.currentStatus(CHANNEL, mention.ts);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: mention.ts, text: 'answer' });

    expect(shown).toBe('is searching…');
    expect(fake.currentStatus(CHANNEL, mention.ts)).toBeUndefined();
  });

  it('returns message metadata from conversations.replies only when asked to', async () => {
    const mention = fake.addMessage({ channel: CHANNEL, text: 'question' });
    await client.chat.postMessage({
      channel: CHANNEL,
      thread_ts: mention.ts,
      text: 'placeholder',
      metadata: { event_type: 'answer_placeholder', event_payload: { event_id: 'Ev1' } },
    });
    const plain = await client.conversations.replies({ channel: CHANNEL, ts: mention.ts });
    const withMetadata = await client.conversations.replies({
      channel: CHANNEL,
      ts: mention.ts,
      include_all_metadata: true,
    });

    expect(plain.messages?.[1]).not.toHaveProperty('metadata');
    expect(withMetadata.messages?.[1]).toMatchObject({
      metadata: { event_type: 'answer_placeholder', event_payload: { event_id: 'Ev1' } },
    });
  });
});

describe('fake Slack: user groups (usergroups.list, usergroups.users.list)', () => {
  beforeEach(async () => {
    await fake.close();
    fake = await startFakeSlack({
      botUserId: 'U0BOT',
      teamId: 'T0TEAM',
      usergroups: {
        S0HRTEAM: ['U0ALICE'],
        S0ENG: { users: ['U0BOB', 'W0CAROL'], name: 'Engineering', handle: 'eng' },
        S0OLD: { users: ['U0ALICE'], disabled: true },
      },
    });
    client = new WebClient(fake.token, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
  });

  it('lists the groups as Slack does, their members only with include_users', async () => {
    // Act
    const bare = await client.usergroups.list();
    const withUsers = await client.usergroups.list({ include_users: true });

    // Assert
    expect(bare.usergroups?.map((g) => g.id).sort()).toEqual(['S0ENG', 'S0HRTEAM']);
    const hr = bare.usergroups?.find((g) => g.id === 'S0HRTEAM');
    expect(hr).toEqual({
      id: 'S0HRTEAM',
      team_id: 'T0TEAM',
      is_usergroup: true,
      name: 'S0HRTEAM',
      description: '',
      handle: 's0hrteam',
      is_external: false,
      date_create: expect.any(Number),
      date_update: expect.any(Number),
      date_delete: 0,
      auto_type: null,
      created_by: 'USLACKBOT',
      updated_by: 'USLACKBOT',
      deleted_by: null,
      prefs: { channels: [], groups: [] },
      user_count: 1,
    });
    expect(hr).not.toHaveProperty('users');
    expect(Object.fromEntries((withUsers.usergroups ?? []).map((g) => [g.id, g.users]))).toEqual({
      S0HRTEAM: ['U0ALICE'],
      S0ENG: ['U0BOB', 'W0CAROL'],
    });
    expect(withUsers.usergroups?.find((g) => g.id === 'S0ENG')).toMatchObject({
      name: 'Engineering',
      handle: 'eng',
      user_count: 2,
    });
  });

  it('leaves disabled groups out unless include_disabled, and then shows when they were disabled', async () => {
    // Act
    const all = await client.usergroups.list({ include_disabled: true, include_users: true });
    const members = await callJson('usergroups.users.list', { usergroup: 'S0OLD' });
    const membersWithDisabled = await client.usergroups.users.list({
      usergroup: 'S0OLD',
      include_disabled: true,
    });

    // Assert
    const old = all.usergroups?.find((g) => g.id === 'S0OLD');
    expect(old?.date_delete).toBeGreaterThan(0);
    expect(old?.users).toEqual(['U0ALICE']);
    expect(all.usergroups).toHaveLength(3);
    expect(members).toEqual({ ok: false, error: 'no_such_subteam' });
    expect(membersWithDisabled.users).toEqual(['U0ALICE']);
  });

  it('lists the members of one group; an unknown group is no_such_subteam, a missing one invalid_arguments', async () => {
    // Act
    const eng = await client.usergroups.users.list({ usergroup: 'S0ENG' });
    const unknown = await callJson('usergroups.users.list', { usergroup: 'S0NOSUCH' });
    const missing = await callJson('usergroups.users.list', {});

    // Assert
    expect(eng.users).toEqual(['U0BOB', 'W0CAROL']);
    expect(unknown).toEqual({ ok: false, error: 'no_such_subteam' });
    expect(missing).toEqual({ ok: false, error: 'invalid_arguments' });
  });

  it('answers the next call with a membership changed while it runs', async () => {
    // Arrange
    const before = await client.usergroups.users.list({ usergroup: 'S0HRTEAM' });

    // Act: Alice leaves HR, Dave joins; a new group appears; then all groups are replaced.
    fake.setUserGroupMembers('S0HRTEAM', ['U0DAVE']);
    fake.setUserGroupMembers('S0NEW', ['U0ALICE']);
    const after = await client.usergroups.list({ include_users: true });
    fake.setUserGroups({ S0ONLY: [] });
    const replaced = await client.usergroups.list({ include_users: true });

    // Assert
    expect(before.users).toEqual(['U0ALICE']);
    const byId = Object.fromEntries((after.usergroups ?? []).map((g) => [g.id, g.users]));
    expect(byId).toMatchObject({ S0HRTEAM: ['U0DAVE'], S0NEW: ['U0ALICE'] });
    expect(replaced.usergroups?.map((g) => [g.id, g.users, g.user_count])).toEqual([['S0ONLY', [], 0]]);
    expect(() => fake.setUserGroupMembers('HR', ['U0ALICE'])).toThrow(/"HR" is not a user group id/);
    expect(() => fake.setUserGroupMembers('S0HR', ['alice'])).toThrow(/"alice" is not a user id/);
  });

  it('fails as a test asks, like any other method: missing_scope, then a 429 with Retry-After', async () => {
    // Arrange
    fake.failNext('usergroups.list', { error: 'missing_scope' });
    fake.failNext('usergroups.users.list', { status: 429, retryAfterSeconds: 7 });

    // Act
    const scope = await callJson('usergroups.list', { include_users: true });
    const limited = await fetch(`${fake.apiUrl}usergroups.users.list`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fake.token}` },
      body: JSON.stringify({ usergroup: 'S0HRTEAM' }),
    });
    const recovered = await client.usergroups.list({ include_users: true });

    // Assert
    expect(scope).toEqual({ ok: false, error: 'missing_scope' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await limited.json()).toEqual({ ok: false, error: 'ratelimited' });
    expect(recovered.ok).toBe(true);
  });

  it('refuses user groups that are not a map of S… ids to U…/W… ids', async () => {
    await expect(startFakeSlack({ usergroups: { S0HR: 'U0ALICE' as unknown as string[] } })).rejects.toThrow(
      /S0HR: expected a list of user ids/,
    );
  });
});

describe('fake Slack: Real-time Search (assistant.search.context, assistant.search.info)', () => {
  const searchable = {
    channels: [
      { id: 'C0PUB', name: 'general', type: 'public_channel' as const, members: ['U0ANN'] },
      { id: 'G0PRIV', name: 'secret', type: 'private_channel' as const, members: ['U0ANN'] },
      { id: 'D0ANNBEN', name: 'U0BEN', type: 'im' as const, members: ['U0ANN', 'U0BEN'] },
    ],
    messages: [
      { channel: 'C0PUB', ts: '100.000001', user: 'U0ANN', text: 'the deploy freeze is on Friday' },
      { channel: 'G0PRIV', ts: '100.000002', user: 'U0ANN', text: 'deploy freeze exception for launch' },
      { channel: 'D0ANNBEN', ts: '100.000003', user: 'U0BEN', text: 'can you deploy after the freeze?' },
    ],
  };
  const search = (token: string, channelTypes = 'public_channel,private_channel,mpim,im') =>
    client.apiCall('assistant.search.context', {
      query: 'deploy freeze',
      action_token: token,
      channel_types: channelTypes,
    });
  const channelsOf = (answer: unknown) =>
    ((answer as { results: { messages: { channel_id: string }[] } }).results.messages ?? [])
      .map((m) => m.channel_id)
      .sort();

  it('answers only what the token’s person can see: public channels for anyone, the rest for members', async () => {
    fake.setSearchable(searchable);
    expect(channelsOf(await search(fake.actionTokenFor('U0ANN')))).toEqual(['C0PUB', 'D0ANNBEN', 'G0PRIV']);
    expect(channelsOf(await search(fake.actionTokenFor('U0BEN')))).toEqual(['C0PUB', 'D0ANNBEN']);
    expect(channelsOf(await search(fake.actionTokenFor('U0CAT')))).toEqual(['C0PUB']);
  });

  it('searches only the channel types asked for (public channels by default), with permalinks', async () => {
    fake.setSearchable(searchable);
    const token = fake.actionTokenFor('U0ANN');
    expect(channelsOf(await search(token, 'im'))).toEqual(['D0ANNBEN']);
    const byDefault = await client.apiCall('assistant.search.context', {
      query: 'deploy freeze',
      action_token: token,
    });
    expect(byDefault).toMatchObject({
      ok: true,
      results: {
        messages: [
          {
            channel_id: 'C0PUB',
            message_ts: '100.000001',
            content: 'the deploy freeze is on Friday',
            permalink: 'https://fake-slack.local/archives/C0PUB/p100000001',
          },
        ],
      },
    });
  });

  it('refuses a call without an action_token, or with one it did not issue', async () => {
    fake.setSearchable(searchable);
    await expect(client.apiCall('assistant.search.context', { query: 'deploy' })).rejects.toMatchObject({
      data: { ok: false, error: 'invalid_action_token' },
    });
    await expect(search('made.up.token')).rejects.toMatchObject({ data: { error: 'invalid_action_token' } });
  });

  it('assistant.search.info says whether the workspace has the API; without it the search is refused', async () => {
    expect(await client.apiCall('assistant.search.info')).toMatchObject({
      ok: true,
      is_ai_search_enabled: true,
    });
    const without = await startFakeSlack({ aiSearchEnabled: false, searchable });
    const other = new WebClient(without.token, {
      slackApiUrl: without.apiUrl,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
    try {
      expect(await other.apiCall('assistant.search.info')).toMatchObject({ is_ai_search_enabled: false });
      await expect(
        other.apiCall('assistant.search.context', {
          query: 'deploy',
          action_token: without.actionTokenFor('U0ANN'),
        }),
      ).rejects.toMatchObject({ data: { error: 'ai_search_not_enabled' } });
    } finally {
      await without.close();
    }
  });
});

describe("fake Slack: Slack's rate limits (429 + Retry-After), on by default", () => {
  // The counts below are exact: with Slack's clock at 1/100 of real time, nothing refills while a burst is sent,
  // however slowly a busy machine sends it (at real time, Tier 3 refills one call every 1.2 s).
  beforeEach(async () => {
    await fake.close();
    fake = await startFakeSlack({ botUserId: 'U0BOT', teamId: 'T0TEAM', rateLimits: { timeScale: 100 } });
    client = new WebClient(fake.token, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
  });

  /** Calls `method` `times` times at once over raw HTTP (no client retry), returning each status and Retry-After. */
  async function burst(
    method: string,
    times: number,
    args: (i: number) => Record<string, unknown>,
    slack = fake,
  ): Promise<Array<{ status: number; retryAfter: string | null; error?: unknown }>> {
    return Promise.all(
      Array.from({ length: times }, async (_, i) => {
        const response = await fetch(`${slack.apiUrl}${method}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            authorization: `Bearer ${slack.token}`,
          },
          body: JSON.stringify(args(i)),
        });
        const body = (await response.json()) as { error?: unknown };
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          error: body.error,
        };
      }),
    );
  }

  it('chat.update: Tier 3, 50 a minute for the whole workspace, whatever the message; then 429 with Retry-After', async () => {
    // Arrange: messages in two channels.
    const posted = await Promise.all(
      [CHANNEL, 'C0OTHER'].map((channel) => client.chat.postMessage({ channel, text: 'Typing…' })),
    );

    // Act
    const results = await burst('chat.update', 60, (i) => ({
      channel: posted[i % 2]?.channel,
      ts: posted[i % 2]?.ts,
      text: `edit ${i}`,
    }));

    // Assert
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(10);
    for (const r of refused) {
      expect(r.error).toBe('ratelimited');
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(fake.rateLimited().map((c) => c.method)).toEqual(Array(10).fill('chat.update'));
  });

  it('assistant.search.context: 10 a minute for the workspace after a burst of 20; then 429 with Retry-After', async () => {
    // Arrange
    fake.setSearchable({
      channels: [{ id: 'C0PUB', name: 'general', type: 'public_channel', members: [] }],
      messages: [
        { channel: 'C0PUB', ts: '100.000001', user: 'U0ANN', text: 'the deploy freeze is on Friday' },
      ],
    });
    const token = fake.actionTokenFor('U0ANN');

    // Act
    const results = await burst('assistant.search.context', 25, () => ({
      query: 'deploy freeze',
      action_token: token,
    }));

    // Assert
    expect(results.filter((r) => r.status === 200)).toHaveLength(20);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(5);
    for (const r of refused) {
      expect(r.error).toBe('ratelimited');
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  });

  it('chat.postMessage: about one a second per channel after a short burst; another channel is not held back', async () => {
    // Act
    const busy = await burst('chat.postMessage', 40, (i) => ({ channel: CHANNEL, text: `question ${i}` }));
    const quiet = await burst('chat.postMessage', 5, (i) => ({ channel: 'C0QUIET', text: `question ${i}` }));

    // Assert
    const accepted = busy.filter((r) => r.status === 200).length;
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThan(40);
    expect(busy.filter((r) => r.status === 429).every((r) => Number(r.retryAfter) >= 1)).toBe(true);
    expect(quiet.every((r) => r.status === 200)).toBe(true);
  });

  it('chat.startStream and chat.stopStream: Tier 2 (20 a minute); chat.appendStream: Tier 4 (100 a minute)', async () => {
    // Act
    const starts = await burst('chat.startStream', 25, () => ({
      channel: 'D0DM',
      thread_ts: '1700000000.000100',
    }));
    const streamTs = String(
      (fake.messages('D0DM').find((m) => m.streaming) as { ts: string } | undefined)?.ts,
    );
    const appends = await burst('chat.appendStream', 110, () => ({
      channel: 'D0DM',
      ts: streamTs,
      markdown_text: 'x',
    }));

    // Assert
    expect(starts.filter((r) => r.status === 200)).toHaveLength(20);
    expect(appends.filter((r) => r.status === 200)).toHaveLength(100);
  });

  it('users.info: Tier 4; conversations.replies: Tier 3', async () => {
    // Arrange
    const root = fake.addMessage({ channel: CHANNEL, text: 'root' });

    // Act
    const people = await burst('users.info', 105, (i) => ({ user: `U${i}` }));
    const threads = await burst('conversations.replies', 55, () => ({ channel: CHANNEL, ts: root.ts }));

    // Assert
    expect(people.filter((r) => r.status === 200)).toHaveLength(100);
    expect(threads.filter((r) => r.status === 200)).toHaveLength(50);
  });

  it('usergroups.list and usergroups.users.list: Tier 2, the 21st call in a minute refused', async () => {
    // Arrange
    fake.setUserGroups({ S0HRTEAM: ['U0ALICE'] });

    // Act
    const lists = await burst('usergroups.list', 21, () => ({ include_users: true }));
    const members = await burst('usergroups.users.list', 21, () => ({ usergroup: 'S0HRTEAM' }));

    // Assert
    for (const results of [lists, members]) {
      expect(results.filter((r) => r.status === 200)).toHaveLength(20);
      const refused = results.filter((r) => r.status === 429);
      expect(refused).toHaveLength(1);
      expect(refused[0]?.error).toBe('ratelimited');
      expect(Number(refused[0]?.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(fake.rateLimited().map((c) => c.rateLimit)).toEqual([
      'usergroups.list per workspace (Tier 2)',
      'usergroups.users.list per workspace (Tier 2)',
    ]);
  });

  it('with a time scale, a minute of Slack lasts less and the same counts hold; Retry-After is then in real seconds', async () => {
    // Arrange: a minute of Slack in 3 seconds.
    const scaled = await startFakeSlack({ rateLimits: { timeScale: 0.05 } });
    const root = scaled.addMessage({ channel: CHANNEL, text: 'root' });
    try {
      // Act
      const started = performance.now();
      const first = await burst(
        'conversations.replies',
        55,
        () => ({ channel: CHANNEL, ts: root.ts }),
        scaled,
      );
      const burstSeconds = (performance.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const later = await burst(
        'conversations.replies',
        20,
        () => ({ channel: CHANNEL, ts: root.ts }),
        scaled,
      );

      // Assert: 50 at once (plus what refills while the burst is sent: 50 per 3 s, which a busy machine's slow
      // burst shows), then 50 a minute of Slack (a third of a minute: about 16) come back.
      const firstOk = first.filter((r) => r.status === 200).length;
      expect(firstOk).toBeGreaterThanOrEqual(50);
      expect(firstOk).toBeLessThanOrEqual(50 + Math.ceil((burstSeconds * 50) / 3) + 1);
      const refilled = later.filter((r) => r.status === 200).length;
      expect(refilled).toBeGreaterThanOrEqual(12);
      expect(refilled).toBeLessThanOrEqual(20);
    } finally {
      await scaled.close();
    }
  });

  it('can be turned off for a test that bursts past them on purpose', async () => {
    // Arrange
    const unlimited = await startFakeSlack({ rateLimits: false });
    try {
      const posted = await burst('chat.postMessage', 60, () => ({ channel: CHANNEL, text: 'x' }), unlimited);

      // Assert
      expect(posted.every((r) => r.status === 200)).toBe(true);
    } finally {
      await unlimited.close();
    }
  });
});
