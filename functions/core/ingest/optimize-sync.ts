import { ensureIndexes, openDocumentTable, optimize } from '../vector-store/document-table';
import { readPlan } from './batch-staging';
import { DEFAULT_LOCK_TTL_SECONDS } from './commit-sync';
import type { IngestServices } from './ingest-services';
import { holdLock, type LockLease } from './sync-lock';
import type { OptimizeResult } from './sync-types';
import { storedEmbedder, WriteOnlyEmbeddings } from './table-signature';

export interface OptimizeSyncOptions {
  now: number;
  table: string;
  /** Whether Commit wrote: compaction and version cleanup are skipped when nothing changed. */
  written: boolean;
  vectorIndexMinRows: number;
  keepVersionsSeconds: number;
  /** How long each renewal of the sync lock extends it (`INGEST_LOCK_TTL_SECONDS`). @default 7200 */
  lockTtlSeconds?: number;
  /** Time between renewals of the sync lock while Optimize runs. @default a third of the TTL */
  renewLockEveryMs?: number;
  /**
   * The store compacts, folds new rows into its indexes and removes old versions by itself (LanceDB Cloud, whose
   * API offers no optimize): only the indexes are made sure of. @default false
   */
  managedStore?: boolean;
}

/**
 * Optimize: makes sure the full-text index exists (the Retrieve step then searches hybrid), builds the vector
 * index once the table passes `vectorIndexMinRows` rows, and after a write compacts the table's small files,
 * folds the new rows into the indexes and removes versions older than `keepVersionsSeconds`. Still under the
 * sync lock, renewed while it runs: compaction writes too, and can take long.
 */
export async function optimizeSync(
  services: Pick<IngestServices, 'lock' | 'staging' | 'connection'> &
    Partial<Pick<IngestServices, 'tableVersion'>>,
  executionName: string,
  options: OptimizeSyncOptions,
): Promise<OptimizeResult> {
  const lease = await holdLock(services.lock(), executionName, {
    now: options.now,
    ttlSeconds: options.lockTtlSeconds ?? DEFAULT_LOCK_TTL_SECONDS,
    renewEveryMs: options.renewLockEveryMs,
  });
  try {
    return await optimizeUnderLock(services, executionName, options, lease);
  } finally {
    await lease.stop();
  }
}

async function optimizeUnderLock(
  services: Pick<IngestServices, 'lock' | 'staging' | 'connection'> &
    Partial<Pick<IngestServices, 'tableVersion'>>,
  executionName: string,
  options: OptimizeSyncOptions,
  lease: LockLease,
): Promise<OptimizeResult> {
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
    if (changed && indexes.rows > 0 && options.managedStore !== true) {
      lease.check();
      const stats = await optimize(handle, {
        keepVersionsMs: options.keepVersionsSeconds * 1000,
        now: options.now,
      });
      oldVersionsRemoved = stats.prune.oldVersionsRemoved;
    }
    // The version Retrieve serves, new indexes and all: recorded after every sync, so that a store from before this
    // record gets one at its next sync. LanceDB Cloud keeps its own versions (Retrieve follows the latest there).
    if (services.tableVersion !== undefined && options.managedStore !== true) {
      lease.check();
      await services.tableVersion()?.write(await handle.table.version(), options.now);
    }
    return {
      status: 'optimized',
      rows: indexes.rows,
      fullText: indexes.fullText,
      vector: indexes.vector,
      compacted: changed && indexes.rows > 0 && options.managedStore !== true,
      oldVersionsRemoved,
    };
  } finally {
    handle.close();
  }
}
