import {
  audienceMatch,
  isUnlimited,
  mayRead,
  mayReadTurn,
  parseCollectionAudiences,
  reachFor,
} from '../../functions/core/access/reach';
import { createUserGroupDirectory } from '../../functions/core/access/user-groups';

/**
 * Who may read what, as rules: the reach of a question is what its place (CHANNEL_COLLECTIONS) and its asker
 * (COLLECTION_AUDIENCES) both allow, and Slack not saying who is in which group closes everything not open to all.
 * The same rules run through the state machine in test/guarantees/who-may-read-what.test.ts.
 */

const ALICE = 'U0ALICE001'; // in S0HRTEAM
const BOB = 'U0BOB00001'; // in no group
const CFO = 'U0CFO00001';
const HR_CHANNEL = 'C0HRCHAN01';
const GENERAL = 'C0GENERAL1';
const DM = 'D0ALICEDM1';

const audiences = {
  hr: ['S0HRTEAM'],
  it: ['*'],
  finance: ['S0FINANCE', CFO],
  board: [HR_CHANNEL],
};
const aliceGroups = new Set(['S0HRTEAM']);

describe('reach: what a question may read', () => {
  it('without settings, everything: the deployment behaves as before', () => {
    const reach = reachFor({}, { user: BOB, channel: GENERAL }, new Set());
    expect(isUnlimited(reach)).toBe(true);
    expect(mayRead(reach, 'hr')).toBe(true);
    expect(mayRead(reach, null)).toBe(true);
  });

  it('by person: a group member reads the group’s collection, others do not; unnamed collections stay open', () => {
    const alice = reachFor({ collectionAudiences: audiences }, { user: ALICE, channel: DM }, aliceGroups);
    const bob = reachFor({ collectionAudiences: audiences }, { user: BOB, channel: DM }, new Set());
    const cfo = reachFor({ collectionAudiences: audiences }, { user: CFO, channel: DM }, new Set());

    expect(alice.closed).toEqual(['board', 'finance']);
    expect(bob.closed).toEqual(['board', 'finance', 'hr']);
    expect(cfo.closed).toEqual(['board', 'hr']);
    expect(mayRead(bob, 'it')).toBe(true);
    expect(mayRead(bob, 'people')).toBe(true); // not named: open to everyone
    expect(mayRead(bob, null)).toBe(true); // a document without a collection
    expect(mayRead(bob, 'hr')).toBe(false);
  });

  it('a collection opened to a channel is read by whoever asks there, and only there', () => {
    const inChannel = reachFor(
      { collectionAudiences: audiences },
      { user: BOB, channel: HR_CHANNEL },
      new Set(),
    );
    const elsewhere = reachFor(
      { collectionAudiences: audiences },
      { user: BOB, channel: GENERAL },
      new Set(),
    );
    expect(mayRead(inChannel, 'board')).toBe(true);
    expect(mayRead(elsewhere, 'board')).toBe(false);
  });

  it('by place and person: a channel never widens a person’s reach, a person never widens a channel’s', () => {
    const settings = {
      channelCollections: { [GENERAL]: ['it', 'hr'], '*': ['it'] },
      collectionAudiences: audiences,
    };
    // Bob in a channel mapped to hr: the channel allows it, Bob may not.
    const bob = reachFor(settings, { user: BOB, channel: GENERAL }, new Set());
    // Alice in a DM: she may read hr, the DM's place (`*`) allows only it.
    const alice = reachFor(settings, { user: ALICE, channel: DM }, aliceGroups);
    expect(bob.only).toEqual(['it']);
    expect(alice.only).toEqual(['it']);
    expect(mayRead(alice, 'hr')).toBe(false);
    // An allow-list leaves out documents without a collection, as CHANNEL_COLLECTIONS always did.
    expect(mayRead(bob, null)).toBe(false);
  });

  it('Slack not saying the groups: only what is open to everyone, whoever asks, marked so the answer says it', () => {
    const unknown = reachFor(
      { collectionAudiences: audiences },
      { user: CFO, channel: HR_CHANNEL },
      undefined,
    );
    expect(unknown.closed).toEqual(['board', 'finance', 'hr']);
    expect(unknown.groupsUnknown).toBe(true);
    expect(mayRead(unknown, 'it')).toBe(true);
    expect(
      audienceMatch({ collectionAudiences: audiences }, 'finance', { user: CFO, channel: DM }, undefined),
    ).toEqual({ open: false, by: 'user groups unknown' });
  });

  it('a stored turn is shown only to askers who may read every collection it drew on', () => {
    const bob = reachFor({ collectionAudiences: audiences }, { user: BOB, channel: GENERAL }, new Set());
    expect(mayReadTurn(bob, ['it', ''])).toBe(true);
    expect(mayReadTurn(bob, ['it', 'hr'])).toBe(false);
    expect(mayReadTurn(bob, [])).toBe(true);
    // Stored before collections were recorded: only for an asker from whom nothing is closed.
    expect(mayReadTurn(bob, undefined)).toBe(false);
    expect(mayReadTurn(reachFor({}, { user: BOB, channel: GENERAL }, new Set()), undefined)).toBe(true);
  });
});

