import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for the Slack Web API: the real `WebClient` talks to it through `slackApiUrl`, and it keeps
 * a transcript (messages with their edit history, every call) for tests and local runs to read. It enforces the
 * limits the bot can run into (40,000 characters of text, 3,000 per section, 50 blocks, streaming states) and
 * can inject faults (429 with Retry-After, 5xx, `ok: false` errors). Only what the bot uses is implemented.
 */

/** Options of {@link startFakeSlack}. */
export interface FakeSlackOptions {
  /** @default 'U0FAKEBOT' */
  botUserId?: string;
  /** @default 'B0FAKEBOT' */
  botId?: string;
  /** @default 'T0FAKE' */
  teamId?: string;
  /** The app id `auth.test` reports. @default 'A0LOCAL001', the app of scripts/local/fixtures/app-mention.json */
  appId?: string;
  /** @default 0 (any free port) */
  port?: number;
}

/** One edit of a message: a `chat.update`, or text streamed into it. */
export interface FakeMessageUpdate {
  /** When the server applied it, in epoch milliseconds. */
  at: number;
  text: string;
  blocks?: unknown[];
}

/** The current state of one message, with its history of edits. */
export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  user: string;
  /** Set on the bot's own messages. */
  bot_id?: string;
  deleted: boolean;
  /** True between `chat.startStream` and `chat.stopStream`. */
  streaming: boolean;
  /** When it was posted, in epoch milliseconds. */
  postedAt: number;
  updates: FakeMessageUpdate[];
  reactions: string[];
}

/** One request the server answered. */
export interface FakeCall {
  method: string;
  /** The arguments, decoded (JSON-encoded fields such as `blocks` parsed), without the token. */
  args: Record<string, unknown>;
  /** When it arrived, in epoch milliseconds. */
  at: number;
  /** The HTTP status answered. */
  status: number;
  ok: boolean;
  error?: string;
}

/** A fault the next call(s) of one method get instead of being handled. */
export interface FaultOptions {
  /** Answer with this HTTP status; 429 also sends `Retry-After`. */
  status?: 429 | 500 | 503;
  /** The `Retry-After` of a 429, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /** Answer HTTP 200 `{ ok: false, error }` with this error, e.g. `ratelimited`. */
  error?: string;
  /** How many calls in a row fail. @default 1 */
  times?: number;
  /** How many calls of the method succeed first (a fault in the middle of a sequence of posts). @default 0 */
  after?: number;
}

/** How often one message was edited. */
export interface UpdateStats {
  count: number;
  /** The shortest time between two consecutive edits, in ms (Infinity with fewer than two). */
  minGapMs: number;
  /** The most edits within any one-second window. */
  maxPerSecond: number;
}

/** A person as `users.info` describes them (the fields the bot reads; Slack sends many more). */
export interface FakeUser {
  id: string;
  /** The person's home workspace: another one for a Slack Connect user. @default the fake's team */
  team_id?: string;
  /** A multi-channel guest. @default false */
  is_restricted?: boolean;
  /** A single-channel guest. @default false */
  is_ultra_restricted?: boolean;
}

/** A status set with `assistant.threads.setStatus`. */
export interface FakeThreadStatus {
  channel: string;
  thread_ts: string;
  status: string;
  at: number;
}

