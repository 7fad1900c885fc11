import { loadConfig } from '../../functions/core/config';
import { withSlackMessages } from '../../functions/core/conversation/retrieve';
import {
  searchSlackMessages,
  slackSearchScopeFor,
  withoutQuotedMessages,
} from '../../functions/core/slack/slack-search';
import type { Passage, RetrievalResult } from '../../functions/core/types';

const doc = (n: number): Passage => ({
  source: `docs/${n}.md`,
  title: `Doc ${n}`,
  heading: 'H',
  text: `t${n}`,
  score: 1,
});
const msg = (n: number): Passage => ({
  source: `slack:C1/${n}`,
  title: 'Slack message in #general',
  heading: '',
  text: `m${n}`,
  score: 1,
  url: `https://x.slack.com/archives/C1/p${n}`,
});
const documents: RetrievalResult = { status: 'ok', search: 'hybrid', passages: [doc(1), doc(2), doc(3)] };

describe('Slack messages fused with the documents (reciprocal rank)', () => {
  it('interleaves the two rankings best first, the documents first on a tie, and keeps the best k', () => {
    const fused = withSlackMessages(documents, { status: 'ok', passages: [msg(1), msg(2)] }, 4);
    expect(fused.passages.map((p) => p.source)).toEqual([
      'docs/1.md',
      'slack:C1/1',
      'docs/2.md',
      'slack:C1/2',
    ]);
    expect(fused.slackSearch).toBe('used');
  });

  it('an unavailable search leaves the documents as they were, marked for the footer', () => {
    const alone = withSlackMessages(documents, { status: 'unavailable', reason: 'ratelimited' }, 4);
    expect(alone.passages).toEqual(documents.passages);
    expect(alone.slackSearch).toBe('unavailable');
  });

  it('with no documents indexed, Slack messages alone can answer', () => {
    const empty: RetrievalResult = { status: 'empty-index', search: 'none', passages: [] };
    const fused = withSlackMessages(empty, { status: 'ok', passages: [msg(1)] }, 4);
    expect(fused.status).toBe('ok');
    expect(fused.passages.map((p) => p.source)).toEqual(['slack:C1/1']);
  });
});

/** A client whose assistant.search.context answers these messages. */
const answering = (messages: Record<string, unknown>[]) => ({
  apiCall: jest.fn().mockResolvedValue({ ok: true, results: { messages } }),
});

