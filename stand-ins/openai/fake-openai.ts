import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { LocalExtractiveChatModel } from '../../functions/core/llm/local-chat-model';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';

/**
 * A fake OpenAI API on loopback, for tests that run the real `@langchain/openai` clients against it:
 * `POST /v1/chat/completions` (JSON, or SSE with `stream: true`) and `POST /v1/embeddings`. Replies are
 * grounded by default (the `local` provider's extractive model reads the received prompt), or scripted.
 * Faults can be injected: error statuses with or without `Retry-After`, and a stream cut before `[DONE]`.
 */

export interface RecordedRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** The request headers, without `authorization`. */
  headers: Record<string, string | string[] | undefined>;
  /** Whether a bearer key was sent, and whether it was the one expected (when `apiKey` was given). */
  auth: 'ok' | 'missing' | 'wrong-key';
  /** The parsed JSON body (undefined when it was not JSON). */
  body: unknown;
  /** The status answered, once the answer is sent. */
  status?: number;
}

export interface FailureOptions {
  status: 400 | 401 | 429 | 500 | 503;
  /**
   * Sent as `Retry-After`. LangChain retries a 429 only when it has one (of a minute or less); a 429 without
   * one is taken as "out of capacity" and thrown at once.
   */
  retryAfterSeconds?: number;
  /** How many requests in a row fail. @default 1 */
  times?: number;
  /** Only requests to this path fail, e.g. `/v1/embeddings`. @default any path */
  path?: string;
}

/** A model that stops answering: see `FakeOpenAI.hangNext`. */
export interface HangOptions {
  /** Only requests to this path hang, e.g. `/v1/embeddings`. @default any path */
  path?: string;
  /** Only requests whose body holds this text hang: one question among others. */
  containing?: string;
  /** Only streamed chat completions (true) or only the others (false). @default either */
  stream?: boolean;
  /** How many matching requests in a row hang. @default 1 */
  times?: number;
  /** A streamed reply first sends this many content chunks, then hangs mid-stream. @default 0: before any reply */
  afterChunks?: number;
  /** Then drops the connection after this long, as an idle connection is dropped. @default never: held until close */
  dropAfterMs?: number;
}

export interface FakeOpenAI {
  /** The base URL to give a client, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string;
  requests: RecordedRequest[];
  /** Queues chat replies, used in order, one per chat completion, before the default grounded replies. */
  script(...replies: string[]): void;
  failNext(options: FailureOptions): void;
  /** Ends the next streamed chat completion after `afterChunks` content chunks, without `[DONE]`. */
  cutStreamNext(options: { afterChunks: number }): void;
  /**
   * Holds the next matching request(s) for `ms` before answering: a slow model or a stuck connection. With
   * `containing`, only requests whose body holds that text are held: a model slow on one document.
   */
  delayNext(options: { ms: number; path?: string; times?: number; containing?: string }): void;
  /**
   * The next matching request(s) hang: no reply (or, with `afterChunks`, a streamed reply that stops midway), held
   * open until `dropAfterMs` drops the connection or the server closes. A hung model, as the steps' time budget sees it.
   */
  hangNext(options: HangOptions): void;
  /**
   * Another user of the key spends `tokens` of the embeddings' token budget (`embeddingRateLimit`) the moment the next
   * embeddings request arrives, before that request is counted: a limit found spent by a sync's first request, however
   * late a loaded machine sends it.
   */
  spendBeforeNextEmbedding(tokens: number): void;
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** When set, only this bearer key is accepted; otherwise any non-empty one is. */
  apiKey?: string;
  /**
   * Streamed replies send this many pieces (words with their trailing space) a second, as a real model writes its
   * answer over seconds (gpt-4.1-mini: roughly 50–100 tokens a second, over answers of a few hundred tokens). The
   * grounded replies are short, so a few pieces a second give the seconds of streaming a real answer takes.
   * @default unpaced: every piece at once
   */
  streamPiecesPerSecond?: number;
  /**
   * OpenAI's rate limits for `/v1/embeddings`, per minute, refilled continuously as OpenAI's are: past them a request
   * is answered 429 with OpenAI's error body and headers. @default the environment's `FAKE_OPENAI_EMBEDDING_RPM` and
   * `FAKE_OPENAI_EMBEDDING_TPM`, else no limit
   */
  embeddingRateLimit?: EmbeddingRateLimitOptions;
}

