import { LogLevel, WebClient } from '@slack/web-api';
import { PermanentError, TransientError } from '../../functions/core/errors';
import {
  type AnswerStreamer,
  createNativeStreamer,
  createUpdateStreamer,
  type StreamerLogger,
} from '../../functions/core/slack/answer-streamer';
import { toSlackMrkdwn } from '../../functions/core/slack/mrkdwn';
import type { SourceRef } from '../../functions/core/types';
import { type FakeSlack, startFakeSlack } from '../../stand-ins/slack/fake-slack';

const CHANNEL = 'C0DOCS';
const MODEL = 'gpt-4o-mini';
const SOURCES: SourceRef[] = [
  { source: 's3://docs/vpn.md', title: 'VPN handbook', heading: 'Rotating the key' },
  { source: 's3://docs/vpn.md', title: 'VPN handbook', heading: 'Rotating the key' },
  { source: 's3://docs/security.md', title: 'Security policy', heading: 'Keys' },
];
const ANSWER = [
  '## Rotating the VPN key',
  '',
  'Rotate the key **every month**, and right away when a laptop is lost.',
  '',
  '1. Open the *admin console*.',
  '2. Run `vpn rotate --all`.',
  '3. Tell the team in #it-announcements.',
  '',
  'See [the handbook](https://wiki.example.com/vpn) for details.',
].join('\n');

let fake: FakeSlack;
let client: WebClient;

beforeEach(async () => {
  fake = await startFakeSlack();
  client = new WebClient(fake.token, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 2, minTimeout: 10, maxTimeout: 50 },
    logLevel: LogLevel.ERROR,
  });
});

afterEach(async () => {
  await fake.close();
});

/** A mention in the channel and the bot's placeholder in its thread, as the ack Lambda leaves them. */
async function startThread(): Promise<{ threadTs: string; placeholderTs: string }> {
  const mention = fake.addMessage({ channel: CHANNEL, text: '<@U0FAKEBOT> how do I rotate the VPN key?' });
  const placeholder = await client.chat.postMessage({
    channel: CHANNEL,
    thread_ts: mention.ts,
    text: 'Typing…',
  });
  return { threadTs: mention.ts, placeholderTs: placeholder.ts ?? '' };
}

/** Splits text into model-like tokens of a few characters. */
function tokens(text: string, size = 4): string[] {
  return text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g')) ?? [];
}

async function streamOverTime(streamer: AnswerStreamer, parts: string[], delayMs: number): Promise<void> {
  for (const part of parts) {
    await streamer.append(part);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

function collectingLogger(): StreamerLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (message) => warnings.push(message) };
}

function sectionTexts(blocks: unknown[] | undefined): string[] {
  return (blocks ?? []).flatMap((block) => {
    const section = block as { type?: string; text?: { text?: string } };
    return section.type === 'section' && section.text?.text !== undefined ? [section.text.text] : [];
  });
}

function contextTexts(blocks: unknown[] | undefined): string[] {
  return (blocks ?? []).flatMap((block) => {
    const context = block as { type?: string; elements?: Array<{ text?: string }> };
    return context.type === 'context' ? (context.elements ?? []).map((element) => element.text ?? '') : [];
  });
}

