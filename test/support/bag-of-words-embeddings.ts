import { Embeddings } from '@langchain/core/embeddings';

/**
 * A tiny deterministic embedder for tests: words (and, for Japanese, character bigrams) hashed into a few
 * dimensions and normalised. Texts sharing words point the same way, so a vector search finds the chunk that
 * uses the question's words, with no model and no network.
 */
export class BagOfWordsEmbeddings extends Embeddings {
  constructor(readonly dimensions = 64) {
    super({});
  }

  override async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.embed(t));
  }

  override async embedQuery(text: string): Promise<number[]> {
    return this.embed(text);
  }

  private embed(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    for (const token of tokens(text)) {
      const slot = fnv1a(token) % this.dimensions;
      vector[slot] = (vector[slot] ?? 0) + 1;
    }
    const norm = Math.hypot(...vector);
    // A text without words still needs a direction: cosine distance to a zero vector is undefined.
    if (norm === 0) return vector.map((_, i) => (i === 0 ? 1 : 0));
    return vector.map((v) => v / norm);
  }
}

const JAPANESE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

function tokens(text: string): string[] {
  const out: string[] = [];
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (!JAPANESE.test(word)) {
      out.push(word);
      continue;
    }
    const chars = Array.from(word);
    if (chars.length === 1) out.push(word);
    for (let i = 0; i + 1 < chars.length; i++) out.push(`${chars[i]}${chars[i + 1]}`);
  }
  return out;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
