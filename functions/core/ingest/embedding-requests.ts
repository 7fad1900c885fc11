import type { Embeddings } from '@langchain/core/embeddings';
import { OpenAIEmbeddings } from '@langchain/openai';
import type { DocumentRow } from '../vector-store/document-schema';
import { type ChunkToEmbed, embedChunks, embeddingInput } from '../vector-store/embed-chunks';
import {
  EmbeddingRateLimitError,
  type EmbeddingRateLimiter,
  type EmbeddingStats,
  isRateLimited,
  rateLimiterOf,
} from './embedding-rate-limit';

/** What one embedding request may hold. */
export interface EmbeddingLimits {
  /** Inputs per request. */
  maxInputs: number;
  /** Tokens per request, summed over its inputs (as {@link estimateTokens} counts them). */
  maxRequestTokens: number;
  /** Tokens per input; a longer input is cut for embedding (the stored text stays whole). */
  maxInputTokens: number;
  /**
   * Characters per input (UTF-16 code units, never fewer than the provider counts), where the provider limits
   * characters rather than tokens (Cohere Embed on Bedrock: 2,048); cut like a long input. @default no limit
   */
  maxInputCharacters?: number;
  /**
   * Requests in flight at once. One for OpenAI, whose requests are large and whose headers pace each next one;
   * more where a request is small and the quota counts requests (Bedrock's InvokeModel: one text a request for
   * Titan). @default 1
   */
  concurrency?: number;
}

/**
 * An embedder that says what one of its requests may hold (the Bedrock embedder: one InvokeModel), so that each
 * `embedDocuments` call of the ingest is one request to the provider and counted as one.
 */
export interface WithEmbeddingLimits {
  embeddingLimits(): EmbeddingLimits;
}

function hasEmbeddingLimits(embeddings: Embeddings): embeddings is Embeddings & WithEmbeddingLimits {
  return typeof (embeddings as Partial<WithEmbeddingLimits>).embeddingLimits === 'function';
}

/** OpenAI's embeddings endpoint: 2,048 inputs and 300,000 tokens a request, 8,191 tokens an input. */
export const OPENAI_EMBEDDING_LIMITS: EmbeddingLimits = {
  maxInputs: 2_048,
  maxRequestTokens: 300_000,
  maxInputTokens: 8_191,
};

/**
 * The limits for an embedder. `OpenAIEmbeddings` cuts every `embedDocuments` call into requests of its
 * `batchSize` inputs and sends them all at once; keeping each call within one batch makes each call exactly one
 * request, sent one after another, so a 429 slows the batch down instead of multiplying.
 */
export function embeddingLimitsFor(embeddings: Embeddings): EmbeddingLimits {
  if (embeddings instanceof OpenAIEmbeddings) {
    return {
      ...OPENAI_EMBEDDING_LIMITS,
      maxInputs: Math.min(OPENAI_EMBEDDING_LIMITS.maxInputs, embeddings.batchSize),
    };
  }
  if (hasEmbeddingLimits(embeddings)) return embeddings.embeddingLimits();
  return OPENAI_EMBEDDING_LIMITS;
}

/**
 * A conservative estimate of the tokens OpenAI's tokenizers (cl100k, o200k) make of `text`, without loading a
 * tokenizer: ASCII at three characters a token (English averages four), other two-byte characters (accents,
 * Cyrillic, Greek) at one each, other BMP characters (Japanese, Chinese, Korean) at one and a half (Japanese
 * averages about one), and characters beyond the BMP (emoji) at four, their UTF-8 length, which no tokenizer
 * exceeds. Over-estimating only makes requests smaller; under-estimating would make OpenAI refuse one.
 */
export function estimateTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    if (code < 0x80) ascii += 1;
    else if (code < 0x800) other += 1;
    else if (code < 0x10000) other += 1.5;
    else other += 4;
  }
  return Math.ceil(ascii / 3 + other);
}

/** The longest prefix of `text` estimated at no more than `maxTokens`, never splitting a character. */
export function truncateToTokens(text: string, maxTokens: number): string {
  if (estimateTokens(text) <= maxTokens) return text;
  let low = 0;
  const characters = Array.from(text);
  let high = characters.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (estimateTokens(characters.slice(0, middle).join('')) <= maxTokens) low = middle;
    else high = middle - 1;
  }
  return characters.slice(0, low).join('');
}

