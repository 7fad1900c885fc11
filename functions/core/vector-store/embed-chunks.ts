import type { Embeddings } from '@langchain/core/embeddings';
import { PermanentError } from '../errors';
import type { DocumentRow } from './document-schema';

/** A chunk ready to embed: everything a row holds but its vector and write time. */
export interface ChunkToEmbed {
  id: string;
  text: string;
  source: string;
  title: string;
  heading: string;
  collection?: string;
  contentHash: string;
  pageStart?: number;
  pageEnd?: number;
  url?: string;
}

/** Options for {@link embedChunks}. */
export interface EmbedChunksOptions {
  /** The dimension the table holds; a vector of another length fails the whole batch. */
  dimensions: number;
  /** Written into every row's `updatedAt`, in epoch milliseconds. */
  updatedAt: number;
}

/**
 * What is embedded for a chunk: its title and heading path, then its text. A chunk deep in a section often
 * never names its subject ("Run the command below…"); the path ("Setup › VPN › Rotating keys") puts the subject
 * back, which is what a question about it will be near. The stored text stays the chunk's own.
 */
export function embeddingInput(chunk: Pick<ChunkToEmbed, 'title' | 'heading' | 'text'>): string {
  const path = chunk.heading.startsWith(chunk.title)
    ? chunk.heading
    : [chunk.title, chunk.heading].filter((p) => p !== '').join(' › ');
  return path === '' ? chunk.text : `${path}\n\n${chunk.text}`;
}

/**
 * Embeds chunks into table rows, in one `embedDocuments` call (the embedder batches, and retries what LangChain
 * retries; the ingest waits out 429s itself, see ingest/embedding-requests.ts).
 *
 * @throws {PermanentError} when the embedder returns a vector of another dimension, or a different count.
 */
export async function embedChunks(
  embeddings: Embeddings,
  chunks: readonly ChunkToEmbed[],
  options: EmbedChunksOptions,
): Promise<DocumentRow[]> {
  if (chunks.length === 0) return [];
  const vectors = await embeddings.embedDocuments(chunks.map(embeddingInput));
  if (vectors.length !== chunks.length) {
    throw new PermanentError(`the embedder returned ${vectors.length} vectors for ${chunks.length} chunks`);
  }
  return chunks.map((chunk, i) => {
    const vector = vectors[i] ?? [];
    if (vector.length !== options.dimensions) {
      throw new PermanentError(
        `the embedder returned a ${vector.length}-dimensional vector for a chunk of "${chunk.source}"; ` +
          `the index holds ${options.dimensions}-dimensional vectors`,
      );
    }
    return {
      id: chunk.id,
      vector,
      text: chunk.text,
      source: chunk.source,
      title: chunk.title,
      heading: chunk.heading,
      collection: chunk.collection ?? null,
      contentHash: chunk.contentHash,
      updatedAt: options.updatedAt,
      ...(chunk.pageStart !== undefined
        ? { pageStart: chunk.pageStart, pageEnd: chunk.pageEnd ?? chunk.pageStart }
        : {}),
      ...(chunk.url !== undefined ? { url: chunk.url } : {}),
    };
  });
}
