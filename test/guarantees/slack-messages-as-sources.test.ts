import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { textsFor } from '../../functions/core/i18n';
import type { RetrievalResult, Turn } from '../../functions/core/types';
import { exportFeedback } from '../../scripts/feedback/export';
import type { SentMention } from '../../scripts/local/stack';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import type { FakeSearchable } from '../../stand-ins/slack/fake-slack';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * Issue 22 point 2: Slack messages as sources, through the real ASL on the local stack, the fake Slack answering
 * assistant.search.context from its model of conversations and who is in them. A matrix of asker × conversation ×
 * setting: no message the asker cannot see reaches the model or the answer; the messages' text is never kept (the
 * DynamoDB items and the logs written during the test are scanned for it); outages fall back to the documents, and
 * the footer says so.
 */

const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
const CAROL = 'U0CAROL001';

// Each message carries a made-up word found nowhere else, so that where its text went can be scanned for.
const MARKERS = {
  public: 'Zebracornish',
  private: 'Quokkaphantine',
  dm: 'Narwhalbeeish',
  mpim: 'Okapifishery',
} as const;
type Where = keyof typeof MARKERS;

const SEARCHABLE: FakeSearchable = {
  channels: [
    // Public: anyone in the workspace finds its messages (search:read.public), members or not.
    { id: 'C0PUBLIC01', name: 'it-help', type: 'public_channel', members: [ALICE] },
    { id: 'G0PRIVATE1', name: 'launch', type: 'private_channel', members: [ALICE] },
    { id: 'D0ALICEBOB', name: BOB, type: 'im', members: [ALICE, BOB] },
    { id: 'G0MPIMBC01', name: 'mpdm-bob--carol-1', type: 'mpim', members: [BOB, CAROL] },
  ],
  messages: [
    {
      channel: 'C0PUBLIC01',
      ts: '1764900000.000100',
      user: ALICE,
      text: `To rotate my VPN key: ${MARKERS.public} portal, every Friday.`,
    },
    {
      channel: 'G0PRIVATE1',
      ts: '1764900000.000200',
      user: ALICE,
      text: `Rotate the VPN key on the ${MARKERS.private} launch box too.`,
    },
    {
      channel: 'D0ALICEBOB',
      ts: '1764900000.000300',
      user: BOB,
      text: `My VPN key rotation failed at ${MARKERS.dm} step two.`,
    },
    {
      channel: 'G0MPIMBC01',
      ts: '1764900000.000400',
      user: CAROL,
      text: `VPN key rotated with the ${MARKERS.mpim} script.`,
    },
  ],
};

/** What each person can see: Slack's API limits the search to it. */
const SEES: Record<string, Where[]> = {
  [ALICE]: ['public', 'private', 'dm'],
  [BOB]: ['public', 'dm', 'mpim'],
  [CAROL]: ['public', 'mpim'],
};

const QUESTION = 'How do I rotate my VPN key?';
const ALL_MARKERS = Object.values(MARKERS);

interface Outcome {
  sent: SentMention;
  execution?: ExecutionRecord;
  retrieval?: RetrievalResult;
  /** The bot's final message in the thread, as people see it (text and blocks). */
  shown: string;
}

/** Everything written to stdout/stderr and the console while `run` runs. */
async function capturingLogs<T>(written: string[], run: () => Promise<T>): Promise<T> {
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(capture),
    jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    jest.spyOn(console, 'log').mockImplementation((...args) => void written.push(args.join(' '))),
    jest.spyOn(console, 'warn').mockImplementation((...args) => void written.push(args.join(' '))),
    jest.spyOn(console, 'error').mockImplementation((...args) => void written.push(args.join(' '))),
  ];
  try {
    return await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

async function ask(
  stack: LocalStack,
  user: string,
  actionToken: string | undefined,
  question = QUESTION,
): Promise<Outcome> {
  // The agent pane: a message in the person's DM with the bot, with the action_token Slack adds to it.
  const channel = `D0${user.slice(2, 10)}`;
  const sent = await stack.message({
    channelType: 'im',
    channel,
    user,
    text: question,
    ...(actionToken === undefined ? {} : { actionToken }),
  });
  return outcomeOf(stack, sent);
}

/** What came of a delivered question: its execution, what Retrieve found and the bot's last reply in the thread. */
async function outcomeOf(stack: LocalStack, sent: SentMention): Promise<Outcome> {
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
  );
  await execution?.done;
  const replies = stack.slack
    .threadReplies(sent.channel, sent.threadTs)
    .filter((m) => m.bot_id !== undefined && m.ts > sent.ts);
  const last = replies.at(-1);
  const output = (execution?.output ?? {}) as { retrieval?: RetrievalResult };
  return {
    sent,
    ...(execution === undefined ? {} : { execution }),
    ...(output.retrieval === undefined ? {} : { retrieval: output.retrieval }),
    shown: last === undefined ? '' : JSON.stringify([last.text, last.blocks ?? []]),
  };
}