describe('COLLECTION_AUDIENCES, checked', () => {
  it.each([
    ['{"hr":["S0HRTEAM"],"it":["*"],"finance":["S0FINANCE","U0CFO0001"]}', true],
    ['{"hr":"S0HRTEAM"}', false],
    ['{"hr":["hr-team"]}', false],
    ['{"h r":["*"]}', false],
    ['["hr"]', false],
    ['{', false],
  ])('%s → %s', (raw, ok) => {
    expect(parseCollectionAudiences(raw).ok).toBe(ok);
  });

  it('says which entry is wrong', () => {
    const parsed = parseCollectionAudiences('{"hr":["S0HRTEAM","@hr"]}');
    expect(parsed).toEqual({
      ok: false,
      problem: '"@hr" (in "hr") is not "*", a user group (S…), a person (U… or W…) or a channel (C… or G…)',
    });
  });
});

describe('user groups from Slack: cached, fail closed', () => {
  function slack(groups: () => { id: string; users: string[] }[] | Error) {
    const calls: unknown[] = [];
    return {
      calls,
      client: {
        usergroups: {
          list: async (args: unknown) => {
            calls.push(args);
            const answer = groups();
            if (answer instanceof Error) throw answer;
            return { usergroups: answer };
          },
        },
      },
    };
  }

  it('one usergroups.list with users answers for everyone until the cache expires (2 minutes)', async () => {
    let now = 0;
    let members = [{ id: 'S0HRTEAM', users: [ALICE] }];
    const { client, calls } = slack(() => members);
    const directory = createUserGroupDirectory(client, { now: () => now });

    expect(await directory.groupsOf(ALICE)).toEqual(new Set(['S0HRTEAM']));
    expect(await directory.groupsOf(BOB)).toEqual(new Set());
    expect(calls).toEqual([{ include_users: true, include_disabled: false }]);

    // Alice is removed: she keeps the group until the cached answer is 2 minutes old, not after.
    members = [{ id: 'S0HRTEAM', users: [] }];
    now = 119_000;
    expect(await directory.groupsOf(ALICE)).toEqual(new Set(['S0HRTEAM']));
    now = 120_001;
    expect(await directory.groupsOf(ALICE)).toEqual(new Set());
    expect(calls).toHaveLength(2);
  });

  it('a rate limit: unknown, and Slack is not asked again before its Retry-After', async () => {
    let now = 0;
    const limited = Object.assign(new Error('rate limited'), {
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 30,
    });
    let answer: Error | { id: string; users: string[] }[] = limited;
    const { client, calls } = slack(() => answer);
    const reasons: string[] = [];
    const directory = createUserGroupDirectory(client, { now: () => now, onUnknown: (r) => reasons.push(r) });

    expect(await directory.groupsOf(ALICE)).toBeUndefined();
    now = 29_000;
    expect(await directory.groupsOf(ALICE)).toBeUndefined();
    expect(calls).toHaveLength(1);
    answer = [{ id: 'S0HRTEAM', users: [ALICE] }];
    now = 30_001;
    expect(await directory.groupsOf(ALICE)).toEqual(new Set(['S0HRTEAM']));
    expect(reasons).toEqual(['usergroups.list is rate limited for 30 s']);
  });

  it('a missing scope: unknown, and tried again a few seconds later', async () => {
    let now = 0;
    const { client, calls } = slack(() =>
      Object.assign(new Error('An API error occurred: missing_scope'), { data: { error: 'missing_scope' } }),
    );
    const reasons: string[] = [];
    const directory = createUserGroupDirectory(client, { now: () => now, onUnknown: (r) => reasons.push(r) });
    expect(await directory.groupsOf(ALICE)).toBeUndefined();
    now = 6_000;
    expect(await directory.groupsOf(ALICE)).toBeUndefined();
    expect(calls).toHaveLength(2);
    expect(reasons[0]).toBe('usergroups.list failed: missing_scope');
  });

  it('questions arriving together share one call', async () => {
    const { client, calls } = slack(() => [{ id: 'S0HRTEAM', users: [ALICE] }]);
    const directory = createUserGroupDirectory(client, { now: () => 0 });
    await Promise.all([directory.groupsOf(ALICE), directory.groupsOf(BOB), directory.groupsOf(CFO)]);
    expect(calls).toHaveLength(1);
  });
});
