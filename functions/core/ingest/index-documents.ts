import type { Connection } from '@lancedb/lancedb';
import type { Embeddings } from '@langchain/core/embeddings';
import { embeddingDimensionsOf, embeddingNameOf } from '../llm/providers';
import {
  ensureIndexes,
  openOrCreateDocumentTable,
  replaceSourceChunks,
} from '../vector-store/document-table';
import { embedChunks } from '../vector-store/embed-chunks';
import { loadDocument } from './load-document';
import { type SplitOptions, splitDocument } from './split-document';

export interface SourceFile {
  /** How the document is named in sources: a relative path or an s3:// key. */
  source: string;
  bytes: Uint8Array;
}

export interface IndexResult {
  indexed: number;
  chunks: number;
  failed: { source: string; reason: string }[];
}

/**
 * Loads, splits, embeds and writes documents, one source at a time (each source's chunks replace its old ones
 * in one commit), then refreshes the indexes. A document that cannot be loaded is reported, never fatal.
 */
export async function indexDocuments(
  connection: Connection,
  embeddings: Embeddings,
  files: readonly SourceFile[],
  options: { table: string; now: number; maxBytes?: number; split?: SplitOptions },
): Promise<IndexResult> {
  const dimensions =
    embeddingDimensionsOf(embeddings) ?? (await embeddings.embedQuery('dimension probe')).length;
  const handle = await openOrCreateDocumentTable(connection, {
    table: options.table,
    embeddings,
    embedderName: embeddingNameOf(embeddings),
    dimensions,
  });
  const result: IndexResult = { indexed: 0, chunks: 0, failed: [] };
  try {
    for (const file of files) {
      const loaded = loadDocument(file.bytes, file.source, { maxBytes: options.maxBytes });
      if (!loaded.ok) {
        result.failed.push({ source: file.source, reason: loaded.message });
        continue;
      }
      const chunks = await splitDocument(loaded.document, options.split);
      const rows = await embedChunks(embeddings, chunks, { dimensions, updatedAt: options.now });
      await replaceSourceChunks(handle, file.source, rows);
      result.indexed += 1;
      result.chunks += rows.length;
    }
    await ensureIndexes(handle);
  } finally {
    handle.close();
  }
  return result;
}
