import { ensureIndexes, openDocumentTable, optimize } from '../vector-store/document-table';
import { readPlan } from './batch-staging';
import type { IngestServices } from './ingest-services';
import type { OptimizeResult } from './sync-types';
import { storedEmbedder, WriteOnlyEmbeddings } from './table-signature';

export interface OptimizeSyncOptions {
  now: number;
  table: string;
  /** Whether Commit wrote: compaction and version cleanup are skipped when nothing changed. */
  written: boolean;
  vectorIndexMinRows: number;
  keepVersionsSeconds: number;
}

/**
 * Optimize: makes sure the full-text index exists (the Retrieve step then searches hybrid), builds the vector
 * index once the table passes `vectorIndexMinRows` rows, and after a write compacts the table's small files,
 * folds the new rows into the indexes and removes versions older than `keepVersionsSeconds`. Still under the
 * sync lock: compaction writes too.
 */
export async function optimizeSync(
  services: Pick<IngestServices, 'lock' | 'staging' | 'connection'>,
  executionName: string,
  options: OptimizeSyncOptions,
): Promise<OptimizeResult> {
  await services.lock().confirm(executionName, options.now);
  const plan = await readPlan(services, executionName);
  const connection = await services.connection();
  const stored = await storedEmbedder(connection, options.table);
  const skipped: OptimizeResult = {
    status: 'skipped',
    rows: 0,
    fullText: 'skipped',
    vector: 'skipped',
    compacted: false,
    oldVersionsRemoved: 0,
  };
  if (stored === undefined) return skipped;
  const handle = await openDocumentTable(connection, {
    table: options.table,
    embeddings: new WriteOnlyEmbeddings(),
    embedderName: plan.embedder.embedderName,
    dimensions: plan.embedder.dimensions ?? stored.dimensions,
  });
  if (handle === undefined) return skipped;
  try {
    const indexes = await ensureIndexes(handle, { vectorIndexMinRows: options.vectorIndexMinRows });
    const changed = options.written || indexes.fullText === 'created' || indexes.vector === 'created';
    let oldVersionsRemoved = 0;
    if (changed && indexes.rows > 0) {
      const stats = await optimize(handle, {
        keepVersionsMs: options.keepVersionsSeconds * 1000,
        now: options.now,
      });
      oldVersionsRemoved = stats.prune.oldVersionsRemoved;
    }
    return {
      status: 'optimized',
      rows: indexes.rows,
      fullText: indexes.fullText,
      vector: indexes.vector,
      compacted: changed && indexes.rows > 0,
      oldVersionsRemoved,
    };
  } finally {
    handle.close();
  }
}