/** The longest prefix of `text` of at most `maxCharacters` UTF-16 code units, never splitting a character. */
export function truncateToCharacters(text: string, maxCharacters: number): string {
  if (text.length <= maxCharacters) return text;
  const cut = text.slice(0, maxCharacters);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Groups items, in order, into requests within `limits`; every item fits alone (see {@link truncateToTokens}). */
export function groupIntoRequests<T>(
  items: readonly T[],
  tokensOf: (item: T) => number,
  limits: EmbeddingLimits,
): T[][] {
  const requests: T[][] = [];
  let current: T[] = [];
  let tokens = 0;
  for (const item of items) {
    const size = Math.min(tokensOf(item), limits.maxInputTokens);
    if (
      current.length > 0 &&
      (current.length >= limits.maxInputs || tokens + size > limits.maxRequestTokens)
    ) {
      requests.push(current);
      current = [];
      tokens = 0;
    }
    current.push(item);
    tokens += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** Options for {@link embedInRequests}. */
export interface EmbedInRequestsOptions {
  /** The dimension every vector must have (the table's). */
  dimensions: number;
  /** Written into every row's `updatedAt`, epoch milliseconds. */
  updatedAt: number;
  /** @default embeddingLimitsFor(embeddings) */
  limits?: EmbeddingLimits;
  /**
   * Asked before each request, told how long this request waited for the rate limit; `false` stops there, and the
   * rows returned are those of the chunks embedded so far, in order (a prefix of `chunks`). @default always go on
   */
  mayContinue?: (waitedMs: number) => boolean;
  /**
   * The longest wait for the rate limit that still leaves time for the request; a longer one throws
   * {@link EmbeddingRateLimitError}. @default no limit
   */
  maxWaitMs?: () => number;
  /** @default rateLimiterOf(embeddings) */
  limiter?: EmbeddingRateLimiter;
  /** Waits; tests give a clock of their own. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  clock?: () => number;
}

/**
 * 429s in a row for one request before giving up. In Lambda the invocation's time ends the waiting first (see
 * `maxWaitMs`); this bounds a run without a clock, against a provider that never lets a request through.
 */
export const MAX_RATE_LIMITED_ATTEMPTS = 20;

/**
 * Embeds chunks into rows in as few requests as the provider's limits allow, `limits.concurrency` requests at a
 * time (one for OpenAI), taken in order. A chunk whose embedding input is over the per-input limit is embedded
 * from its beginning; its row keeps the whole text.
 *
 * Rate limits are waited out here, not in LangChain or the AWS SDK (the ingest's embedder rethrows a 429 at once,
 * see ingest-embeddings.ts): before each request for as long as the provider's last headers say its tokens or
 * requests need to come back, and after a 429 for as long as it says (`retry-after-ms`, `retry-after`, "try again
 * in"), or, when it says nothing (Bedrock's ThrottlingException), for a backoff that doubles from 1 s to 20 s; the
 * requests in flight at once share one limiter, so all of them wait. Each wait must fit in `maxWaitMs`; when it
 * does not, {@link EmbeddingRateLimitError} (a transient error) ends the batch for the state machine to retry
 * later, unless it may stop early (`mayContinue` given) and has embedded something: then it returns the rows so
 * far, as when `mayContinue` says stop. The rows returned are always those of a prefix of `chunks` (with several
 * requests in flight, rows answered after one that stopped are left out). What was waited and sent is returned as
 * `stats`.
 */
export async function embedInRequests(
  embeddings: Embeddings,
  chunks: readonly ChunkToEmbed[],
  options: EmbedInRequestsOptions,
): Promise<{ rows: DocumentRow[]; requests: number; stats: EmbeddingStats }> {
  const limits = options.limits ?? embeddingLimitsFor(embeddings);
  const limiter = options.limiter ?? rateLimiterOf(embeddings);
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const fitted = chunks.map((chunk) => {
    const f = fitChunk(chunk, limits);
    return { ...f, tokens: Math.min(estimateTokens(embeddingInput(f.embedded)), limits.maxInputTokens) };
  });
  type Fitted = (typeof fitted)[number];
  const stats: EmbeddingStats = {
    requests: 0,
    chunks: 0,
    tokens: 0,
    rateLimited: 0,
    waitedMs: 0,
    startedAt: clock(),
    endedAt: clock(),
  };
  /** The requests answered, by their place in the order they were taken. */
  const answered = new Map<number, { request: Fitted[]; tokens: number; rows: DocumentRow[] }>();
  const failures: { index: number; error: unknown }[] = [];
  let taken = 0;
  let next = 0;
  let stopped = false;

  /** Sends one request, waiting out the rate limit; undefined when `mayContinue` says stop. */
  async function send(request: Fitted[], tokens: number): Promise<DocumentRow[] | undefined> {
    let waitedMs = await waitForRateLimit(limiter, tokens, options, sleep, 0);
    stats.waitedMs += waitedMs;
    if (stopped || options.mayContinue?.(waitedMs) === false) return undefined;
    for (let attempt = 1; ; attempt++) {
      limiter.spend(tokens);
      const sentAt = clock();
      try {
        const rows = await embedChunks(
          embeddings,
          request.map((f) => f.embedded),
          { dimensions: options.dimensions, updatedAt: options.updatedAt },
        );
        limiter.observeSucceeded(sentAt);
        return rows;
      } catch (error) {
        if (!isRateLimited(error)) throw error;
        stats.rateLimited += 1;
        limiter.observeRateLimited(error, sentAt);
        if (attempt >= MAX_RATE_LIMITED_ATTEMPTS) {
          throw new EmbeddingRateLimitError(
            `the embedding provider answered ${attempt} requests in a row with 429 (rate limited); the batch is retried later`,
            { cause: error },
          );
        }
        waitedMs = await waitForRateLimit(limiter, tokens, options, sleep, stats.rateLimited);
        stats.waitedMs += waitedMs;
      }
    }
  }

  async function worker(): Promise<void> {
    while (!stopped && next < fitted.length) {
      // Grouped one request at a time: once the provider has said its tokens per minute, no request holds more.
      const perMinute = limiter.tokensPerMinute();
      const requestLimits =
        perMinute === undefined
          ? limits
          : { ...limits, maxRequestTokens: Math.max(1, Math.min(limits.maxRequestTokens, perMinute)) };
      const request = groupIntoRequests(fitted.slice(next), (f) => f.tokens, requestLimits)[0] ?? [];
      const index = taken++;
      next += request.length;
      const tokens = request.reduce((sum, f) => sum + f.tokens, 0);
      try {
        const rows = await send(request, tokens);
        if (rows === undefined) {
          stopped = true;
          return;
        }
        stats.requests += 1;
        answered.set(index, { request, tokens, rows });
      } catch (error) {
        stopped = true;
        failures.push({ index, error });
        return;
      }
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, limits.concurrency ?? 1) }, () => worker()));

  const rows: DocumentRow[] = [];
  for (let index = 0; answered.has(index); index++) {
    const { request, tokens, rows: embedded } = answered.get(index) ?? { request: [], tokens: 0, rows: [] };
    stats.chunks += request.length;
    stats.tokens += tokens;
    embedded.forEach((row, i) => {
      rows.push({ ...row, text: request[i]?.original.text ?? row.text });
    });
  }
  failures.sort((a, b) => a.index - b.index);
  const fatal = failures.find((f) => !(f.error instanceof EmbeddingRateLimitError)) ?? failures[0];
  // A batch that may stop early and has embedded something keeps it when only the rate limit stopped it: it
  // stops here as if its time were short, so what it finished is staged and the rest runs one document per
  // invocation, instead of a retry embedding it all again under the same limit.
  if (
    fatal !== undefined &&
    !(fatal.error instanceof EmbeddingRateLimitError && options.mayContinue !== undefined && rows.length > 0)
  ) {
    throw fatal.error;
  }
  stats.endedAt = clock();
  return { rows, requests: stats.requests, stats };
}

/**
 * Waits as long as the limiter says a request of `tokens` needs, if that fits, then asks again (requests sent
 * meanwhile by other batches in the process may have spent what it waited for); returns the milliseconds waited.
 * Each wait is lengthened by up to a tenth, at random, so that batches told the same reset do not all send at once.
 */
async function waitForRateLimit(
  limiter: EmbeddingRateLimiter,
  tokens: number,
  options: Pick<EmbedInRequestsOptions, 'maxWaitMs'>,
  sleep: (ms: number) => Promise<void>,
  rateLimited: number,
): Promise<number> {
  let waited = 0;
  for (let delay = limiter.delayBeforeMs(tokens); delay > 0; delay = limiter.delayBeforeMs(tokens)) {
    const allowed = options.maxWaitMs?.() ?? Number.POSITIVE_INFINITY;
    if (delay > allowed) {
      const seen = rateLimited > 0 ? ` after ${rateLimited} answer(s) 429` : '';
      throw new EmbeddingRateLimitError(
        `the embedding provider's rate limit needs a wait of ${seconds(delay)}${seen} before the next request ` +
          `(${tokens} tokens), and this invocation has ${seconds(Math.max(0, allowed))} left for it; ` +
          'the batch is retried later with nothing staged',
      );
    }
    const jittered = Math.min(allowed, Math.ceil(delay * (1 + Math.random() / 10)));
    await sleep(jittered);
    waited += jittered;
  }
  return waited;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function fitChunk(
  chunk: ChunkToEmbed,
  limits: Pick<EmbeddingLimits, 'maxInputTokens' | 'maxInputCharacters'>,
): { original: ChunkToEmbed; embedded: ChunkToEmbed } {
  const maxTokens = limits.maxInputTokens;
  const maxCharacters = limits.maxInputCharacters ?? Number.POSITIVE_INFINITY;
  const input = embeddingInput(chunk);
  if (estimateTokens(input) <= maxTokens && input.length <= maxCharacters) {
    return { original: chunk, embedded: chunk };
  }
  const prefix = input.slice(0, input.length - chunk.text.length);
  let text = truncateToTokens(chunk.text, Math.max(1, maxTokens - estimateTokens(prefix) - 1));
  text = truncateToCharacters(text, Math.max(1, maxCharacters - prefix.length));
  return { original: chunk, embedded: { ...chunk, text } };
}