describe('searchSlackMessages', () => {
  it('turns Slack’s results into passages with the permalink as their link', async () => {
    const client = answering([
      {
        author_user_id: 'U1',
        author_name: 'Ann',
        channel_id: 'C1',
        channel_name: 'general',
        message_ts: '1.2',
        content: 'hello there',
        permalink: 'https://x.slack.com/archives/C1/p12',
      },
      { channel_id: 'C1', message_ts: '1.3' }, // no content nor permalink: left out
    ]);
    const outcome = await searchSlackMessages(client, 'q', 'tok', { scope: 'asker' });
    expect(client.apiCall).toHaveBeenCalledWith(
      'assistant.search.context',
      expect.objectContaining({
        query: 'q',
        action_token: 'tok',
        channel_types: 'public_channel,private_channel,mpim,im',
      }),
    );
    expect(outcome).toEqual({
      status: 'ok',
      passages: [
        {
          source: 'slack:C1/1.2',
          title: 'Slack message in #general',
          heading: 'Ann',
          text: 'hello there',
          score: 1,
          url: 'https://x.slack.com/archives/C1/p12',
        },
      ],
    });
  });

  it('with only the fields of the reference’s example: "Slack message", no channel id shown, no author', async () => {
    const client = answering([
      {
        author_user_id: 'U1',
        team_id: 'T1',
        channel_id: 'C0123456',
        message_ts: '1.2',
        content: 'hello there',
        is_author_bot: false,
        permalink: 'https://x.slack.com/archives/C0123456/p12',
      },
      {
        author_user_id: 'U2',
        channel_id: 'D0123456',
        message_ts: '1.3',
        content: 'hi',
        permalink: 'https://x.slack.com/archives/D0123456/p13',
      },
    ]);
    const outcome = await searchSlackMessages(client, 'q', 'tok', { scope: 'asker' });
    expect(outcome.status === 'ok' && outcome.passages.map((p) => [p.title, p.heading])).toEqual([
      ['Slack message', ''],
      ['Slack message in a direct message', ''],
    ]);
  });

  it('where others read the answer (a channel), only public channels are searched', async () => {
    const client = answering([]);
    await searchSlackMessages(client, 'q', 'tok', { scope: 'public' });
    await searchSlackMessages(client, 'q', 'tok');
    for (const call of client.apiCall.mock.calls)
      expect(call[1]).toMatchObject({ channel_types: 'public_channel' });
  });

  it('a failure is an outcome with Slack’s error code, never thrown', async () => {
    const failing = {
      apiCall: jest.fn().mockRejectedValue(Object.assign(new Error('x'), { data: { error: 'ratelimited' } })),
    };
    await expect(searchSlackMessages(failing, 'q', 'tok')).resolves.toEqual({
      status: 'unavailable',
      reason: 'ratelimited',
    });
  });

  it('a search that hangs gives way to the documents at its time limit', async () => {
    const hanging = { apiCall: jest.fn().mockReturnValue(new Promise(() => undefined)) };
    await expect(searchSlackMessages(hanging, 'q', 'tok', { timeoutMs: 10 })).resolves.toEqual({
      status: 'unavailable',
      reason: 'timeout',
    });
  });
});

describe('slackSearchScopeFor: whose eyes the answer is for', () => {
  it('the asker’s own DM with the bot (the agent pane): theirs alone', () => {
    expect(slackSearchScopeFor({ channel: 'D0ABC', channel_type: 'im' }, {})).toBe('asker');
    expect(slackSearchScopeFor({ channel: 'D0ABC' }, { is_ext_shared_channel: false })).toBe('asker');
  });

  it('a channel, private channel or group DM: public channels only', () => {
    expect(slackSearchScopeFor({ channel: 'C0ABC', channel_type: 'channel' }, {})).toBe('public');
    expect(slackSearchScopeFor({ channel: 'G0ABC', channel_type: 'group' }, {})).toBe('public');
    expect(slackSearchScopeFor({ channel: 'G0ABC', channel_type: 'mpim' }, {})).toBe('public');
  });

  it('a channel shared with another organisation: no search at all', () => {
    expect(slackSearchScopeFor({ channel: 'C0ABC' }, { is_ext_shared_channel: true })).toBeUndefined();
  });
});

describe('withoutQuotedMessages: what the turn keeps of an answer that quoted Slack messages', () => {
  it('replaces each sentence quoted word for word, and keeps the bot’s own words and citations', () => {
    const message = 'The deploy freeze starts on Friday at noon. Ask Dana before merging anything large.';
    const answer =
      'From the thread [2]:\n> The deploy freeze starts on Friday at noon.\n\nSo plan ahead [2].';
    const kept = withoutQuotedMessages(answer, [message]);
    expect(kept).toBe('From the thread [2]:\n> [Slack message]\n\nSo plan ahead [2].');
    expect(kept).not.toContain('Friday');
  });

  it('leaves an answer that quotes nothing as it is', () => {
    expect(withoutQuotedMessages('Use the VPN guide [1].', ['Something else entirely was said here.'])).toBe(
      'Use the VPN guide [1].',
    );
  });
});

describe('SLACK_SEARCH', () => {
  it('is off by default, on with true, and anything else fails naming it', () => {
    expect(loadConfig({}).slack.search).toBe(false);
    expect(loadConfig({ SLACK_SEARCH: 'true' }).slack.search).toBe(true);
    expect(() => loadConfig({ SLACK_SEARCH: 'sometimes' })).toThrow(/SLACK_SEARCH must be true or false/);
  });
});
