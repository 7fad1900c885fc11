import { forgetUserGroups } from '../../functions/core/access/asker-reach';
import { textsFor } from '../../functions/core/i18n';
import type { HistoryResult, RetrievalResult } from '../../functions/core/types';
import { exportFeedback } from '../../scripts/feedback/export';
import { askThroughSlack } from '../../scripts/local/ask-client';
import type { SentMention } from '../../scripts/local/stack';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import type { FakeMessage } from '../../stand-ins/slack/fake-slack';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * Issue 21: answers drawn only from what the asker may read, through the real ASL on the local stack, with the fake
 * Slack answering the user-group methods (as LOCAL_SLACK_USERGROUPS makes it for npm run dev). A matrix of people × places × collections:
 *
 * - people: Alice (in S0HRTEAM), Bob (in no group), Carol (removed from S0HRTEAM after the cache was filled), the
 *   CFO (named in finance's audience), a guest;
 * - places: a channel mapped to people and it, a channel matching only `*`, a DM, the agent pane (a thread in a DM),
 *   a follow-up in a thread by another person;
 * - collections (the samples' front matter): people (HR: onboarding, the Japanese leave policy) open to S0HRTEAM,
 *   finance (the expense policy) open to the CFO, it (the VPN guide) not named, so open to everyone.
 *
 * What each answer and its sources contain is asserted through the execution's own output (the passages Retrieve
 * returned, the history Load history gave) and the Slack message people see.
 */

const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
const CAROL = 'U0CAROL001';
const CFO = 'U0CFO00001';
const GUEST = 'U0GUEST001';
const HR_GROUP = 'S0HRTEAM01';
const PEOPLE_CHANNEL = 'C0PEOPLE01';
const OTHER_CHANNEL = 'C0OTHER001';

const PEOPLE_QUESTION = 'What does the hiring manager order before day one?';
const FINANCE_QUESTION = 'How do I claim expenses?';
const IT_QUESTION = 'How do I rotate my VPN key?';

const PEOPLE_DOCS = ['samples/docs/onboarding.md', 'samples/docs/leave-policy-ja.md'];
const FINANCE_DOCS = ['samples/docs/expense-policy.md'];

interface Outcome {
  sent: SentMention;
  execution?: ExecutionRecord;
  sources: string[];
  history?: HistoryResult;
  /** The bot's final message in the thread, as people see it (text and blocks). */
  shown: string;
  answerTs?: string;
}

function visible(message: FakeMessage | undefined): string {
  if (message === undefined) return '';
  return JSON.stringify([message.text, message.blocks ?? []]);
}

describe('who may read what (issue 21): answers from what the asker may read, wherever they ask', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({
      // As LOCAL_SLACK_USERGROUPS gives them to npm run dev (test/integration/local-slack-usergroups.test.ts).
      slackUserGroups: { [HR_GROUP]: [ALICE, CAROL] },
      env: {
        COLLECTION_AUDIENCES: JSON.stringify({ people: [HR_GROUP], finance: [CFO] }),
        CHANNEL_COLLECTIONS: JSON.stringify({
          [PEOPLE_CHANNEL]: ['people', 'it'],
          '*': ['people', 'it', 'finance'],
        }),
        FOLLOW_UPS: 'anyone',
      },
    }));
    stack.slack.addUser({ id: GUEST, is_restricted: true });
  });
  afterAll(() => close());

  async function outcomeOf(sent: SentMention, channel: string, threadTs: string): Promise<Outcome> {
    const execution = stack.stepFunctions.executions.find(
      (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
    );
    await execution?.done;
    const output = (execution?.output ?? {}) as { retrieval?: RetrievalResult; history?: HistoryResult };
    const replies = stack.slack
      .threadReplies(channel, threadTs)
      .filter((m) => m.bot_id !== undefined && m.ts > sent.ts);
    return {
      sent,
      ...(execution === undefined ? {} : { execution }),
      sources: output.retrieval?.passages.map((p) => p.source) ?? [],
      ...(output.history === undefined ? {} : { history: output.history }),
      shown: visible(replies.at(-1)),
      ...(replies.at(-1) === undefined ? {} : { answerTs: replies.at(-1)?.ts }),
    };
  }

  async function inChannel(user: string, channel: string, text: string): Promise<Outcome> {
    const asked = await askThroughSlack(stack, text, { user, channel });
    return outcomeOf(asked.sent, channel, asked.sent.threadTs);
  }

  async function inDm(user: string, text: string, threadTs?: string): Promise<Outcome> {
    const channel = `D0${user.slice(2, 10)}`;
    const sent = await stack.message({
      channelType: 'im',
      channel,
      user,
      text,
      ...(threadTs === undefined ? {} : { threadTs }),
    });
    return outcomeOf(sent, channel, threadTs ?? sent.threadTs);
  }

  const fromPeople = (o: Outcome) => o.sources.filter((s) => PEOPLE_DOCS.includes(s));
  const fromFinance = (o: Outcome) => o.sources.filter((s) => FINANCE_DOCS.includes(s));

  describe('places × people', () => {
    it('a channel mapped to people and it: Alice (in the group) reads people; Bob, the same question, does not', async () => {
      const alice = await inChannel(ALICE, PEOPLE_CHANNEL, PEOPLE_QUESTION);
      const bob = await inChannel(BOB, PEOPLE_CHANNEL, PEOPLE_QUESTION);

      expect(fromPeople(alice)).not.toEqual([]);
      expect(alice.shown).toContain('laptop');
      expect(fromPeople(bob)).toEqual([]);
      expect(bob.shown).not.toContain('10 working days');
      expect(bob.shown).not.toContain('Onboarding checklist');
    });

    it('the channel never widens a person: the CFO in the channel mapped to people and it gets no finance', async () => {
      const cfo = await inChannel(CFO, PEOPLE_CHANNEL, FINANCE_QUESTION);
      expect(fromFinance(cfo)).toEqual([]);
      expect(cfo.shown).not.toContain('Expense policy');
    });

    it('a channel matching only "*": the CFO reads finance, Alice does not; everyone reads it (not named)', async () => {
      const cfo = await inChannel(CFO, OTHER_CHANNEL, FINANCE_QUESTION);
      const alice = await inChannel(ALICE, OTHER_CHANNEL, FINANCE_QUESTION);
      const bob = await inChannel(BOB, OTHER_CHANNEL, IT_QUESTION);

      expect(fromFinance(cfo)).not.toEqual([]);
      expect(fromFinance(alice)).toEqual([]);
      expect(bob.sources).toContain('samples/docs/vpn-guide.md');
    });

    it('a DM: the person’s own reach; Alice reads people, Bob does not', async () => {
      const alice = await inDm(ALICE, PEOPLE_QUESTION);
      const bob = await inDm(BOB, PEOPLE_QUESTION);

      expect(fromPeople(alice)).not.toEqual([]);
      expect(fromPeople(bob)).toEqual([]);
      expect(bob.shown).not.toContain('10 working days');
    });

    it('the agent pane (a thread in the DM): the same reach as the DM', async () => {
      const opened = await inDm(BOB, IT_QUESTION);
      const followUp = await inDm(BOB, PEOPLE_QUESTION, opened.sent.ts);

      expect(opened.sources).toContain('samples/docs/vpn-guide.md');
      expect(followUp.execution).toBeDefined();
      expect(fromPeople(followUp)).toEqual([]);
    });

    it('a guest is refused as before, whatever the collections', async () => {
      const guest = await askThroughSlack(stack, PEOPLE_QUESTION, { user: GUEST, channel: OTHER_CHANNEL });
      expect(guest.execution).toBeUndefined();
      expect(guest.replies.map((r) => r.text)).toEqual([textsFor('en').guestsNotAllowed]);
    });
  });

  describe('a follow-up by another person', () => {
    it('is answered with their reach, and their history leaves out the turn only the first asker could read', async () => {
      const first = await inChannel(ALICE, OTHER_CHANNEL, PEOPLE_QUESTION);
      expect(fromPeople(first)).not.toEqual([]);

      // Bob replies in Alice's thread without a mention (FOLLOW_UPS=anyone).
      const sent = await stack.message({
        channelType: 'channel',
        channel: OTHER_CHANNEL,
        user: BOB,
        threadTs: first.sent.threadTs,
        text: 'And what happens in the first week?',
      });
      const bob = await outcomeOf(sent, OTHER_CHANNEL, first.sent.threadTs);

      expect(bob.execution).toBeDefined();
      expect(bob.history?.turnCount).toBe(0);
      expect(bob.history?.reach?.closed).toEqual(['finance', 'people']);
      expect(fromPeople(bob)).toEqual([]);
      expect(bob.shown).not.toContain('buddy');

      // Alice's own follow-up in the same thread keeps her turn, and Bob's (which drew on nothing she may not read).
      const aliceAgain = await stack.message({
        channelType: 'channel',
        channel: OTHER_CHANNEL,
        user: ALICE,
        threadTs: first.sent.threadTs,
        text: 'And what happens in the first week?',
      });
      const alice = await outcomeOf(aliceAgain, OTHER_CHANNEL, first.sent.threadTs);
      expect(alice.history?.turnCount).toBe(2);
      expect(fromPeople(alice)).not.toEqual([]);

      // The feedback export keeps each turn's reach, and a follow-up's thread as its asker's history had it.
      await stack.clickFeedback({
        channel: OTHER_CHANNEL,
        answerTs: bob.answerTs ?? '',
        vote: 'negative',
        user: BOB,
      });
      await stack.clickFeedback({
        channel: OTHER_CHANNEL,
        answerTs: alice.answerTs ?? '',
        vote: 'positive',
        user: ALICE,
      });
      const { turns } = await exportFeedback(
        stack.runtime.documentClient(),
        stack.env.CONVERSATION_TABLE as string,
      );
      const exportedBob = turns.find(
        (t) => t.line.question === 'And what happens in the first week?' && t.verdict === 'negative',
      );
      const exportedAlice = turns.find((t) => t.verdict === 'positive' && t.line.thread?.length === 4);
      expect(exportedBob?.line.reach).toEqual({ only: ['it'], closed: ['finance', 'people'] });
      expect(exportedBob?.line.thread).toBeUndefined();
      expect(exportedAlice?.line.reach).toEqual({ only: ['it', 'people'], closed: ['finance'] });
    });
  });

  describe('membership from Slack: cached, fail closed', () => {
    it('Carol, removed from the group: keeps it while the cached answer is fresh, loses it once it expires', async () => {
      const before = await inDm(CAROL, PEOPLE_QUESTION);
      expect(fromPeople(before)).not.toEqual([]);

      stack.slack.setUserGroups({ [HR_GROUP]: [ALICE] });
      const stillCached = await inDm(CAROL, PEOPLE_QUESTION);
      expect(fromPeople(stillCached)).not.toEqual([]);

      // The cache is USER_GROUPS_CACHE_SECONDS old at most (2 minutes by default): a new container asks Slack again.
      forgetUserGroups(stack.runtime);
      const after = await inDm(CAROL, PEOPLE_QUESTION);
      expect(fromPeople(after)).toEqual([]);
    });

    it.each([
      ['fails (missing_scope)', { error: 'missing_scope', times: 50 }],
      ['is rate limited (429)', { status: 429 as const, retryAfterSeconds: 30, times: 50 }],
    ])(
      'Slack %s: only what is open to everyone, and the answer says so in the asker’s language',
      async (_, fault) => {
        forgetUserGroups(stack.runtime);
        stack.slack.failNext('usergroups.list', fault);
        try {
          const alice = await inDm(ALICE, PEOPLE_QUESTION);
          const aliceJa = await inDm(ALICE, 'VPN キーのローテーション方法は？');

          expect(fromPeople(alice)).toEqual([]);
          expect(alice.history?.reach?.groupsUnknown).toBe(true);
          expect(alice.shown).toContain(textsFor('en').reachLimited.slice(0, 40));
          expect(aliceJa.shown).toContain(textsFor('ja').reachLimited.slice(0, 20));
          expect(alice.execution?.status).toBe('SUCCEEDED');
        } finally {
          stack.slack.clearFaults('usergroups.list');
          forgetUserGroups(stack.runtime);
        }
      },
    );

    it('a group named in the settings that does not exist matches no one: its collection stays closed', async () => {
      // S0HRTEAM01 exists; an audience naming a group Slack does not list is checked by `npm run access -- check`.
      stack.slack.setUserGroups({});
      forgetUserGroups(stack.runtime);
      const alice = await inDm(ALICE, PEOPLE_QUESTION);
      expect(fromPeople(alice)).toEqual([]);
      expect(alice.history?.reach?.groupsUnknown).toBeUndefined();
      stack.slack.setUserGroups({ [HR_GROUP]: [ALICE, CAROL] });
      forgetUserGroups(stack.runtime);
    });
  });
});
