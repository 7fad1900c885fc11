import type { Embeddings } from '@langchain/core/embeddings';
import { OpenAIEmbeddings } from '@langchain/openai';
import type { DocumentRow } from '../vector-store/document-schema';
import { type ChunkToEmbed, embedChunks, embeddingInput } from '../vector-store/embed-chunks';

/** What one embedding request may hold. */
export interface EmbeddingLimits {
  /** Inputs per request. */
  maxInputs: number;
  /** Tokens per request, summed over its inputs (as {@link estimateTokens} counts them). */
  maxRequestTokens: number;
  /** Tokens per input; a longer input is cut for embedding (the stored text stays whole). */
  maxInputTokens: number;
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
   * Asked before each request; `false` stops there, and the rows returned are those of the chunks embedded so
   * far, in order (a prefix of `chunks`). @default always go on
   */
  mayContinue?: () => boolean;
}

/**
 * Embeds chunks into rows in as few requests as the provider's limits allow, one request at a time. A chunk
 * whose embedding input is over the per-input limit is embedded from its beginning; its row keeps the whole
 * text. Rate limits are the embedder's to wait out: LangChain retries a 429 after the server's `Retry-After`
 * (up to a minute), and a longer one surfaces as a transient error the state machine retries later.
 */
export async function embedInRequests(
  embeddings: Embeddings,
  chunks: readonly ChunkToEmbed[],
  options: EmbedInRequestsOptions,
): Promise<{ rows: DocumentRow[]; requests: number }> {
  const limits = options.limits ?? embeddingLimitsFor(embeddings);
  const fitted = chunks.map((chunk) => fitChunk(chunk, limits.maxInputTokens));
  const requests = groupIntoRequests(fitted, (f) => estimateTokens(embeddingInput(f.embedded)), limits);
  const rows: DocumentRow[] = [];
  let sent = 0;
  for (const request of requests) {
    if (options.mayContinue?.() === false) break;
    sent += 1;
    const embedded = await embedChunks(
      embeddings,
      request.map((f) => f.embedded),
      { dimensions: options.dimensions, updatedAt: options.updatedAt },
    );
    embedded.forEach((row, i) => {
      rows.push({ ...row, text: request[i]?.original.text ?? row.text });
    });
  }
  return { rows, requests: sent };
}

function fitChunk(
  chunk: ChunkToEmbed,
  maxTokens: number,
): { original: ChunkToEmbed; embedded: ChunkToEmbed } {
  const input = embeddingInput(chunk);
  if (estimateTokens(input) <= maxTokens) return { original: chunk, embedded: chunk };
  const prefixTokens = estimateTokens(input.slice(0, input.length - chunk.text.length));
  const text = truncateToTokens(chunk.text, Math.max(1, maxTokens - prefixTokens - 1));
  return { original: chunk, embedded: { ...chunk, text } };
}