/** Per-minute limits of the fake's embeddings endpoint (see `FakeOpenAIOptions.embeddingRateLimit`). */
export interface EmbeddingRateLimitOptions {
  requestsPerMinute?: number;
  /** Tokens are counted as `usage` counts them: a quarter of the characters of each input. */
  tokensPerMinute?: number;
  /**
   * The window the limits are "per": OpenAI's is a minute; tests shorten it so a few seconds show what minutes
   * would (the headers then speak of the shortened window, as the client reads them). @default 60_000
   */
  windowMs?: number;
}

type OpenAIMessage = { role?: string; content?: unknown };

const ERROR_BODIES: Record<number, { message: string; type: string; code: string | null }> = {
  401: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
  404: { message: 'Unknown request URL.', type: 'invalid_request_error', code: 'unknown_url' },
  400: {
    message: 'We could not parse the JSON body of your request.',
    type: 'invalid_request_error',
    code: null,
  },
  // Worded so LangChain does not read it as an exhausted quota, which it never retries.
  429: { message: 'Rate limit reached for requests.', type: 'requests', code: 'rate_limit_exceeded' },
  500: {
    message: 'The server had an error while processing your request.',
    type: 'server_error',
    code: null,
  },
  503: { message: 'The server is overloaded or not ready yet.', type: 'server_error', code: null },
};

function sendError(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  const error = ERROR_BODIES[status] ?? { message: 'Error.', type: 'server_error', code: null };
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { ...error, param: null } }));
}

function sendJson(res: ServerResponse, headers: Record<string, string>, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: unknown }) =>
      part?.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join('');
}

function toLangChain(messages: OpenAIMessage[]): BaseMessage[] {
  return messages.flatMap((m): BaseMessage[] => {
    const content = textOf(m.content);
    if (m.role === 'system' || m.role === 'developer') return [new SystemMessage(content)];
    if (m.role === 'user') return [new HumanMessage(content)];
    if (m.role === 'assistant') return [new AIMessage(content)];
    return [];
  });
}

/** OpenAI's rule of thumb, about four characters a token; never zero, which clients read as "no usage". */
function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** A duration as Go's `time.Duration` prints it, as OpenAI's reset headers carry it: `6m0s`, `1.2s`, `20ms`. */
export function goDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Number(((ms % 60_000) / 1_000).toFixed(3));
  const minutes = Math.floor(ms / 60_000);
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

/** A per-minute budget refilled continuously, as OpenAI's limits are (not all at once each minute). */
class MinuteBudget {
  private level: number;
  private at = Date.now();
  constructor(
    readonly limit: number,
    private readonly windowMs = 60_000,
  ) {
    this.level = limit;
  }
  available(): number {
    const now = Date.now();
    this.level = Math.min(this.limit, this.level + ((now - this.at) * this.limit) / this.windowMs);
    this.at = now;
    return this.level;
  }
  take(amount: number): void {
    this.available();
    this.level -= amount;
  }
  /** Milliseconds until `amount` is available. */
  msUntil(amount: number): number {
    return Math.max(0, ((amount - this.available()) * this.windowMs) / this.limit);
  }
  headers(kind: 'requests' | 'tokens'): Record<string, string> {
    const level = this.available();
    return {
      [`x-ratelimit-limit-${kind}`]: String(this.limit),
      [`x-ratelimit-remaining-${kind}`]: String(Math.max(0, Math.floor(level))),
      [`x-ratelimit-reset-${kind}`]: goDuration(((this.limit - level) * this.windowMs) / this.limit),
    };
  }
}

