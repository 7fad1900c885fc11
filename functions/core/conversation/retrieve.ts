import type { Embeddings } from '@langchain/core/embeddings';
import type { Reach } from '../access/reach';
import type { RetrievalResult } from '../types';
import type { DocumentTableReader } from '../vector-store/document-table-reader';
import { searchPassages } from '../vector-store/search-passages';

export interface RetrieveOptions {
  k: number;
  /** The length of the embedder's vectors, when known without calling it: the table then opens during the call. */
  dimensions?: number;
  /** What the asker may read here (access control, applied inside the query); undefined: everything. */
  reach?: Reach;
  /** Record each passage's collection (the deployment limits who reads what). */
  withCollection?: boolean;
}

const NOTHING_INDEXED: RetrievalResult = { status: 'empty-index', search: 'none', passages: [] };

/**
 * Retrieve: embeds the standalone question and searches the document table, hybrid when it has a full-text
 * index. A table that does not exist yet is the normal state of a fresh install, so it is checked before any
 * embedding call is paid for. The table stays open in `reader` between questions; a failed search closes it, so
 * that the next question opens it afresh. In a new container, opening the table loads its indexes (about a second
 * at 100,000 chunks on S3): when the embedder's dimension is known, that runs while the question is embedded.
 */
export async function retrievePassages(
  reader: DocumentTableReader,
  embeddings: Embeddings,
  question: string,
  options: RetrieveOptions,
): Promise<RetrievalResult> {
  if (!(await reader.exists())) return NOTHING_INDEXED;
  const opening = options.dimensions === undefined ? undefined : reader.open(options.dimensions);
  // Awaited below; until then a failure to open must not count as unhandled while the embedding is pending.
  opening?.catch(() => undefined);
  const queryVector = await embeddings.embedQuery(question);
  const handle = await (opening ?? reader.open(queryVector.length));
  try {
    return await searchPassages(handle, {
      queryText: question,
      queryVector,
      k: options.k,
      ...(options.reach?.only !== undefined
        ? { collections: options.reach.only }
        : { excludedCollections: options.reach?.closed ?? [] }),
      withCollection: options.withCollection ?? false,
    });
  } catch (error) {
    reader.forget();
    throw error;
  }
}
