import { type WebClient, WebClientEvent } from '@slack/web-api';
import { PermanentError, TransientError } from '../errors';
import {
  ANSWER_CHARS_PER_MESSAGE,
  type AnswerMessage,
  type AnswerMessageInput,
  buildAnswerMessages,
  buildFooterBlocks,
  findTextCut,
  reopening,
  splitText,
} from './answer-message';
import { capText, linkSafeEnd, safeMarkdown } from './markdown-links';
import { destinationOf, labelShowsDestination, toSlackMrkdwn } from './mrkdwn';
import { CHANNEL_OR_TOKEN_ERRORS } from './slack-errors';
import { UpdateSchedule } from './update-schedule';

/**
 * Shows an answer in Slack while the model writes it, then leaves it as final Block Kit messages.
 *
 * Tokens arrive far faster than Slack accepts edits, so edits are throttled by {@link UpdateSchedule} and sent
 * in the background: `append` never waits for Slack, at most one edit is in flight, and text that arrives
 * meanwhile goes out with the next one. An intermediate edit that fails is only logged: the final one repairs
 * everything. `finish` waits for the edit in flight (so it can never land after the final message) and makes
 * the final edit, which must succeed: its failure is thrown as a step error.
 */

/** The Slack methods the streamers call; a `WebClient` is one. */
export type StreamingSlackClient = Pick<WebClient, 'chat'>;

/** Where warnings go; a Powertools `Logger` is one. */
export interface StreamerLogger {
  warn(message: string, attributes?: Record<string, unknown>): void;
}

/** Streams one answer into Slack. */
export interface AnswerStreamer {
  /** Shows what is known before the first token (native mode: the search's task card). Never throws. */
  begin(): Promise<void>;
  /** Adds text the model wrote. Returns at once; Slack is edited in the background. */
  append(delta: string): Promise<void>;
  /**
   * Replaces the streamed text with the final answer, its sources and the model's name, and returns the ts of
   * every message holding the answer, in order. Throws a `TransientError` (or a `PermanentError` when Slack
   * says retrying cannot help) if the answer could not be shown.
   */
  finish(result: AnswerMessageInput): Promise<string[]>;
  /** Stops streaming after a failure, leaving the placeholder for the apology. Never throws. */
  fail(): Promise<void>;
}

/** Options of both streamers. */
export interface AnswerStreamerOptions {
  channel: string;
  threadTs: string;
  /** The bot's "Typing…" message in the thread. */
  placeholderTs: string;
  /**
   * Continuation messages an earlier run of this step already posted (from its result), updated instead of
   * posted again so that a retried step leaves no duplicate.
   */
  existingContinuationTs?: string[];
  /** @default Date.now */
  now?: () => number;
  /** @default a `setTimeout` promise */
  sleep?: (ms: number) => Promise<void>;
  /** The shortest time between two edits of one message. @default 1000 */
  minIntervalMs?: number;
  /** The longest the time between edits grows to. @default 5000 */
  maxIntervalMs?: number;
  /** @default console */
  logger?: StreamerLogger;
  /**
   * How long the final edit keeps waiting out Slack's rate limits (429 with Retry-After) before the step fails. In
   * the Generate step its Lambda's time (38 s) ends the wait first; the answer it wrote is kept for the retry.
   * @default 45000
   */
  rateLimitBudgetMs?: number;
}

/** Options of {@link createNativeStreamer}. */
export interface NativeStreamerOptions extends AnswerStreamerOptions {
  /** Needed by Slack to stream outside a DM. */
  recipientTeamId?: string;
  recipientUserId?: string;
  /**
   * The steps shown above the answer as task cards of a plan (`task_update` chunks): the search, done, with
   * what it found and the sources, then the writing, in progress until the answer ends. The stream starts with
   * them, before the first token.
   */
  progress?: StreamProgress;
  /**
   * Called once when `chat.startStream` fails and the answer falls back to editing the placeholder; `permanent`
   * only when Slack's refusal says the workspace cannot stream at all (plan, feature, token type, scope), never for
   * a refusal of this one request (`invalid_chunks`, `msg_too_long`, `not_in_channel`, a rate limit, a 5xx).
   */
  onFallback?: (reason: { slackError?: string; permanent: boolean }) => void;
}