function limitFromEnv(name: string): number | undefined {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number of 1 or more; got "${raw}"`);
  return value;
}

function inputsOf(input: unknown): string[] {
  const items = Array.isArray(input) && input.every((i) => typeof i !== 'number') ? input : [input];
  return items.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
}

/** Starts the fake server on 127.0.0.1 (never another interface). */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const scripted: string[] = [];
  const failures: Array<FailureOptions & { times: number }> = [];
  const delays: { ms: number; path?: string; times: number; containing?: string }[] = [];
  const cuts: number[] = [];
  const hangs: Array<HangOptions & { times: number }> = [];
  /** Requests being held, released (and their connection dropped) on close. */
  const held = new Set<() => void>();

  /** Holds a request for `ms` (or until close), then drops its connection. */
  async function hang(res: ServerResponse, ms: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const release = () => {
        held.delete(release);
        clearTimeout(timer);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(release, ms);
      held.add(release);
    });
    res.socket?.destroy();
  }
  const local = new LocalExtractiveChatModel();
  const pieceDelayMs =
    options.streamPiecesPerSecond !== undefined && options.streamPiecesPerSecond > 0
      ? 1000 / options.streamPiecesPerSecond
      : 0;
  const embeddingsBySize = new Map<number, LocalHashEmbeddings>();
  const rpm = options.embeddingRateLimit?.requestsPerMinute ?? limitFromEnv('FAKE_OPENAI_EMBEDDING_RPM');
  const tpm = options.embeddingRateLimit?.tokensPerMinute ?? limitFromEnv('FAKE_OPENAI_EMBEDDING_TPM');
  const windowMs = options.embeddingRateLimit?.windowMs;
  const requestBudget = rpm !== undefined ? new MinuteBudget(rpm, windowMs) : undefined;
  const tokenBudget = tpm !== undefined ? new MinuteBudget(tpm, windowMs) : undefined;
  /** Tokens another user spends before the next embeddings request is counted (`spendBeforeNextEmbedding`). */
  let spendBeforeNext = 0;

  /**
   * Takes a request's share of the limits, or answers 429 as OpenAI does: its error body (type `requests` or
   * `tokens`, code `rate_limit_exceeded`, "Please try again in …"), the `x-ratelimit-*` headers, `retry-after-ms`
   * and `retry-after`. A request larger than the whole tokens-per-minute limit is "too large", with no wait that
   * would cure it. Returns the headers of a successful answer, or undefined once the 429 is sent.
   */
  function takeRateLimit(
    res: ServerResponse,
    model: string,
    tokens: number,
  ): Record<string, string> | undefined {
    const limitHeaders = () => ({
      ...requestBudget?.headers('requests'),
      ...tokenBudget?.headers('tokens'),
    });
    const tooMuch = (
      kind: 'requests' | 'tokens',
      budget: MinuteBudget,
      requested: number,
    ): { kind: 'requests' | 'tokens'; waitMs: number; message: string } | undefined => {
      const available = budget.available();
      if (available >= requested) return undefined;
      const unit = kind === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
      const where = `for ${model} in organization org-fake on ${unit}`;
      if (requested > budget.limit) {
        return {
          kind,
          waitMs: 0,
          message:
            `Request too large ${where}: Limit ${budget.limit}, Requested ${requested}. ` +
            'The input or output tokens must be reduced in order to run successfully. ' +
            'Visit https://platform.openai.com/account/rate-limits to learn more.',
        };
      }
      const waitMs = budget.msUntil(requested);
      return {
        kind,
        waitMs,
        message:
          `Rate limit reached ${where}: Limit ${budget.limit}, Used ${Math.ceil(budget.limit - available)}, ` +
          `Requested ${requested}. Please try again in ${goDuration(waitMs)}. ` +
          'Visit https://platform.openai.com/account/rate-limits to learn more.',
      };
    };
    const refusal =
      (requestBudget !== undefined ? tooMuch('requests', requestBudget, 1) : undefined) ??
      (tokenBudget !== undefined ? tooMuch('tokens', tokenBudget, tokens) : undefined);
    if (refusal !== undefined) {
      res.writeHead(429, {
        'content-type': 'application/json',
        ...limitHeaders(),
        ...(refusal.waitMs > 0
          ? {
              'retry-after-ms': String(Math.ceil(refusal.waitMs)),
              'retry-after': String(Math.ceil(refusal.waitMs / 1_000)),
            }
          : {}),
      });
      res.end(
        JSON.stringify({
          error: { message: refusal.message, type: refusal.kind, param: null, code: 'rate_limit_exceeded' },
        }),
      );
      return undefined;
    }
    requestBudget?.take(1);
    tokenBudget?.take(tokens);
    return limitHeaders();
  }

  async function chatCompletion(
    res: ServerResponse,
    body: Record<string, unknown>,
    stall?: HangOptions,
  ): Promise<void> {
    const messages = Array.isArray(body.messages) ? (body.messages as OpenAIMessage[]) : [];
    const model = typeof body.model === 'string' ? body.model : 'gpt-fake';
    const text = scripted.shift() ?? (await local.invoke(toLangChain(messages))).text;
    const promptTokens = roughTokens(messages.map((m) => textOf(m.content)).join('\n'));
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: roughTokens(text),
      total_tokens: promptTokens + roughTokens(text),
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      sendJson(
        res,
        {},
        {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: text, refusal: null },
              logprobs: null,
              finish_reason: 'stop',
            },
          ],
          usage,
        },
      );
      return;
    }

    const includeUsage =
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
    // Each event is flushed before the next, so a cut stream has really delivered the chunks before it.
    const send = (data: string) => new Promise<void>((resolve) => res.write(data, () => resolve()));
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    await send(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
    const cutAfter = cuts.shift();
    const pieces = text.match(/\S+\s*|\s+/g) ?? [];
    for (const [i, piece] of pieces.entries()) {
      if (stall !== undefined && i >= (stall.afterChunks ?? 0)) return hang(res, stall.dropAfterMs);
      if (cutAfter !== undefined && i >= cutAfter) {
        // Destroying the socket mid-body is how a dropped connection looks to the client.
        res.socket?.destroy();
        return;
      }
      if (i > 0 && pieceDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, pieceDelayMs));
      await send(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]));
    }
    await send(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    if (includeUsage) await send(chunk([], { usage }));
    res.end('data: [DONE]\n\n');
  }

  async function embeddings(res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : 1536;
    let embedder = embeddingsBySize.get(dimensions);
    if (embedder === undefined) {
      embedder = new LocalHashEmbeddings({ dimensions });
      embeddingsBySize.set(dimensions, embedder);
    }
    const inputs = inputsOf(body.input);
    const model = typeof body.model === 'string' ? body.model : 'text-embedding-3-small';
    const tokens = inputs.reduce((sum, input) => sum + roughTokens(input), 0);
    if (spendBeforeNext > 0) {
      tokenBudget?.take(spendBeforeNext);
      spendBeforeNext = 0;
    }
    const limitHeaders = takeRateLimit(res, model, tokens);
    if (limitHeaders === undefined) return;
    const vectors = await embedder.embedDocuments(inputs);
    // The openai SDK asks for base64 unless told otherwise, and decodes it as little-endian float32.
    const base64 = body.encoding_format === 'base64';
    sendJson(res, limitHeaders, {
      object: 'list',
      data: vectors.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
      })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const { authorization, ...headers } = req.headers;
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const auth =
      bearer === undefined
        ? 'missing'
        : options.apiKey !== undefined && bearer !== options.apiKey
          ? 'wrong-key'
          : 'ok';
    const record: RecordedRequest = { method: req.method ?? 'GET', path, headers, auth, body };
    requests.push(record);
    res.once('finish', () => {
      record.status = res.statusCode;
    });

    if (auth !== 'ok') return sendError(res, 401);
    const known = path === '/v1/chat/completions' || path === '/v1/embeddings';
    if (req.method !== 'POST' || !known) return sendError(res, 404);
    if (typeof body !== 'object' || body === null) return sendError(res, 400);

    const delay = delays.find(
      (d) =>
        (d.path === undefined || d.path === path) &&
        (d.containing === undefined || raw.includes(d.containing)),
    );
    if (delay !== undefined) {
      delay.times -= 1;
      if (delay.times <= 0) delays.splice(delays.indexOf(delay), 1);
      await new Promise((resolve) => setTimeout(resolve, delay.ms));
    }
    const streamed = (body as { stream?: unknown }).stream === true;
    const hung = hangs.find(
      (h) =>
        (h.path === undefined || h.path === path) &&
        (h.containing === undefined || raw.includes(h.containing)) &&
        (h.stream === undefined || h.stream === streamed),
    );
    if (hung !== undefined) {
      hung.times -= 1;
      if (hung.times <= 0) hangs.splice(hangs.indexOf(hung), 1);
      if (hung.afterChunks === undefined || !streamed || path !== '/v1/chat/completions')
        return hang(res, hung.dropAfterMs);
    }
    const failure = failures.find((f) => f.path === undefined || f.path === path);
    if (failure !== undefined) {
      failure.times -= 1;
      if (failure.times <= 0) failures.splice(failures.indexOf(failure), 1);
      const retryAfter = failure.retryAfterSeconds;
      return sendError(
        res,
        failure.status,
        retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
      );
    }
    const json = body as Record<string, unknown>;
    return path === '/v1/embeddings' ? embeddings(res, json) : chatCompletion(res, json, hung);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500);
      else res.destroy(error instanceof Error ? error : undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...replies) => {
      scripted.push(...replies);
    },
    failNext: (failure) => {
      failures.push({ ...failure, times: failure.times ?? 1 });
    },
    delayNext: ({ ms, path, times = 1, containing }) => {
      delays.push({ ms, path, times, containing });
    },
    cutStreamNext: ({ afterChunks }) => {
      cuts.push(afterChunks);
    },
    hangNext: (hangOptions) => {
      hangs.push({ ...hangOptions, times: hangOptions.times ?? 1 });
    },
    spendBeforeNextEmbedding: (tokens) => {
      spendBeforeNext = tokens;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Keep-alive connections from the clients would otherwise hold the server open.
        for (const release of [...held]) release();
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