/** A running fake Slack Web API. */
export interface FakeSlack {
  /** The base URL to pass as `WebClient`'s `slackApiUrl`, e.g. `http://127.0.0.1:PORT/api/`. */
  readonly apiUrl: string;
  /** A token it accepts (any `xoxb-` token is accepted). */
  readonly token: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  /** Every call answered, in order. */
  readonly calls: readonly FakeCall[];
  /** Snapshots of the messages (deleted ones included, flagged), in order of ts; of one channel if given. */
  messages(channel?: string): FakeMessage[];
  /** The thread's parent (when known) and replies that are not deleted, in order of ts. */
  threadReplies(channel: string, threadTs: string): FakeMessage[];
  /** Statuses set with `assistant.threads.setStatus`, in order. */
  statuses(): FakeThreadStatus[];
  /** Adds a message as if a person posted it, e.g. the mention that starts a thread. */
  addMessage(message: { channel: string; text: string; user?: string; thread_ts?: string }): FakeMessage;
  /**
   * Adds or replaces a person `users.info` describes. Anyone not added is a full member of the fake's workspace
   * (real Slack would answer `user_not_found`; the fake stands in for a workspace whose people all exist).
   */
  addUser(user: FakeUser): void;
  /** Makes the next call(s) of `method` fail as described. */
  failNext(method: string, fault: FaultOptions): void;
  /** How often one message was edited (posting it is not an edit). */
  updateStats(channel: string, ts: string): UpdateStats;
  /** The most edits any one message had within one second. */
  maxUpdatesPerSecond(): number;
  /** Polls `predicate` until it returns a truthy value, which it resolves with; rejects after `timeoutMs`. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** Form fields WebClient sends JSON-encoded. */
const JSON_FIELDS = ['blocks', 'chunks', 'attachments', 'metadata'];
const MAX_TEXT = 40_000;
const MAX_STREAM_CHUNK = 12_000;
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;

class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

type Args = Record<string, unknown>;
type Handler = (args: Args) => Record<string, unknown>;

/** Starts the fake on 127.0.0.1. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botUserId = options.botUserId ?? 'U0FAKEBOT';
  const botId = options.botId ?? 'B0FAKEBOT';
  const teamId = options.teamId ?? 'T0FAKE';
  const appId = options.appId ?? 'A0LOCAL001';
  const users = new Map<string, FakeUser>();
  const messages: FakeMessage[] = [];
  const calls: FakeCall[] = [];
  const statuses: FakeThreadStatus[] = [];
  const faults = new Map<string, Array<FaultOptions & { remaining: number }>>();
  let lastMicros = 0;

  const nextTs = (): string => {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, '0')}`;
  };

  const find = (args: Args, tsField = 'ts'): FakeMessage => {
    const channel = requireString(args, 'channel', 'channel_not_found');
    const ts = requireString(args, tsField, 'message_not_found');
    const message = messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
    if (message === undefined) throw new SlackApiError('message_not_found');
    return message;
  };

  const ownMessage = (args: Args): FakeMessage => {
    const message = find(args);
    if (message.user !== botUserId) throw new SlackApiError('cant_update_message');
    return message;
  };

  const post = (
    fields: Partial<FakeMessage> & { channel: string; text: string; user: string },
  ): FakeMessage => {
    const message: FakeMessage = {
      ts: nextTs(),
      deleted: false,
      streaming: false,
      postedAt: Date.now(),
      updates: [],
      reactions: [],
      ...fields,
    };
    messages.push(message);
    return message;
  };

  const edit = (message: FakeMessage, text: string, blocks: unknown[] | undefined): void => {
    message.text = text;
    message.blocks = blocks;
    message.updates.push({ at: Date.now(), text, ...(blocks === undefined ? {} : { blocks }) });
  };

  const view = (message: FakeMessage): Record<string, unknown> => ({
    type: 'message',
    ts: message.ts,
    ...(message.thread_ts === undefined ? {} : { thread_ts: message.thread_ts }),
    text: message.text,
    user: message.user,
    ...(message.bot_id === undefined ? {} : { bot_id: message.bot_id, team: teamId }),
    ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
  });

  const replies = (channel: string, threadTs: string): FakeMessage[] =>
    messages
      .filter((m) => m.channel === channel && !m.deleted && (m.ts === threadTs || m.thread_ts === threadTs))
      .sort((a, b) => compareTs(a.ts, b.ts));

  const handlers: Record<string, Handler> = {
    'auth.test': () => ({
      url: 'https://fake-slack.local/',
      team: 'Fake Workspace',
      user: 'bot',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      app_id: appId,
      app_name: 'Docs Assistant',
      is_enterprise_install: false,
    }),
    // Shaped as Slack's users.info answer (https://docs.slack.dev/reference/methods/users.info), trimmed to
    // the fields that say who a person is; needs the users:read scope.
    'users.info': (args) => {
      const id = requireString(args, 'user', 'user_not_found');
      const user = users.get(id) ?? { id };
      const restricted = user.is_restricted === true || user.is_ultra_restricted === true;
      return {
        user: {
          id,
          team_id: user.team_id ?? teamId,
          name: id.toLowerCase(),
          deleted: false,
          real_name: `Person ${id}`,
          is_admin: false,
          is_owner: false,
          is_primary_owner: false,
          is_restricted: restricted,
          is_ultra_restricted: user.is_ultra_restricted === true,
          is_bot: false,
          is_app_user: false,
          updated: 1_700_000_000,
          profile: {
            real_name: `Person ${id}`,
            display_name: id.toLowerCase(),
            team: user.team_id ?? teamId,
          },
        },
      };
    },
    'chat.postMessage': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const { text, blocks } = content(args, true);
      const threadTs = optionalString(args, 'thread_ts');
      const message = post({
        channel,
        text: text ?? '',
        user: botUserId,
        bot_id: botId,
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
        ...(blocks === undefined || blocks.length === 0 ? {} : { blocks }),
      });
      return { channel, ts: message.ts, message: view(message) };
    },
    'chat.update': (args) => {
      const message = ownMessage(args);
      const { text, blocks } = content(args, true);
      // As in Slack: omitted blocks are kept, an empty array removes them; omitted text is kept.
      const nextBlocks = blocks === undefined ? message.blocks : blocks.length === 0 ? undefined : blocks;
      edit(message, text ?? message.text, nextBlocks);
      return { channel: message.channel, ts: message.ts, text: message.text, message: view(message) };
    },
    'chat.delete': (args) => {
      const message = find(args);
      if (message.user !== botUserId) throw new SlackApiError('cant_delete_message');
      message.deleted = true;
      return { channel: message.channel, ts: message.ts };
    },
    'chat.startStream': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const threadTs = requireString(args, 'thread_ts', 'invalid_arguments');
      const text = streamText(args, false);
      const message = post({
        channel,
        thread_ts: threadTs,
        text,
        user: botUserId,
        bot_id: botId,
        streaming: true,
      });
      return { channel, ts: message.ts };
    },
    'chat.appendStream': (args) => {
      const message = streamingMessage(args);
      const text = streamText(args, true);
      if (message.text.length + text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
      edit(message, message.text + text, message.blocks);
      return { channel: message.channel, ts: message.ts };
    },
    'chat.stopStream': (args) => {
      const message = streamingMessage(args);
      const text = message.text + streamText(args, false);
      if (text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
      const blocks = parseBlocks(args.blocks);
      message.streaming = false;
      edit(message, text, blocks === undefined || blocks.length === 0 ? message.blocks : blocks);
      return { channel: message.channel, ts: message.ts, message: view(message) };
    },
    'reactions.add': (args) => {
      const message = find(args, 'timestamp');
      const name = requireString(args, 'name', 'invalid_name');
      if (message.reactions.includes(name)) throw new SlackApiError('already_reacted');
      message.reactions.push(name);
      return {};
    },
    'assistant.threads.setStatus': (args) => {
      statuses.push({
        channel: requireString(args, 'channel_id', 'channel_not_found'),
        thread_ts: requireString(args, 'thread_ts', 'invalid_arguments'),
        status: optionalString(args, 'status') ?? '',
        at: Date.now(),
      });
      return {};
    },
    'conversations.replies': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const ts = requireString(args, 'ts', 'thread_not_found');
      const thread = replies(channel, ts);
      if (thread.length === 0) throw new SlackApiError('thread_not_found');
      return { messages: thread.map(view), has_more: false, response_metadata: { next_cursor: '' } };
    },
  };

  function streamingMessage(args: Args): FakeMessage {
    const message = ownMessage(args);
    if (!message.streaming) throw new SlackApiError('message_not_in_streaming_state');
    return message;
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = url.pathname.replace(/^\/api\//, '');
    const raw = await readBody(request);
    let args: Args;
    try {
      args = { ...Object.fromEntries(url.searchParams), ...decodeBody(raw, request.headers['content-type']) };
    } catch {
      return answer(200, { ok: false, error: 'invalid_json' });
    }
    const token = bearer(request.headers.authorization) ?? optionalString(args, 'token');
    delete args.token;
    const record = (status: number, body: Record<string, unknown>): void => {
      const error = typeof body.error === 'string' ? body.error : undefined;
      calls.push({
        method,
        args,
        at,
        status,
        ok: body.ok === true,
        ...(error === undefined ? {} : { error }),
      });
    };
    function answer(
      status: number,
      body: Record<string, unknown>,
      headers: Record<string, string> = {},
    ): void {
      record(status, body);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      response.end(JSON.stringify(body));
    }

    const fault = takeFault(method);
    if (fault !== undefined) {
      if (fault.status === 429) {
        const retryAfter = String(fault.retryAfterSeconds ?? 1);
        return answer(429, { ok: false, error: fault.error ?? 'ratelimited' }, { 'retry-after': retryAfter });
      }
      if (fault.status !== undefined)
        return answer(fault.status, { ok: false, error: fault.error ?? 'fatal_error' });
      return answer(200, { ok: false, error: fault.error ?? 'fatal_error' });
    }
    if (token === undefined) return answer(200, { ok: false, error: 'not_authed' });
    if (!token.startsWith('xoxb-')) return answer(200, { ok: false, error: 'invalid_auth' });
    const handler = handlers[method];
    if (handler === undefined) return answer(200, { ok: false, error: 'unknown_method' });
    try {
      return answer(200, { ok: true, ...handler(args) });
    } catch (error) {
      if (error instanceof SlackApiError)
        return answer(200, { ok: false, error: error.error, ...error.extra });
      throw error;
    }
  }

  function takeFault(method: string): FaultOptions | undefined {
    const queue = faults.get(method);
    const fault = queue?.[0];
    if (queue === undefined || fault === undefined) return undefined;
    if (fault.after !== undefined && fault.after > 0) {
      fault.after--;
      return undefined;
    }
    fault.remaining--;
    if (fault.remaining <= 0) queue.shift();
    return fault;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    token: 'xoxb-fake-slack-token',
    botUserId,
    botId,
    teamId,
    calls,
    messages: (channel) =>
      structuredClone(messages.filter((m) => channel === undefined || m.channel === channel)).sort((a, b) =>
        compareTs(a.ts, b.ts),
      ),
    threadReplies: (channel, threadTs) => structuredClone(replies(channel, threadTs)),
    statuses: () => structuredClone(statuses),
    addMessage: ({ channel, text, user, thread_ts }) =>
      structuredClone(
        post({ channel, text, user: user ?? 'U0HUMAN', ...(thread_ts === undefined ? {} : { thread_ts }) }),
      ),
    addUser: (user) => {
      users.set(user.id, { ...user });
    },
    failNext: (method, fault) => {
      const queue = faults.get(method) ?? [];
      queue.push({ ...fault, remaining: Math.max(1, fault.times ?? 1) });
      faults.set(method, queue);
    },
    updateStats: (channel, ts) => {
      const message = messages.find((m) => m.channel === channel && m.ts === ts);
      return statsOf(message?.updates.map((u) => u.at) ?? []);
    },
    maxUpdatesPerSecond: () =>
      Math.max(0, ...messages.map((m) => statsOf(m.updates.map((u) => u.at)).maxPerSecond)),
    waitFor: (predicate, timeoutMs = 2000) => waitFor(predicate, timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function statsOf(times: number[]): UpdateStats {
  let minGapMs = Number.POSITIVE_INFINITY;
  let maxPerSecond = 0;
  for (let i = 0; i < times.length; i++) {
    const at = times[i] ?? 0;
    if (i > 0) minGapMs = Math.min(minGapMs, at - (times[i - 1] ?? 0));
    let inWindow = 0;
    for (let j = i; j < times.length && (times[j] ?? 0) - at < 1000; j++) inWindow++;
    maxPerSecond = Math.max(maxPerSecond, inWindow);
  }
  return { count: times.length, minGapMs, maxPerSecond };
}

async function waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function compareTs(a: string, b: string): number {
  return Number(a) - Number(b) || a.localeCompare(b);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Form bodies (WebClient's default, with objects JSON-encoded) or JSON bodies. */
function decodeBody(raw: string, contentType: string | undefined): Args {
  if (raw.trim() === '') return {};
  if (contentType?.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Args) : {};
  }
  const args: Args = Object.fromEntries(new URLSearchParams(raw));
  for (const field of JSON_FIELDS) {
    const value = args[field];
    if (typeof value !== 'string') continue;
    try {
      args[field] = JSON.parse(value);
    } catch {
      // Left as sent: the method answers with Slack's error for malformed JSON.
    }
  }
  return args;
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

function optionalString(args: Args, name: string): string | undefined {
  const value = args[name];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function requireString(args: Args, name: string, error: string): string {
  const value = optionalString(args, name);
  if (value === undefined) throw new SlackApiError(error);
  return value;
}

/** The text and blocks of a post or update, checked against Slack's limits. */
function content(args: Args, requireOne = true): { text?: string; blocks?: unknown[] } {
  const text = typeof args.text === 'string' ? args.text : undefined;
  const blocks = parseBlocks(args.blocks);
  if (requireOne && (text === undefined || text === '') && (blocks === undefined || blocks.length === 0)) {
    throw new SlackApiError('no_text');
  }
  if (text !== undefined && text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
  return { ...(text === undefined ? {} : { text }), ...(blocks === undefined ? {} : { blocks }) };
}

/** `markdown_text` and the text of `markdown_text` chunks of a streaming call. */
function streamText(args: Args, required: boolean): string {
  let text = typeof args.markdown_text === 'string' ? args.markdown_text : '';
  const chunks = parseJson(args.chunks, 'invalid_chunks');
  if (chunks !== undefined) {
    if (!Array.isArray(chunks)) throw new SlackApiError('invalid_chunks');
    for (const chunk of chunks as Array<{ type?: unknown; text?: unknown }>) {
      if (chunk?.type === 'markdown_text' && typeof chunk.text === 'string') text += chunk.text;
    }
  }
  if (required && text === '') throw new SlackApiError('invalid_arguments');
  if (text.length > MAX_STREAM_CHUNK) throw new SlackApiError('msg_too_long');
  return text;
}

function parseJson(value: unknown, error: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new SlackApiError(error);
  }
}

function parseBlocks(value: unknown): unknown[] | undefined {
  if (value === undefined || value === '') return undefined;
  const blocks = parseJson(value, 'invalid_blocks_format');
  if (!Array.isArray(blocks)) throw new SlackApiError('invalid_blocks_format');
  const errors: string[] = [];
  if (blocks.length > MAX_BLOCKS) errors.push(`must contain at most ${MAX_BLOCKS} blocks`);
  blocks.forEach((block, index) => {
    const problem = blockProblem(block);
    if (problem !== undefined) errors.push(`${problem} [json-pointer:/blocks/${index}]`);
  });
  if (errors.length > 0) throw new SlackApiError('invalid_blocks', { errors });
  return blocks;
}

function blockProblem(block: unknown): string | undefined {
  if (typeof block !== 'object' || block === null) return 'must be an object';
  const { type, text, fields, elements } = block as {
    type?: unknown;
    text?: unknown;
    fields?: unknown;
    elements?: unknown;
  };
  if (typeof type !== 'string') return 'missing type';
  if (type === 'section') {
    const body = (text as { text?: unknown } | undefined)?.text;
    if (body === undefined && fields === undefined) return 'section needs text or fields';
    if (
      body !== undefined &&
      (typeof body !== 'string' || body.length === 0 || body.length > MAX_SECTION_TEXT)
    ) {
      return `section text must be 1 to ${MAX_SECTION_TEXT} characters`;
    }
  }
  if (type === 'context' && (!Array.isArray(elements) || elements.length === 0 || elements.length > 10)) {
    return 'context needs 1 to 10 elements';
  }
  const header = (text as { text?: unknown } | undefined)?.text;
  if (type === 'header' && (typeof header !== 'string' || header.length > 150)) {
    return 'header text must be a string of at most 150 characters';
  }
  return undefined;
}