/** The task cards of a natively streamed answer. */
export interface StreamProgress {
  searchTitle: string;
  /** What the search found, e.g. "3 passages found". */
  searchOutput: string;
  /** The passages' sections, as a short line each (shown under the search card). */
  searchDetails?: string;
  /** Sources with a web address, linked from the search card. */
  sources: Array<{ url: string; text: string }>;
  writeTitle: string;
}

/** Slack's limit on a task card's `details` and `output`. */
const TASK_TEXT_LIMIT = 256;

/** Shown under a partial answer while it streams. */
export const TYPING_MARKER = '\n\n_Typing…_';
/** Native streams stop here, leaving room below Slack's 12,000-character limit for the final cut. */
const NATIVE_STREAM_SOFT_LIMIT = 10_000;

/** Slack errors that will fail the same way again: retrying the step cannot help. */
const PERMANENT_SLACK_ERRORS = new Set([
  ...CHANNEL_OR_TOKEN_ERRORS,
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'no_text',
  'invalid_arguments',
]);

/**
 * The default streamer: edits the placeholder with the partial answer (and a "Typing…" marker), then with the
 * first final message, and posts the rest of a long answer as continuations in the thread.
 */
export function createUpdateStreamer(
  client: StreamingSlackClient,
  options: AnswerStreamerOptions,
): AnswerStreamer {
  const io = createIo(client, options);
  let buffer = '';

  const pacer = createPacer(
    io,
    options,
    () => buffer,
    // A placeholder posted with blocks would keep showing them over a text-only edit; [] removes them.
    (length) => editPlaceholder(client, options, buffer.slice(0, length)),
  );

  return {
    async begin() {},
    async append(delta) {
      if (pacer.stopped) return;
      buffer += delta;
      pacer.poke();
    },
    async finish(result) {
      await pacer.stop();
      const messages = buildAnswerMessages(result);
      await io.sleep(pacer.schedule.msUntilFinal());
      return io.publishInPlaceholder(messages);
    },
    async fail() {
      await pacer.stop();
    },
  };
}

/**
 * The streamer for `SLACK_STREAM_MODE=native`: streams the answer's Markdown into a new thread reply with
 * `chat.startStream`/`appendStream`, ends it with `chat.stopStream` and the footer blocks, then deletes the
 * placeholder so exactly one bot message holds the answer (plus continuations for a very long one). If the
 * stream could not start, or the final answer is not what was streamed, it falls back to editing the placeholder.
 */
