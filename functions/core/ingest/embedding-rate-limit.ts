import type { Embeddings } from '@langchain/core/embeddings';
import { TransientError } from '../errors';

/**
 * The embedding provider's rate limits as its responses tell them. OpenAI limits an organisation's requests and
 * tokens per minute, per model, whoever sends them, and every response carries where that shared budget stands:
 *
 * - `x-ratelimit-limit-requests` / `-tokens`: the limits, per minute;
 * - `x-ratelimit-remaining-requests` / `-tokens`: what is left now;
 * - `x-ratelimit-reset-requests` / `-tokens`: how long until it is full again, as a Go duration (`6m0s`, `1s`,
 *   `20ms`, `1.2s`): the budget refills continuously, not at a minute's turn;
 * - on a 429, `retry-after-ms` and `retry-after` (seconds), and a message saying "Please try again in 1.2s".
 *
 * So the concurrent Batch Lambdas of a sync share the limit through the provider itself: each reads the
 * organisation's state from every answer it gets and waits before a request that would not fit, and a 429 (a
 * race between Lambdas, or other users of the same key) tells it exactly how long to wait. A shared counter of
 * our own (a DynamoDB token bucket) was not chosen: it would cost a conditional write per request and still not
 * see the other users of the key (the questions' embeddings, other tools), where the headers see them all.
 *
 * Bedrock says none of this: its quota on an embedding model is InvokeModel requests per minute, and past it it
 * answers ThrottlingException (429) with no header and no wait in its message. The limiter then backs off on its own
 * (see {@link EmbeddingRateLimiter.observeRateLimited}), one wait for every request the process has in flight.
 */

/** One of the two budgets (requests or tokens) as of one response. */
export interface RateLimitWindow {
  /** The limit per minute, when the provider said. */
  limit?: number;
  /** What was left when the response was received. */
  remaining: number;
  /** Milliseconds until the budget is full again, from then. */
  resetMs: number;
}

/** What the headers of one response say. */
export interface RateLimitState {
  requests?: RateLimitWindow;
  tokens?: RateLimitWindow;
  /** On a 429: how long to wait before trying again (`retry-after-ms`, else `retry-after`). */
  retryAfterMs?: number;
}

/** Headers as the fetch API or a plain record holds them. */
export type HeadersLike = { get(name: string): string | null } | Record<string, unknown>;

function header(headers: HeadersLike | undefined, name: string): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  const value =
    typeof headers.get === 'function'
      ? (headers as { get(name: string): string | null }).get(name)
      : (headers as Record<string, unknown>)[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

const DURATION_UNITS_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000_001,
};

/**
 * Milliseconds of a Go duration as OpenAI writes its reset headers (`6m0s`, `1s`, `20ms`, `1h2m3.5s`); a bare
 * number is seconds. Undefined for anything else. Hand-written: the format is Go's `time.Duration.String()`, a
 * dozen characters, and the npm parsers of durations read `m` or `ms` differently from Go or want spaces.
 */
export function parseResetDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1_000;
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let end = 0;
  for (let match = part.exec(trimmed); match !== null; match = part.exec(trimmed)) {
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? ''] ?? 0);
    end = part.lastIndex;
  }
  return end > 0 && end === trimmed.length ? total : undefined;
}

function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

function windowOf(headers: HeadersLike, kind: 'requests' | 'tokens'): RateLimitWindow | undefined {
  const remaining = count(header(headers, `x-ratelimit-remaining-${kind}`));
  const resetMs = parseResetDuration(header(headers, `x-ratelimit-reset-${kind}`));
  if (remaining === undefined || resetMs === undefined) return undefined;
  const limit = count(header(headers, `x-ratelimit-limit-${kind}`));
  return { remaining, resetMs, ...(limit !== undefined ? { limit } : {}) };
}

