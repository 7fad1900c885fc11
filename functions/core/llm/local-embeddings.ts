import { Embeddings } from '@langchain/core/embeddings';
import { glossaryEnglishOf } from './glossary-ja-en';
import { segments, terms } from './terms';

/**
 * Offline embeddings for the `local` provider: no network, no model file, the same vector for the same text on
 * every machine. Each text becomes a bag of features (the word and CJK terms of `terms.ts`, plus character
 * 3-grams of words so "rotation" still lands near "rotate"), hashed into a fixed number of dimensions.
 * Related texts share features and so score a higher cosine similarity; that is all retrieval needs to work
 * end to end without OpenAI, though it knows no synonyms.
 */

/** @default 512 */
export const DEFAULT_LOCAL_DIMENSIONS = 512;

/** Features of whole terms count more than the 3-grams, which only bridge spelling variants. */
const TERM_WEIGHT = 1;
const TRIGRAM_WEIGHT = 0.4;

/** Hashed for a text with no features, so every vector has unit length: a zero vector has no cosine. */
const EMPTY_FEATURE = 'e:';

export interface LocalHashEmbeddingsFields {
  /** Length of every vector. @default 512 */
  dimensions?: number;
}

/** 32-bit FNV-1a over UTF-16 code units: tiny, fast and stable across platforms. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Murmur3's finaliser: mixes all bits of the hash so its top bit is an independent sign. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weighted features of a text; prefixes keep a word and a 3-gram with the same letters apart. */
function features(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const weights = new Map<string, number>();
  const add = (feature: string, weight: number) => {
    counts.set(feature, (counts.get(feature) ?? 0) + 1);
    weights.set(feature, weight);
  };
  for (const term of terms(text)) add(`t:${term}`, TERM_WEIGHT);
  for (const segment of segments(text)) {
    if (segment.kind !== 'word') continue;
    const padded = `#${segment.surface.toLowerCase()}#`;
    for (let i = 0; i + 3 <= padded.length; i += 1) add(`g:${padded.slice(i, i + 3)}`, TRIGRAM_WEIGHT);
  }
  if (counts.size === 0) add(EMPTY_FEATURE, TERM_WEIGHT);
  // Sublinear term frequency: a word said five times is more important, not five times more.
  const out = new Map<string, number>();
  for (const [feature, count] of counts)
    out.set(feature, (1 + Math.log(count)) * (weights.get(feature) ?? 0));
  return out;
}

/** Deterministic, offline feature-hashing embeddings (signed hashing, sublinear tf, L2-normalised). */
export class LocalHashEmbeddings extends Embeddings {
  /** The honest name of these embeddings, recorded with the vectors: `local-hash-<dimensions>`. */
  readonly modelName: string;
  readonly dimensions: number;

  constructor(fields: LocalHashEmbeddingsFields = {}) {
    super({});
    const dimensions = fields.dimensions ?? DEFAULT_LOCAL_DIMENSIONS;
    if (!Number.isInteger(dimensions) || dimensions < 8) {
      throw new RangeError(`dimensions must be a whole number of at least 8; got ${dimensions}`);
    }
    this.dimensions = dimensions;
    this.modelName = `local-hash-${dimensions}`;
  }

  /** The vector of one text, synchronously (the async methods only wrap this). */
  embed(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    for (const [feature, weight] of features(text)) {
      const hash = fnv1a(feature);
      const index = hash % this.dimensions;
      // Signed hashing: colliding features cancel out on average instead of piling up.
      const sign = mix(hash) & 0x80000000 ? -1 : 1;
      vector[index] = (vector[index] ?? 0) + sign * weight;
    }
    const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
    // Opposite signs could cancel every feature; fall back to the empty text's vector rather than zeros.
    if (norm === 0) return this.embed('');
    return vector.map((v) => v / norm);
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    return documents.map((document) => this.embed(document));
  }

  /**
   * A Japanese query also carries the glossary's English for its words (`glossaryEnglishOf`), so that it meets English documents; the
   * documents' own vectors are never expanded.
   */
  override async embedQuery(document: string): Promise<number[]> {
    if (!/[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(document)) return this.embed(document);
    const english = glossaryEnglishOf(document);
    return this.embed(english === '' ? document : `${document}\n${english}`);
  }
}