export function createNativeStreamer(
  client: StreamingSlackClient,
  options: NativeStreamerOptions,
): AnswerStreamer {
  const io = createIo(client, options);
  let buffer = '';
  let streamed = '';
  let streamTs: string | undefined;
  /** `chat.startStream` failed: this answer streams by editing the placeholder instead. */
  let fallback = false;
  const progress = options.progress;

  const startStream = async (markdown: string): Promise<void> => {
    try {
      const started = await client.chat.startStream({
        channel: options.channel,
        thread_ts: options.threadTs,
        ...(markdown === '' ? {} : { markdown_text: markdown }),
        ...(progress === undefined
          ? {}
          : { task_display_mode: 'plan', chunks: taskChunks(progress, 'in_progress') as never }),
        ...(options.recipientTeamId === undefined ? {} : { recipient_team_id: options.recipientTeamId }),
        ...(options.recipientUserId === undefined ? {} : { recipient_user_id: options.recipientUserId }),
      } as Parameters<StreamingSlackClient['chat']['startStream']>[0]);
      streamTs = started.ts;
    } catch (error) {
      fallback = true;
      const slackError = slackErrorCode(error);
      io.logger.warn(
        'Slack: could not start a native stream; editing the placeholder instead',
        describe(error),
      );
      // Only a refusal that says this workspace cannot stream (plan, feature, token type, scope) will be the same
      // for every answer; a refusal of this request (its chunks, its length, its channel), a rate limit, a 5xx or
      // a network error says nothing about the next one.
      options.onFallback?.({
        slackError,
        permanent: slackError !== undefined && WORKSPACE_CANNOT_STREAM.has(slackError),
      });
    }
  };

  const pacer = createPacer(
    io,
    options,
    () => {
      if (fallback) return buffer;
      // A link still being written waits for its end, so that its host can be shown after it.
      const soft = buffer.slice(0, NATIVE_STREAM_SOFT_LIMIT);
      return soft.slice(0, linkSafeEnd(soft, streamed.length));
    },
    async (length) => {
      if (fallback) {
        await editPlaceholder(client, options, buffer.slice(0, length));
        return;
      }
      const chunk = buffer.slice(streamed.length, length);
      if (chunk === '') return;
      // Model text, sent as Markdown: no `<!channel>` or `<@U…>` in it may notify anyone, no link hide its host.
      const safeChunk = safeMarkdown(chunk, streamed);
      if (streamTs === undefined) {
        await startStream(safeChunk);
        if (fallback) {
          await editPlaceholder(client, options, buffer.slice(0, length));
          return;
        }
      } else {
        await client.chat.appendStream({ channel: options.channel, ts: streamTs, markdown_text: safeChunk });
      }
      streamed += chunk;
    },
  );

  const fallBackToPlaceholder = (result: AnswerMessageInput): Promise<string[]> =>
    io.publishInPlaceholder(buildAnswerMessages(result));

  return {
    async begin() {
      // The task cards show at once; the answer's text follows them into the same message.
      if (progress !== undefined && streamTs === undefined && !fallback) await startStream('');
    },
    async append(delta) {
      if (pacer.stopped) return;
      buffer += delta;
      pacer.poke();
    },
    async finish(result) {
      await pacer.stop();
      const answer = result.answerMarkdown;
      if (streamTs === undefined) return fallBackToPlaceholder(result);
      const ts = streamTs;
      if (!answer.startsWith(streamed)) {
        io.logger.warn(
          'The final answer differs from the streamed text; showing it in the placeholder instead',
        );
        await io.quietly('stop the stream', () => client.chat.stopStream({ channel: options.channel, ts }));
        await io.quietly('delete the streamed message', () =>
          client.chat.delete({ channel: options.channel, ts }),
        );
        streamTs = undefined;
        return fallBackToPlaceholder(result);
      }
      let tail = answer.slice(streamed.length);
      let rest = '';
      if (answer.length > ANSWER_CHARS_PER_MESSAGE) {
        const cut = findTextCut(answer, ANSWER_CHARS_PER_MESSAGE, streamed.length);
        const fenced = cut.openFence !== undefined;
        tail = `${answer.slice(streamed.length, cut.headEnd).trimEnd()}${fenced ? '\n```' : ''}`;
        rest = `${fenced ? `${reopening(cut.openFence ?? '```')}\n` : ''}${answer.slice(cut.tailStart)}`;
      }
      const continuations =
        rest.trim() === ''
          ? []
          : buildAnswerMessages({ ...result, answerMarkdown: rest }, { continuation: true });
      await io.sleep(pacer.schedule.msUntilFinal());
      await io.final('stop the answer stream', () =>
        client.chat.stopStream({
          channel: options.channel,
          ts,
          ...(tail === '' ? {} : { markdown_text: safeMarkdown(tail, streamed) }),
          ...(progress === undefined ? {} : { chunks: taskChunks(progress, 'complete') as never }),
          ...(continuations.length === 0 ? { blocks: buildFooterBlocks(result) } : {}),
        } as Parameters<StreamingSlackClient['chat']['stopStream']>[0]),
      );
      const all = [ts, ...(await io.publishContinuations(continuations))];
      await io.quietly('delete the placeholder', () =>
        client.chat.delete({ channel: options.channel, ts: options.placeholderTs }),
      );
      return all;
    },
    async fail() {
      await pacer.stop();
      const ts = streamTs;
      if (ts === undefined) return;
      // The apology goes into the placeholder; a half-streamed answer beside it would only confuse.
      await io.quietly('stop the stream', () => client.chat.stopStream({ channel: options.channel, ts }));
      await io.quietly('delete the streamed message', () =>
        client.chat.delete({ channel: options.channel, ts }),
      );
    },
  };
}

