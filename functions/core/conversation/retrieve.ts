import type { Connection } from '@lancedb/lancedb';
import type { Embeddings } from '@langchain/core/embeddings';
import type { RetrievalResult } from '../types';
import { openDocumentTable } from '../vector-store/document-table';
import { searchPassages } from '../vector-store/search-passages';

export interface RetrieveOptions {
  table: string;
  /** The configured embedding model: the table must have been built with the same one. */
  embedderName: string;
  k: number;
  /** When set, only passages of these collections (access control, applied inside the query). */
  collections?: readonly string[];
}

const NOTHING_INDEXED: RetrievalResult = { status: 'empty-index', search: 'none', passages: [] };

/**
 * Retrieve: embeds the standalone question and searches the document table, hybrid when it has a full-text
 * index. A table that does not exist yet is the normal state of a fresh install, so it is checked before any
 * embedding call is paid for.
 */
export async function retrievePassages(
  connection: Connection,
  embeddings: Embeddings,
  question: string,
  options: RetrieveOptions,
): Promise<RetrievalResult> {
  if (!(await connection.tableNames()).includes(options.table)) return NOTHING_INDEXED;
  const queryVector = await embeddings.embedQuery(question);
  const handle = await openDocumentTable(connection, {
    table: options.table,
    embeddings,
    embedderName: options.embedderName,
    dimensions: queryVector.length,
  });
  try {
    return await searchPassages(handle, {
      queryText: question,
      queryVector,
      k: options.k,
      collections: options.collections,
    });
  } finally {
    handle?.close();
  }
}