/** What a response's headers say of the rate limits; fields the provider did not send are absent. */
export function rateLimitStateOf(headers: HeadersLike | undefined): RateLimitState {
  if (headers === undefined) return {};
  const requests = windowOf(headers, 'requests');
  const tokens = windowOf(headers, 'tokens');
  const retryAfterMsHeader = Number(header(headers, 'retry-after-ms'));
  const retryAfterHeader = header(headers, 'retry-after');
  const retryAfterMs =
    Number.isFinite(retryAfterMsHeader) && retryAfterMsHeader >= 0
      ? retryAfterMsHeader
      : retryAfterHeader !== undefined && /^\d+(\.\d+)?$/.test(retryAfterHeader)
        ? Number(retryAfterHeader) * 1_000
        : undefined;
  return {
    ...(requests !== undefined ? { requests } : {}),
    ...(tokens !== undefined ? { tokens } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

/** "Please try again in 1.2s" (or "in 20ms"), in a 429's message: the wait when no header says it. */
export function retryAfterInMessage(message: string | undefined): number | undefined {
  const match = /try again in (\d+(?:\.\d+)?(?:ms|s|m|h)(?:\d+(?:\.\d+)?(?:ms|s|m|h))*)/i.exec(message ?? '');
  return parseResetDuration(match?.[1]);
}

/**
 * The HTTP status of a provider error, however the client wrapped it: OpenAI's client sets `status`, the AWS SDK
 * `$metadata.httpStatusCode` (Bedrock's ThrottlingException is a 429).
 */
function statusOf(error: unknown): number | undefined {
  const record = (error ?? {}) as {
    status?: unknown;
    response?: { status?: unknown };
    $metadata?: { httpStatusCode?: unknown };
  };
  const status = record.status ?? record.response?.status ?? record.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A 429 that waiting cures (not an exhausted quota, which OpenAI also answers with 429). */
export function isRateLimited(error: unknown): boolean {
  return statusOf(error) === 429 && !isQuotaExhausted(error);
}

/** OpenAI's 429 `insufficient_quota`: the account's credit or budget is spent; no wait cures it. */
export function isQuotaExhausted(error: unknown): boolean {
  const record = (error ?? {}) as { code?: unknown; error?: { code?: unknown } };
  return statusOf(error) === 429 && (record.code ?? record.error?.code) === 'insufficient_quota';
}

/**
 * The embedding provider's limit cannot be met within the invocation's time. A `TransientError` by name too, so
 * the state machine's Retry on "Load, split and embed" runs the batch again later, in a new invocation with its
 * whole time; the batch staged nothing, so nothing of it is written twice.
 */
export class EmbeddingRateLimitError extends TransientError {}

/** What a sync's embedding cost, summed over its batches. */
export interface EmbeddingStats {
  /**
   * Embedding requests that succeeded (Bedrock: InvokeModel calls). With several in flight, one answered after
   * another that stopped the batch is counted here though its chunks are not kept.
   */
  requests: number;
  /** Chunks embedded. */
  chunks: number;
  /** Tokens sent, as estimated before sending (see `estimateTokens`). */
  tokens: number;
  /** 429 answers seen (and waited out). */
  rateLimited: number;
  /** Milliseconds spent waiting for the rate limit, before requests and after 429s. */
  waitedMs: number;
  /** When the first embedding request was about to be sent, epoch milliseconds. */
  startedAt: number;
  /** When the last one was answered. */
  endedAt: number;
}

/** The sum of batches' stats: counts added, the span from the first start to the last end. */
export function addEmbeddingStats(a: EmbeddingStats | undefined, b: EmbeddingStats): EmbeddingStats {
  if (a === undefined) return { ...b };
  return {
    requests: a.requests + b.requests,
    chunks: a.chunks + b.chunks,
    tokens: a.tokens + b.tokens,
    rateLimited: a.rateLimited + b.rateLimited,
    waitedMs: a.waitedMs + b.waitedMs,
    startedAt: Math.min(a.startedAt, b.startedAt),
    endedAt: Math.max(a.endedAt, b.endedAt),
  };
}

/** A sync's embedding as its report gives it. */
export interface EmbeddingThroughput {
  chunks: number;
  /** Estimated tokens sent (see `estimateTokens`: about a third more than OpenAI counts for English). */
  tokens: number;
  requests: number;
  /** 429 answers the batches saw and waited out (those of a batch attempt that then failed are not counted). */
  rateLimited: number;
  /** Milliseconds the batches waited for the rate limit, summed over batches running at once. */
  waitedMs: number;
  /** From the first request sent to the last answer received, over all batches. */
  ms: number;
  chunksPerSecond: number;
  tokensPerSecond: number;
}

/** The throughput of summed stats: chunks and tokens over the span from the first request to the last answer. */
export function embeddingThroughputOf(stats: EmbeddingStats): EmbeddingThroughput {
  const ms = Math.max(1, stats.endedAt - stats.startedAt);
  const perSecond = (n: number) => Math.round((n / ms) * 1_000 * 10) / 10;
  return {
    chunks: stats.chunks,
    tokens: stats.tokens,
    requests: stats.requests,
    rateLimited: stats.rateLimited,
    waitedMs: Math.round(stats.waitedMs),
    ms,
    chunksPerSecond: perSecond(stats.chunks),
    tokensPerSecond: perSecond(stats.tokens),
  };
}

/** The first wait after a 429 that names none, doubled for each such 429 in a row. */
export const RATE_LIMIT_BACKOFF_FIRST_MS = 1_000;
/** The longest of those waits. Bedrock's per-minute quotas refill continuously, so a minute is never needed. */
export const RATE_LIMIT_BACKOFF_MAX_MS = 20_000;

function backoffMs(step: number): number {
  return Math.min(RATE_LIMIT_BACKOFF_MAX_MS, RATE_LIMIT_BACKOFF_FIRST_MS * 2 ** Math.max(0, step - 1));
}

/** A window as last seen, with when it was seen. */
interface Seen extends RateLimitWindow {
  at: number;
  /** Spent in this process since (requests sent before the next answer says where the budget stands). */
  spent: number;
}

/**
 * One process's view of the provider's shared rate limits, fed by every response (see
 * {@link observingFetch}) and by the 429s: how long to wait before a request of so many tokens. A budget seen
 * with `remaining` left is full again after its reset, refilling evenly until then.
 */
export class EmbeddingRateLimiter {
  private requests: Seen | undefined;
  private tokens: Seen | undefined;
  private blockedUntil = 0;
  /** 429s without a named wait in a row (see {@link observeRateLimited}). */
  private backoffStep = 0;
  private lastRateLimitedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: () => number = Date.now) {}

  /** Takes in the headers of a response (any status). */
  observe(headers: HeadersLike | undefined): void {
    const state = rateLimitStateOf(headers);
    const at = this.clock();
    if (state.requests !== undefined) this.requests = { ...state.requests, at, spent: 0 };
    if (state.tokens !== undefined) this.tokens = { ...state.tokens, at, spent: 0 };
  }

  /**
   * Takes in a 429: nothing is sent before the wait it names (its headers, else its message). A 429 that names
   * none (Bedrock's ThrottlingException: no header, "Too many requests, please wait before trying again.") is
   * backed off exponentially, 1, 2, 4, 8, 16 then 20 s: the step grows only with a 429 to a request sent after
   * the previous one was seen (requests already in flight then were sent too early, not refused after a wait),
   * and goes back to a second once such a request succeeds (see {@link observeSucceeded}). Every request sent
   * through this limiter waits the same wait, however many are in flight.
   *
   * @param sentAt when the refused request was sent (`clock()`); unknown means after every 429 seen so far.
   */
  observeRateLimited(error: unknown, sentAt?: number): void {
    const record = (error ?? {}) as { headers?: HeadersLike; message?: unknown };
    this.observe(record.headers);
    const state = rateLimitStateOf(record.headers);
    const message = typeof record.message === 'string' ? record.message : undefined;
    const named =
      state.retryAfterMs ??
      retryAfterInMessage(message) ??
      Math.max(
        state.tokens?.remaining === 0 ? state.tokens.resetMs : 0,
        state.requests?.remaining === 0 ? state.requests.resetMs : 0,
      );
    const now = this.clock();
    if (sentAt === undefined || sentAt >= this.lastRateLimitedAt) this.backoffStep += 1;
    this.lastRateLimitedAt = now;
    const waitMs = named > 0 ? named : backoffMs(this.backoffStep);
    this.blockedUntil = Math.max(this.blockedUntil, now + waitMs);
  }

  /** Takes in a success: one sent after the last 429 was seen brings the backoff back to its first step. */
  observeSucceeded(sentAt: number): void {
    if (sentAt >= this.lastRateLimitedAt) this.backoffStep = 0;
  }

  /** The tokens-per-minute limit, once a response has said it: no request may hold more. */
  tokensPerMinute(): number | undefined {
    return this.tokens?.limit;
  }

  /** Milliseconds to wait before sending a request of `tokens` tokens; 0 to send it now. */
  delayBeforeMs(tokens: number): number {
    const now = this.clock();
    return Math.max(
      0,
      this.blockedUntil - now,
      this.windowDelay(this.requests, 1, now),
      this.windowDelay(this.tokens, tokens, now),
    );
  }

  /** Counts a request about to be sent against the budgets, until the next answer says where they stand. */
  spend(tokens: number): void {
    if (this.requests !== undefined) this.requests.spent += 1;
    if (this.tokens !== undefined) this.tokens.spent += tokens;
  }

  private windowDelay(seen: Seen | undefined, need: number, now: number): number {
    if (seen === undefined) return 0;
    const elapsed = now - seen.at;
    const missing = seen.limit !== undefined ? seen.limit - seen.remaining : undefined;
    // The budget refills linearly to full over its reset, which is how the provider describes it; when it was
    // full (nothing to refill), at its limit per minute.
    const perMs =
      seen.resetMs > 0 && missing !== undefined && missing > 0
        ? missing / seen.resetMs
        : seen.limit !== undefined
          ? seen.limit / 60_000
          : seen.resetMs > 0
            ? Math.max(1, seen.remaining) / seen.resetMs
            : Number.POSITIVE_INFINITY;
    if (!Number.isFinite(perMs)) return 0;
    const refilled = Math.min(missing ?? Number.POSITIVE_INFINITY, elapsed * perMs);
    const available = seen.remaining + refilled - seen.spent;
    // More than the whole limit can never be available: wait for it to be full and let the provider judge.
    const wanted = seen.limit !== undefined ? Math.min(need, seen.limit) : need;
    if (available >= wanted) return 0;
    const untilFull = Math.max(0, seen.resetMs - elapsed);
    return Math.ceil(Math.min((wanted - available) / perMs, untilFull + 1));
  }
}

const limiters = new WeakMap<Embeddings, EmbeddingRateLimiter>();

/** The rate limiter that sees `embeddings`' responses (see {@link observingFetch}); a new one otherwise. */
export function rateLimiterOf(embeddings: Embeddings): EmbeddingRateLimiter {
  let limiter = limiters.get(embeddings);
  if (limiter === undefined) {
    limiter = new EmbeddingRateLimiter();
    limiters.set(embeddings, limiter);
  }
  return limiter;
}

/** Records that `limiter` sees the responses `embeddings` gets. */
export function attachRateLimiter(embeddings: Embeddings, limiter: EmbeddingRateLimiter): void {
  limiters.set(embeddings, limiter);
}

/**
 * A `fetch` for the OpenAI client that shows every response's headers to `limiter`: LangChain returns only the
 * vectors, and the remaining budget is in the headers of the answers that succeed.
 */
export function observingFetch(limiter: EmbeddingRateLimiter, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    limiter.observe(response.headers);
    return response;
  };
}