/**
 * Refusals of `chat.startStream` that say the workspace (or this app in it) cannot stream at all: its plan, the
 * feature, the token's type or its scopes. Any other refusal is about one request and falls back for that answer only.
 */
const WORKSPACE_CANNOT_STREAM = new Set([
  'not_allowed_token_type',
  'not_allowed',
  'missing_scope',
  'no_permission',
  'access_denied',
  'not_authorized',
  'feature_not_enabled',
  'feature_not_available',
  'team_not_allowed',
  'team_access_not_granted',
  'paid_teams_only',
  'plan_upgrade_required',
  'unknown_method',
  'method_deprecated',
]);

/**
 * The search card (done) and the writing card (`writing`). Their texts come from documents (titles, headings) and
 * are treated as the answer is: no mention, every link's host shown, Slack's 256 characters, no character cut in two.
 */
function taskChunks(progress: StreamProgress, writing: 'in_progress' | 'complete'): unknown[] {
  const cut = (text: string) => capText(safeMarkdown(text), TASK_TEXT_LIMIT);
  const sources = progress.sources.flatMap((source) => {
    const url = safeUrl(source.url);
    if (url === undefined) return [];
    const host = destinationOf(url) ?? url;
    const text = safeMarkdown(source.text.replace(/\s+/g, ' ').trim());
    const shown = labelShowsDestination(source.text, url, host)
      ? capText(text, TASK_TEXT_LIMIT)
      : `${capText(text, TASK_TEXT_LIMIT - host.length - 3)} (${host})`;
    return [{ type: 'url', url, text: shown }];
  });
  return [
    {
      type: 'task_update',
      id: 'search',
      title: progress.searchTitle,
      status: 'complete',
      output: cut(progress.searchOutput),
      ...(progress.searchDetails ? { details: cut(progress.searchDetails) } : {}),
      ...(sources.length === 0 ? {} : { sources: sources.slice(0, 8) }),
    },
    { type: 'task_update', id: 'write', title: progress.writeTitle, status: writing },
  ];
}

/** A web address a task card may link to, with the characters Slack reads as syntax encoded; else undefined. */
function safeUrl(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url) || url.length > 2000 || destinationOf(url) === undefined) return undefined;
  return url.replace(/[<>|\s]/g, encodeURIComponent);
}

/** The update-mode edit of the placeholder with a partial answer. */
async function editPlaceholder(
  client: StreamingSlackClient,
  options: AnswerStreamerOptions,
  markdown: string,
): Promise<void> {
  await client.chat.update({
    channel: options.channel,
    ts: options.placeholderTs,
    text: previewText(markdown),
    blocks: [],
  });
}

/** A partial answer as shown while it streams: at most one message's worth, then "…", then the marker. */
function previewText(markdown: string): string {
  const mrkdwn = toSlackMrkdwn(markdown).trim();
  if (mrkdwn.length <= ANSWER_CHARS_PER_MESSAGE) return `${mrkdwn}${TYPING_MARKER}`;
  const [first = ''] = splitText(mrkdwn, ANSWER_CHARS_PER_MESSAGE);
  return `${first}\n…${TYPING_MARKER}`;
}