const slackPassages = (o: Outcome) =>
  (o.retrieval?.passages ?? []).filter((p) => p.source.startsWith('slack:'));
const markersIn = (text: string) => ALL_MARKERS.filter((m) => text.includes(m));

describe('Slack messages as sources (issue 22 point 2)', () => {
  let on: LocalStack;
  let off: LocalStack;
  const closers: Array<() => Promise<void>> = [];
  const logs: string[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    const started = await Promise.all([
      // Slack Connect allowed, so that a question in a shared channel is answered (and shows what is searched there).
      startTestStack({
        env: { SLACK_SEARCH: 'true', ALLOW_SLACK_CONNECT: 'true', RETRIEVE_TOP_K: '10', LOG_LEVEL: 'debug' },
      }),
      startTestStack({ env: { RETRIEVE_TOP_K: '10', LOG_LEVEL: 'debug' } }),
    ]);
    [on, off] = started.map((s) => s.stack) as [LocalStack, LocalStack];
    closers.push(...started.map((s) => s.close));
    for (const stack of [on, off]) stack.slack.setSearchable(SEARCHABLE);
  });
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
  });

  const tokenFor = (stack: LocalStack, user: string) => {
    const token = stack.slack.actionTokenFor(user);
    tokens.push(token);
    return token;
  };

  describe.each([ALICE, BOB, CAROL])('asker %s', (user) => {
    it('setting on: the model is given exactly the messages they can see, each cited by its permalink', async () => {
      const token = tokenFor(on, user);
      const outcome = await capturingLogs(logs, () => ask(on, user, token));
      expect((outcome.execution?.input as { turn?: Turn } | undefined)?.turn?.actionToken).toBe(token);
      const found = slackPassages(outcome);
      const seen = markersIn(found.map((p) => p.text).join('\n')).sort();
      expect(seen).toEqual(SEES[user]?.map((w) => MARKERS[w]).sort());
      expect(outcome.retrieval?.slackSearch).toBe('used');
      // Beside the documents' passages (fused, not replaced).
      expect(outcome.retrieval?.passages.some((p) => p.source.startsWith('samples/docs/'))).toBe(true);
      for (const p of found) {
        expect(p.url).toMatch(/^https:\/\/fake-slack\.local\/archives\//);
        // The reference's fields name neither the author nor the channel: the permalink says where it is.
        expect(p.title).toMatch(/^Slack message( in a direct message)?$/);
      }
      // Nothing the asker cannot see appears in what they are shown.
      const unseen = ALL_MARKERS.filter((m) => !seen.includes(m));
      expect(markersIn(outcome.shown).filter((m) => unseen.includes(m))).toEqual([]);
      expect(outcome.shown).not.toContain(textsFor('en').slackSearchUnavailable);
    });

    it('setting off: Slack is not searched, the token does not travel, the documents answer as before', async () => {
      const outcome = await capturingLogs(logs, () => ask(off, user, tokenFor(off, user)));
      const input = outcome.execution?.input as { turn?: Turn } | undefined;
      expect(input?.turn?.eventId).toBe(outcome.sent.eventId);
      expect(input?.turn?.actionToken).toBeUndefined();
      expect(slackPassages(outcome)).toEqual([]);
      expect(outcome.retrieval?.slackSearch).toBeUndefined();
      expect(markersIn(outcome.shown)).toEqual([]);
      expect(outcome.shown).not.toContain(textsFor('en').slackSearchUnavailable);
    });
  });

  /** A mention in a channel whose event carries an action_token (should Slack put one there). */
  async function askInChannel(user: string, channel: string, extShared: boolean): Promise<Outcome> {
    const token = tokenFor(on, user);
    return outcomeOf(on, await on.mention({ text: QUESTION, user, channel, actionToken: token, extShared }));
  }

  it('in a channel, where everyone in it reads the answer: public channels only, never the asker’s private ones', async () => {
    // Alice can see the private channel and her DM with Bob; the answer in #general must not carry them.
    const outcome = await capturingLogs(logs, () => askInChannel(ALICE, 'C0GENERAL1', false));
    expect((outcome.execution?.input as { turn?: Turn } | undefined)?.turn?.slackSearchScope).toBe('public');
    expect(
      markersIn(
        slackPassages(outcome)
          .map((p) => p.text)
          .join('\n'),
      ),
    ).toEqual([MARKERS.public]);
    expect(markersIn(outcome.shown).filter((m) => m !== MARKERS.public)).toEqual([]);
  });

  it('in a channel shared with another organisation: Slack is not searched, and the footer says so', async () => {
    const before = on.slack.calls.filter((c) => c.method === 'assistant.search.context').length;
    const outcome = await capturingLogs(logs, () => askInChannel(ALICE, 'C0SHARED01', true));
    expect(outcome.execution?.status).toBe('SUCCEEDED');
    expect((outcome.execution?.input as { turn?: Turn } | undefined)?.turn?.actionToken).toBeUndefined();
    expect(on.slack.calls.filter((c) => c.method === 'assistant.search.context')).toHaveLength(before);
    expect(slackPassages(outcome)).toEqual([]);
    expect(outcome.shown).toContain(textsFor('en').slackSearchUnavailable);
  });

  it('setting off: assistant.search.context is never called', () => {
    expect(off.slack.calls.filter((c) => c.method === 'assistant.search.context')).toEqual([]);
  });

  it('an answer drawn from a Slack message cites it by its permalink, beside the document sections', async () => {
    const outcome = await capturingLogs(logs, () =>
      ask(on, ALICE, tokenFor(on, ALICE), 'Which day is the rotation portal open?'),
    );
    // The offline model quotes the passages that best match the question: a Slack message is among them here.
    const cited = slackPassages(outcome).filter((p) => outcome.shown.includes(`<${p.url}|`));
    expect(cited.length).toBeGreaterThan(0);
    expect(outcome.shown).toContain('Slack message');
    expect(outcome.shown).toMatch(/\*Sources\*[^"]*VPN guide/);
    expect(markersIn(outcome.shown).length).toBeGreaterThan(0); // shown in Slack (and, below, kept nowhere)
  });

  describe.each([
    ['an ok:false error (no access to the API)', { error: 'not_allowed_token_type' }],
    ['a server error', { status: 500 as const, times: 5 }],
    ['rate limiting', { status: 429 as const, retryAfterSeconds: 1, times: 5 }],
    ['rate limiting as an error', { error: 'ratelimited' }],
  ])('outage: %s', (_name, fault) => {
    it('answers from the documents alone and says so in the footer', async () => {
      on.slack.failNext('assistant.search.context', fault);
      const outcome = await capturingLogs(logs, () => ask(on, BOB, tokenFor(on, BOB)));
      on.slack.clearFaults('assistant.search.context');
      expect(outcome.execution?.status).toBe('SUCCEEDED');
      expect(outcome.retrieval?.slackSearch).toBe('unavailable');
      expect(slackPassages(outcome)).toEqual([]);
      expect(outcome.retrieval?.passages.length).toBeGreaterThan(0);
      expect(outcome.shown).toContain(textsFor('en').slackSearchUnavailable);
    });
  });

  it('a question without an action_token: documents alone, and the footer says so', async () => {
    const outcome = await capturingLogs(logs, () => ask(on, CAROL, undefined));
    expect(outcome.retrieval?.slackSearch).toBe('unavailable');
    expect(slackPassages(outcome)).toEqual([]);
    expect(outcome.shown).toContain(textsFor('en').slackSearchUnavailable);
  });

  it('a token issued for someone else is refused by Slack: nobody reads through another person’s token', async () => {
    // Carol's message carrying Alice's token (forged): the fake answers for the token's person, as Slack does;
    // the bot never picks a token, it only passes on the one in the event. This pins the fake's model.
    const alices = tokenFor(on, ALICE);
    const bogus = `${alices}x`;
    const outcome = await capturingLogs(logs, () => ask(on, CAROL, bogus));
    expect(outcome.retrieval?.slackSearch).toBe('unavailable');
    expect(slackPassages(outcome)).toEqual([]);
  });

  it('nothing kept: no DynamoDB item, feedback export or log line holds a message’s text or a token', async () => {
    // A vote on an answer that drew on Slack messages, so that the feedback export has a turn to export.
    const voted = await capturingLogs(logs, () => ask(on, ALICE, tokenFor(on, ALICE)));
    expect(slackPassages(voted).length).toBeGreaterThan(0);
    const answer = on.slack
      .threadReplies(voted.sent.channel, voted.sent.threadTs)
      .filter((m) => m.bot_id !== undefined)
      .at(-1);
    await capturingLogs(logs, () =>
      on.clickFeedback({
        channel: voted.sent.channel,
        answerTs: answer?.ts ?? '',
        vote: 'negative',
        user: ALICE,
      }),
    );

    for (const stack of [on, off]) {
      const table = stack.env.CONVERSATION_TABLE as string;
      const items = await stack.runtime.documentClient().send(new ScanCommand({ TableName: table }));
      const stored = JSON.stringify(items.Items ?? []);
      if (stack === on) expect(stored).toContain(QUESTION); // the scan reads the turns
      expect(markersIn(stored)).toEqual([]);
      for (const token of tokens) expect(stored).not.toContain(token);
      const exported = JSON.stringify(await exportFeedback(stack.runtime.documentClient(), table));
      expect(markersIn(exported)).toEqual([]);
    }
    // The turns keep the messages' permalinks as sources (as a document's link), never their text.
    const all = logs.join('\n');
    expect(all).toContain(voted.sent.eventId); // the capture saw the steps' logs
    expect(markersIn(all)).toEqual([]);
    for (const token of tokens) expect(all).not.toContain(token);
  });
});