function essence(text: string): string {
  return text.replace(/```/g, '').replace(/\s+/g, '');
}

function botMessagesInThread(threadTs: string) {
  return fake.threadReplies(CHANNEL, threadTs).filter((message) => message.bot_id !== undefined);
}

function longAnswer(chars: number): string {
  const paragraphs: string[] = [];
  for (let i = 0; paragraphs.join('\n\n').length < chars; i++) {
    paragraphs.push(
      `Paragraph ${i} walks through step ${i} of the rotation, which every team follows carefully.`,
    );
  }
  return paragraphs.join('\n\n').slice(0, chars);
}

describe('createUpdateStreamer', () => {
  it('shows the first words at once, edits at most once a second, and ends with the answer, sources and model', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs });
    const started = Date.now();

    // Act
    await streamOverTime(streamer, tokens(ANSWER), 25);
    const ts = await streamer.finish({ answerMarkdown: ANSWER, sources: SOURCES, model: MODEL });

    // Assert
    const [placeholder] = fake.messages(CHANNEL).filter((message) => message.ts === placeholderTs);
    const first = placeholder?.updates[0];
    expect(first?.at).toBeLessThan(started + 500);
    expect(first?.text).toMatch(/_Typing…_$/);
    expect(placeholder?.updates.length).toBeGreaterThanOrEqual(3);
    expect(fake.updateStats(CHANNEL, placeholderTs).minGapMs).toBeGreaterThanOrEqual(1000);
    expect(fake.maxUpdatesPerSecond()).toBe(1);
    expect(ts).toEqual([placeholderTs]);
    expect(placeholder?.text).toBe(toSlackMrkdwn(ANSWER));
    expect(sectionTexts(placeholder?.blocks).join('\n\n')).toBe(toSlackMrkdwn(ANSWER));
    expect(contextTexts(placeholder?.blocks)).toEqual([
      '*Sources*\n• VPN handbook › Rotating the key\n• Security policy › Keys',
      `Generated by ${MODEL}`,
    ]);
    expect(botMessagesInThread(threadTs)).toHaveLength(1);
  });

  it('spreads a 30,000-character answer over several messages in the thread without losing any of it', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const answer = longAnswer(30_000);
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs });

    // Act: the whole answer streamed, then time for the pacer's next edit (however slowly this machine runs), which
    // shows it no longer fits one message.
    await streamOverTime(streamer, tokens(answer, 600), 25);
    await fake.waitFor(
      () =>
        fake
          .messages(CHANNEL)
          .find((message) => message.ts === placeholderTs)
          ?.updates.some((update) => update.text.endsWith('\n…\n\n_Typing…_')),
      15_000,
    );
    const ts = await streamer.finish({ answerMarkdown: answer, sources: SOURCES, model: MODEL });

    // Assert
    const thread = botMessagesInThread(threadTs);
    expect(ts.length).toBeGreaterThanOrEqual(3);
    expect(thread.map((message) => message.ts)).toEqual(ts);
    expect(essence(thread.flatMap((message) => sectionTexts(message.blocks)).join(''))).toBe(essence(answer));
    expect(contextTexts(thread.at(-1)?.blocks).at(-1)).toBe(`Generated by ${MODEL}`);
    const partials = thread[0]?.updates.slice(0, -1) ?? [];
    expect(partials.some((update) => update.text.endsWith('\n…\n\n_Typing…_'))).toBe(true);
    expect(fake.maxUpdatesPerSecond()).toBe(1);
  });

  it('still shows the final answer after Slack rate-limits an edit with Retry-After', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    fake.failNext('chat.update', { status: 429, retryAfterSeconds: 1 });
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs });

    // Act
    await streamOverTime(streamer, tokens(ANSWER, 12), 20);
    await streamer.finish({ answerMarkdown: ANSWER, sources: SOURCES, model: MODEL });

    // Assert
    expect(fake.calls.some((call) => call.method === 'chat.update' && call.status === 429)).toBe(true);
    const [placeholder] = fake.messages(CHANNEL).filter((message) => message.ts === placeholderTs);
    expect(placeholder?.text).toBe(toSlackMrkdwn(ANSWER));
    expect(contextTexts(placeholder?.blocks).at(-1)).toBe(`Generated by ${MODEL}`);
    expect(fake.maxUpdatesPerSecond()).toBe(1);
  });

  it("makes no more partial edits once Slack rate-limits one, leaving the workspace's edits to final answers", async () => {
    // Arrange: the first partial edit is refused with a 429; the answer goes on streaming for about 4 s.
    const { threadTs, placeholderTs } = await startThread();
    fake.failNext('chat.update', { status: 429, retryAfterSeconds: 1 });
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs });

    // Act
    await streamOverTime(streamer, tokens(ANSWER, 16), 250);
    const editsWhileStreaming = fake.calls.filter((call) => call.method === 'chat.update');
    await streamer.finish({ answerMarkdown: ANSWER, sources: SOURCES, model: MODEL });

    // Assert: the client waited out the Retry-After and sent the refused edit again, and no partial edit followed
    // it in the 3 s of streaming left (before, three more went out); the final edit shows the whole answer.
    expect(editsWhileStreaming.map((call) => call.status)).toEqual([429, 200]);
    const [placeholder] = fake.messages(CHANNEL).filter((message) => message.ts === placeholderTs);
    expect(placeholder?.text).toBe(toSlackMrkdwn(ANSWER));
  });

  it('skips an edit Slack refuses, logging it, and carries on', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    fake.failNext('chat.update', { error: 'ratelimited' });
    const logger = collectingLogger();
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs, logger });

    // Act
    await streamOverTime(streamer, tokens(ANSWER, 20), 10);
    await streamer.finish({ answerMarkdown: ANSWER, sources: [], model: MODEL });

    // Assert
    expect(logger.warnings).toEqual(['Slack: skipped a streaming edit of the answer']);
    const [placeholder] = fake.messages(CHANNEL).filter((message) => message.ts === placeholderTs);
    expect(placeholder?.text).toBe(toSlackMrkdwn(ANSWER));
  });

  it('fails the step with a TransientError when the final edit cannot be made, and a retry shows the answer', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    fake.failNext('chat.update', { status: 503, times: 3 });
    const options = { channel: CHANNEL, threadTs, placeholderTs, logger: collectingLogger() };

    // Act
    const failed = createUpdateStreamer(client, options).finish({
      answerMarkdown: ANSWER,
      sources: [],
      model: MODEL,
    });
    await expect(failed).rejects.toBeInstanceOf(TransientError);
    const ts = await createUpdateStreamer(client, options).finish({
      answerMarkdown: ANSWER,
      sources: [],
      model: MODEL,
    });

    // Assert
    expect(ts).toEqual([placeholderTs]);
    expect(botMessagesInThread(threadTs)[0]?.text).toBe(toSlackMrkdwn(ANSWER));
  });

  it('fails with a PermanentError when the placeholder is gone', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    await client.chat.delete({ channel: CHANNEL, ts: placeholderTs });
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs });

    // Act
    const finished = streamer.finish({ answerMarkdown: ANSWER, sources: [], model: MODEL });

    // Assert
    await expect(finished).rejects.toBeInstanceOf(PermanentError);
  });

  it('posts no continuation twice when the step runs again', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const answer = longAnswer(30_000);
    const result = { answerMarkdown: answer, sources: SOURCES, model: MODEL };
    const firstRun = await createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs }).finish(
      result,
    );
    const postsAfterFirstRun = fake.calls.filter((call) => call.method === 'chat.postMessage').length;

    // Act
    const retried = createUpdateStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      existingContinuationTs: firstRun.slice(1),
    });
    const secondRun = await retried.finish(result);
    const thirdRun = await retried.finish(result);

    // Assert
    expect(secondRun).toEqual(firstRun);
    expect(thirdRun).toEqual(firstRun);
    expect(fake.calls.filter((call) => call.method === 'chat.postMessage')).toHaveLength(postsAfterFirstRun);
    expect(botMessagesInThread(threadTs).map((message) => message.ts)).toEqual(firstRun);
  });

  it('deletes continuations a shorter answer on a re-run no longer needs', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const options = { channel: CHANNEL, threadTs, placeholderTs };
    const firstRun = await createUpdateStreamer(client, options).finish({
      answerMarkdown: longAnswer(30_000),
      sources: [],
      model: MODEL,
    });

    // Act
    const secondRun = await createUpdateStreamer(client, {
      ...options,
      existingContinuationTs: firstRun.slice(1),
    }).finish({
      answerMarkdown: ANSWER,
      sources: [],
      model: MODEL,
    });

    // Assert
    expect(secondRun).toEqual([placeholderTs]);
    expect(botMessagesInThread(threadTs).map((message) => message.ts)).toEqual([placeholderTs]);
  });
});

describe('createNativeStreamer', () => {
  it('sends no mention Slack would notify anyone of, even split across chunks; the reader sees the text as written', async () => {
    // Arrange: a model (or a document it quotes) writing every kind of Slack mention.
    const { threadTs, placeholderTs } = await startThread();
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      recipientTeamId: fake.teamId,
      recipientUserId: 'U0ASKER',
      minIntervalMs: 50,
    });
    const parts = [
      'Heads up <',
      '!channel> and <!here>, <!everyone|everyone>: ask <@U0VICTIM> or <!subteam^S0ONCALL|@oncall> in <#C0OPS|ops>. <',
      '@W0OTHER> too. Tail: <!here>',
    ];
    const answer = parts.join('');

    // Act: each part is sent as its own chunk (the stream flushes between them).
    for (const part of parts) {
      await streamer.append(part);
      await fake.waitFor(() =>
        botMessagesInThread(threadTs).some((m) => m.ts !== placeholderTs && m.text.length > 0),
      );
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    await streamer.finish({ answerMarkdown: `${answer} Done.`, sources: SOURCES, model: MODEL });

    // Assert: nothing sent to Slack holds a mention token; the message reads as the model wrote it.
    const streamCalls = fake.calls.filter((call) => /^chat\.(start|append|stop)Stream$/.test(call.method));
    expect(streamCalls.filter((call) => call.method === 'chat.appendStream').length).toBeGreaterThanOrEqual(
      2,
    );
    for (const call of fake.calls) expect(JSON.stringify(call.args)).not.toMatch(/<[!@#]/);
    const [message] = botMessagesInThread(threadTs);
    expect(message?.text).not.toMatch(/<[!@#]/);
    expect(message?.text.replace(/\u2060/g, '')).toBe(`${answer} Done.`);
  });

  it('streams into one thread reply that ends up holding the whole answer, and removes the placeholder', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      recipientTeamId: fake.teamId,
      recipientUserId: 'U0ASKER',
    });
    const started = Date.now();

    // Act
    await streamOverTime(streamer, tokens(ANSWER), 25);
    const ts = await streamer.finish({ answerMarkdown: ANSWER, sources: SOURCES, model: MODEL });

    // Assert
    const thread = botMessagesInThread(threadTs);
    expect(thread).toHaveLength(1);
    const [answer] = thread;
    expect(ts).toEqual([answer?.ts]);
    expect(answer?.ts).not.toBe(placeholderTs);
    // As written, with the link's host shown after its label, as in update mode.
    expect(answer?.text).toBe(
      ANSWER.replace('(https://wiki.example.com/vpn)', '(https://wiki.example.com/vpn) (wiki.example.com)'),
    );
    expect(answer?.streaming).toBe(false);
    expect(answer?.postedAt).toBeLessThan(started + 500);
    expect(contextTexts(answer?.blocks).at(-1)).toBe(`Generated by ${MODEL}`);
    expect(contextTexts(answer?.blocks)[0]).toContain('VPN handbook › Rotating the key');
    expect(fake.updateStats(CHANNEL, answer?.ts ?? '').minGapMs).toBeGreaterThanOrEqual(1000);
    const start = fake.calls.find((call) => call.method === 'chat.startStream');
    expect(start?.args).toMatchObject({ thread_ts: threadTs, recipient_user_id: 'U0ASKER' });
  });

  it('continues a 30,000-character answer in further messages without losing any of it', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const answer = longAnswer(30_000);
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      recipientTeamId: fake.teamId,
      recipientUserId: 'U0ASKER',
    });

    // Act
    await streamOverTime(streamer, tokens(answer, 600), 10);
    const ts = await streamer.finish({ answerMarkdown: answer, sources: SOURCES, model: MODEL });

    // Assert
    const thread = botMessagesInThread(threadTs);
    expect(thread.map((message) => message.ts)).toEqual(ts);
    expect(ts.length).toBeGreaterThanOrEqual(3);
    const [streamed, ...continuations] = thread;
    expect(streamed?.text.length).toBeLessThanOrEqual(12_000);
    const shown =
      (streamed?.text ?? '') + continuations.flatMap((message) => sectionTexts(message.blocks)).join('');
    expect(essence(shown)).toBe(essence(answer));
    expect(contextTexts(thread.at(-1)?.blocks).at(-1)).toBe(`Generated by ${MODEL}`);
  });

  it('falls back to the placeholder when Slack will not start a stream', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    fake.failNext('chat.startStream', { error: 'not_allowed_token_type' });
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      logger: collectingLogger(),
    });

    // Act
    await streamOverTime(streamer, tokens(ANSWER, 40), 10);
    const ts = await streamer.finish({ answerMarkdown: ANSWER, sources: [], model: MODEL });

    // Assert
    expect(ts).toEqual([placeholderTs]);
    const thread = botMessagesInThread(threadTs);
    expect(thread).toHaveLength(1);
    expect(thread[0]?.text).toBe(toSlackMrkdwn(ANSWER));
  });

  it('removes a half-streamed answer when the step fails, leaving the placeholder for the apology', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      recipientTeamId: fake.teamId,
      recipientUserId: 'U0ASKER',
    });
    await streamOverTime(streamer, tokens(ANSWER).slice(0, 5), 10);

    // Act
    await streamer.fail();

    // Assert
    expect(botMessagesInThread(threadTs).map((message) => message.ts)).toEqual([placeholderTs]);
  });
});

describe('links and task cards in both modes', () => {
  const DECEPTIVE = [
    'Reset it on [the VPN portal](https://attacker.example/reset) today.',
    'Or open <https://evil.example|https://vpn.corp.example> instead.',
    'The [handbook](https://wiki.example.com/vpn) and https://wiki.example.com/keys say more.',
  ].join('\n\n');

  /** Every link a reader can click in Markdown or mrkdwn: its label, where it really goes, and what follows it. */
  function clickableLinks(text: string): Array<{ label: string; url: string; after: string }> {
    const links: Array<{ label: string; url: string; after: string }> = [];
    const following = (m: RegExpMatchArray) => text.slice((m.index ?? 0) + m[0].length).slice(0, 80);
    for (const m of text.matchAll(/\[([^\]]*)\]\(([^)\s]+)\)/g))
      links.push({ label: m[1] ?? '', url: m[2] ?? '', after: following(m) });
    for (const m of text.matchAll(/<(https?:[^|>]+)\|([^>]*)>/g))
      links.push({ label: m[2] ?? '', url: m[1] ?? '', after: following(m) });
    return links;
  }

  /** Whether the reader sees each link's real host right after a label that is not its address. */
  function everyHostShown(text: string): boolean {
    return clickableLinks(text).every(({ label, url, after }) => {
      const host = new URL(url).host;
      return label === url || label === host || after.startsWith(` (${host})`);
    });
  }

  it('native streaming shows the real host of every link, even one split across chunks', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      recipientTeamId: fake.teamId,
      recipientUserId: 'U0ASKER',
      minIntervalMs: 50,
    });

    // Act: parts cut inside both links, each sent as its own chunk.
    for (const part of tokens(DECEPTIVE, 23)) {
      await streamer.append(part);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await streamer.finish({ answerMarkdown: DECEPTIVE, sources: [], model: MODEL });

    // Assert
    const [message] = botMessagesInThread(threadTs);
    const shown = message?.text ?? '';
    expect(fake.calls.filter((c) => c.method === 'chat.appendStream').length).toBeGreaterThanOrEqual(2);
    expect(shown).toContain('(attacker.example)');
    expect(clickableLinks(shown).map((l) => new URL(l.url).host)).not.toContain('evil.example');
    expect(shown).toContain('evil.example');
    expect(everyHostShown(shown)).toBe(true);
    expect(shown.replace(/\u2060/g, '')).toContain(
      'Reset it on [the VPN portal](https://attacker.example/reset)',
    );
  });

  it('update mode shows the real host of every link too', async () => {
    // Arrange
    const { threadTs, placeholderTs } = await startThread();
    const streamer = createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs });

    // Act
    await streamOverTime(streamer, tokens(DECEPTIVE, 23), 5);
    await streamer.finish({ answerMarkdown: DECEPTIVE, sources: [], model: MODEL });

    // Assert
    const [message] = botMessagesInThread(threadTs);
    const shown = sectionTexts(message?.blocks).join('\n');
    expect(shown).toContain('(attacker.example)');
    expect(clickableLinks(shown).map((l) => new URL(l.url).host)).not.toContain('evil.example');
    expect(everyHostShown(shown)).toBe(true);
  });

  it('task cards carry no mention, no hidden link host and no split character, within Slack’s 256 characters', async () => {
    // Arrange: sections and sources as a document (or whoever wrote it) named them.
    const { threadTs, placeholderTs } = await startThread();
    const long = `${'a'.repeat(254)}😀 and more`;
    const streamer = createNativeStreamer(client, {
      channel: CHANNEL,
      threadTs,
      placeholderTs,
      recipientTeamId: fake.teamId,
      recipientUserId: 'U0ASKER',
      progress: {
        searchTitle: 'Searching the documents',
        searchOutput: `3 passages <!channel> ${long}`,
        searchDetails: `VPN › <!here> see [the portal](https://attacker.example/x)\n${long}`,
        sources: [
          { url: 'https://attacker.example/reset', text: 'https://vpn.corp.example <@U0VICTIM>' },
          { url: 'https://wiki.example.com/vpn', text: `${long}${long}` },
        ],
        writeTitle: 'Writing the answer',
      },
    });

    // Act
    await streamer.begin();
    await streamer.append('Rotate it monthly.');
    await streamer.finish({ answerMarkdown: 'Rotate it monthly.', sources: [], model: MODEL });

    // Assert
    const [message] = botMessagesInThread(threadTs);
    const search = message?.tasks?.find((t) => t.id === 'search');
    const texts = [
      search?.details ?? '',
      search?.output ?? '',
      ...(search?.sources ?? []).map((s) => s.text),
    ];
    for (const text of texts) {
      expect(text).not.toMatch(/<[!@#]/);
      expect(text.length).toBeLessThanOrEqual(256);
      expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    }
    expect(search?.details).toContain('(attacker.example)');
    expect(search?.sources?.[0]?.text).toContain('(attacker.example)');
    expect(search?.sources?.map((s) => s.url)).toEqual([
      'https://attacker.example/reset',
      'https://wiki.example.com/vpn',
    ]);
  });
});