interface Io {
  logger: StreamerLogger;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Runs a call whose failure must fail the step. */
  final<T>(what: string, call: () => Promise<T>): Promise<T>;
  /** Runs a call whose failure is only logged. */
  quietly(what: string, call: () => Promise<unknown>): Promise<void>;
  update(ts: string, message: AnswerMessage): Promise<void>;
  /** Whether Slack answered any call of this client with a 429 at or after `time` (Date.now's clock). */
  rateLimitedSince(time: number): boolean;
  /** Updates the continuations an earlier run posted, posts the others, deletes any no longer needed. */
  publishContinuations(messages: AnswerMessage[]): Promise<string[]>;
  /** Puts the first message in the placeholder and publishes the others as continuations. */
  publishInPlaceholder(messages: AnswerMessage[]): Promise<string[]>;
}

/**
 * When each client last met a 429, by the WebClient's `rate_limited` event: it fires for a 429 the client then
 * waits out and retries itself, which the call's result never shows. One listener per client, however many answers
 * it streams (a Lambda container keeps its client across invocations).
 */
const lastRateLimited = new WeakMap<object, number>();

function watchRateLimits(client: StreamingSlackClient): void {
  const emitter = client as Partial<Pick<WebClient, 'on'>>;
  if (lastRateLimited.has(client) || typeof emitter.on !== 'function') return;
  lastRateLimited.set(client, Number.NEGATIVE_INFINITY);
  emitter.on.call(client, WebClientEvent.RATE_LIMITED, () => lastRateLimited.set(client, Date.now()));
}

function createIo(client: StreamingSlackClient, options: AnswerStreamerOptions): Io {
  watchRateLimits(client);
  const logger = options.logger ?? { warn: (message, attributes) => console.warn(message, attributes ?? '') };
  // Kept across calls, so that finishing twice on one streamer updates what the first call posted.
  const continuationTs = [...(options.existingContinuationTs ?? [])];
  const { channel, threadTs } = options;

  const io: Io = {
    logger,
    now: options.now ?? Date.now,
    sleep:
      options.sleep ??
      ((ms) => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)))),
    async final(what, call) {
      // Slack's rate limits (429 + Retry-After) are waited out, within a budget: the answer is late, not lost.
      const deadline = io.now() + (options.rateLimitBudgetMs ?? 45_000);
      for (;;) {
        try {
          return await call();
        } catch (error) {
          const retryAfterMs = rateLimitOf(error);
          if (retryAfterMs === undefined || io.now() + retryAfterMs > deadline)
            throw stepError(error, `Slack: ${what}`);
          // A little jitter, so that answers held back together do not all come back in the same instant.
          await io.sleep(retryAfterMs + Math.floor(Math.random() * 250));
        }
      }
    },
    rateLimitedSince(time) {
      return (lastRateLimited.get(client) ?? Number.NEGATIVE_INFINITY) >= time;
    },
    async quietly(what, call) {
      try {
        await call();
      } catch (error) {
        if (slackErrorCode(error) !== 'message_not_found')
          logger.warn(`Slack: could not ${what}`, describe(error));
      }
    },
    async update(ts, message) {
      await io.final('update the answer message', () =>
        client.chat.update({ channel, ts, text: message.text, blocks: message.blocks }),
      );
    },
    async publishContinuations(messages) {
      const published: string[] = [];
      for (const [index, message] of messages.entries()) {
        const existing = continuationTs[index];
        if (existing !== undefined) {
          await io.update(existing, message);
          published.push(existing);
          continue;
        }
        const posted = await io.final('post a continuation of the answer', () =>
          client.chat.postMessage({
            channel,
            thread_ts: threadTs,
            text: message.text,
            blocks: message.blocks,
            unfurl_links: false,
            unfurl_media: false,
          }),
        );
        if (posted.ts === undefined) throw new TransientError('Slack: chat.postMessage returned no ts');
        continuationTs[index] = posted.ts;
        published.push(posted.ts);
      }
      for (const surplus of continuationTs.splice(messages.length)) {
        await io.quietly('delete a continuation no longer needed', () =>
          client.chat.delete({ channel, ts: surplus }),
        );
      }
      return published;
    },
    async publishInPlaceholder(messages) {
      const [first, ...rest] = messages;
      if (first !== undefined) await io.update(options.placeholderTs, first);
      return [options.placeholderTs, ...(await io.publishContinuations(rest))];
    },
  };
  return io;
}