describe("under Slack's rate limits (the fake enforces chat.update's Tier 3: 50 a minute per workspace)", () => {
  it('twenty answers streaming at once in one channel all end complete: edits slow down and wait out Retry-After', async () => {
    // Arrange: twenty people asked at once; each answer streams for about four seconds.
    const threads = await Promise.all(Array.from({ length: 20 }, () => startThread()));
    const streamers = threads.map(({ threadTs, placeholderTs }) =>
      createUpdateStreamer(client, { channel: CHANNEL, threadTs, placeholderTs, logger: collectingLogger() }),
    );

    // Act
    const finished = await Promise.allSettled(
      streamers.map(async (streamer) => {
        await streamOverTime(streamer, tokens(ANSWER, 8), 100);
        return streamer.finish({ answerMarkdown: ANSWER, sources: SOURCES, model: MODEL });
      }),
    );

    // Assert: Slack refused edits, yet every person sees the whole answer with its footer, and no step failed.
    expect(fake.rateLimited().length).toBeGreaterThan(0);
    expect(finished.filter((f) => f.status === 'rejected')).toEqual([]);
    for (const { threadTs } of threads) {
      const [message] = botMessagesInThread(threadTs);
      expect(message?.text).toBe(toSlackMrkdwn(ANSWER));
      expect(contextTexts(message?.blocks).at(-1)).toBe(`Generated by ${MODEL}`);
    }
  }, 90_000);
});