interface Pacer {
  readonly schedule: UpdateSchedule;
  readonly stopped: boolean;
  /** Sends an edit now if one is due and none is in flight, or arms a timer for when one will be due. */
  poke(): void;
  /** Stops editing and waits for the edit in flight. */
  stop(): Promise<void>;
}

/**
 * Paces the intermediate edits of one message: `visible()` is the text that should be shown, `send(length)`
 * shows its first `length` characters. Failures are logged and skipped.
 */
function createPacer(
  io: Io,
  options: AnswerStreamerOptions,
  visible: () => string,
  send: (length: number) => Promise<void>,
): Pacer {
  const schedule = new UpdateSchedule({
    now: io.now,
    minIntervalMs: options.minIntervalMs,
    maxIntervalMs: options.maxIntervalMs,
  });
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Slack rate-limited an edit: no more partial edits, only the final one. */
  let untilFinal = false;
  const startedAt = Date.now();

  const pacer: Pacer = {
    schedule,
    get stopped() {
      return stopped;
    },
    poke() {
      if (stopped || untilFinal || inFlight !== undefined) return;
      const text = visible();
      const length = text.trim() === '' ? 0 : text.length;
      if (!schedule.shouldFlush(length)) {
        if (length > 0 && timer === undefined && schedule.msUntilNextFlush() > 0) {
          timer = setTimeout(() => {
            timer = undefined;
            pacer.poke();
          }, schedule.msUntilNextFlush());
          timer.unref();
        }
        return;
      }
      inFlight = send(length)
        .then(() => {
          // The client waited out a 429 before this edit went through: as below.
          if (io.rateLimitedSince(startedAt)) untilFinal = true;
        })
        .catch((error: unknown) => {
          // The workspace's edit bucket is empty (chat.update is Tier 3: about 50 a minute for every answer
          // streaming in it). Further partial edits would only take edits other answers' final ones need: this
          // answer shows what it has until its final edit, which waits out the limit (see `final`).
          if (rateLimitOf(error) !== undefined || io.rateLimitedSince(startedAt)) untilFinal = true;
          io.logger.warn('Slack: skipped a streaming edit of the answer', describe(error));
        })
        .finally(() => {
          schedule.markFlushed(length);
          inFlight = undefined;
          pacer.poke();
        });
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
  };
  return pacer;
}

/**
 * How long Slack asked to wait when `error` is a rate limit, in ms; undefined for any other error. WebClient reports
 * one as `slack_webapi_rate_limited_error` (with `rejectRateLimitedCalls`), as a request error once its retries
 * are spent ("A rate limit was exceeded … retry-after: N"), or Slack answers `ok: false, error: ratelimited`.
 */
export function rateLimitOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; retryAfter?: unknown; original?: { message?: unknown } } | null;
  if (e?.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number')
    return Math.max(1, e.retryAfter) * 1000;
  const original = typeof e?.original?.message === 'string' ? e.original.message : '';
  const match = /rate limit was exceeded.*retry-after: (\d+)/i.exec(original);
  if (match !== null) return Math.max(1, Number(match[1])) * 1000;
  if (slackErrorCode(error) === 'ratelimited') return 1000;
  return undefined;
}

function slackErrorCode(error: unknown): string | undefined {
  const code = (error as { data?: { error?: unknown } } | null)?.data?.error;
  return typeof code === 'string' ? code : undefined;
}

function describe(error: unknown): Record<string, unknown> {
  const code = slackErrorCode(error);
  return {
    error: error instanceof Error ? error.message : String(error),
    ...(code === undefined ? {} : { slackError: code }),
  };
}

function stepError(error: unknown, what: string): TransientError | PermanentError {
  const code = slackErrorCode(error);
  const message = `${what}: ${code ?? (error instanceof Error ? error.message : String(error))}`;
  return code !== undefined && PERMANENT_SLACK_ERRORS.has(code)
    ? new PermanentError(message, { cause: error })
    : new TransientError(message, { cause: error });
}
