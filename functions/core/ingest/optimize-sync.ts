import {
  type DocumentTable,
  ensureIndexes,
  openDocumentTable,
  optimize,
  unindexedRows,
} from '../vector-store/document-table';
import { TAIL_IN_MEMORY_MAX_ROWS } from '../vector-store/search-passages';
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
  /**
   * Rows the indexes may leave uncovered after a write (`INGEST_INDEX_TAIL_ROWS`): while fewer rows than this are
   * unindexed, Optimize does not run LanceDB's optimize, which would rewrite the whole full-text index (and so make
   * every warm Retrieve container load it again) for a sync of a few documents. 0: optimize after every write.
   * @default 0
   */
  indexTailRows?: number;
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
 *
 * A small write is left as an unindexed tail: while the rows no index covers stay under `indexTailRows`, and no
 * index was just built, LanceDB's optimize is not run at all. Folding a few new rows in rewrites the whole
 * full-text index (7.5 MB at 30,000 chunks), which every warm Retrieve container then loads again on its next
 * question; the tail costs each question a flat scan of its rows instead (docs/performance.md, section 16, "What a
 * small sync and Optimize write"). Searches find the tail's rows, and no longer the old rows of an edited
 * document (their deletion is committed by the write, whatever the indexes hold). What waits with the fold:
 * compaction, and the removal of old versions, whose files (the manifests, and the data of deleted rows) stay on
 * the store until the sync whose tail reaches the threshold optimizes; a sync that only deletes adds no tail, so
 * only the next sync that writes enough rows cleans up after it. That bound is chosen over a second trigger:
 * versions cost storage, not reads (a reader opens the latest).
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
    indexes: 'unchanged',
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
    const built = indexes.fullText === 'created' || indexes.vector === 'created';
    let result: OptimizeResult = {
      status: 'optimized',
      rows: indexes.rows,
      fullText: indexes.fullText,
      vector: indexes.vector,
      compacted: false,
      oldVersionsRemoved: 0,
      indexes: 'unchanged',
    };
    // LanceDB Cloud compacts and indexes by itself, and reports no unindexed rows.
    if ((options.written || built) && indexes.rows > 0 && options.managedStore !== true) {
      lease.check();
      result = { ...result, ...(await foldOrDefer(handle, { ...options, built })) };
    }
    // The version Retrieve serves, new indexes and all (or the tail left unindexed): recorded after every sync, so
    // that a store from before this record gets one at its next sync. LanceDB Cloud keeps its own versions (Retrieve
    // follows the latest there).
    if (services.tableVersion !== undefined && options.managedStore !== true) {
      lease.check();
      await services.tableVersion()?.write(await handle.table.version(), options.now, result.foldedVersion);
    }
    return result;
  } finally {
    handle.close();
  }
}

/**
 * After a write to a table with indexes: LanceDB's optimize (compaction, the new rows folded into the indexes, old
 * versions removed) when an index was just built or the unindexed rows reach `indexTailRows`; otherwise nothing,
 * the rows left as a tail that searches scan. The Optimize step's decision, also run by the bench's probes.
 *
 * A fold changes no row, only where they are and what indexes them: the version before it (`foldedVersion`) answers
 * every question as the new one does. When its tail is one a Retrieve container holds in memory
 * ({@link TAIL_IN_MEMORY_MAX_ROWS}) and no index was built, warm containers answer from it while they load the new
 * indexes after their answer (document-table-reader.ts), so that no question waits for the fold's indexes.
 */
export async function foldOrDefer(
  handle: DocumentTable,
  options: { built: boolean; indexTailRows?: number; keepVersionsSeconds: number; now: number },
): Promise<
  Pick<OptimizeResult, 'compacted' | 'oldVersionsRemoved' | 'indexes' | 'unindexedRows' | 'foldedVersion'>
> {
  const tail = await unindexedRows(handle);
  if (!options.built && tail < (options.indexTailRows ?? 0)) {
    return { compacted: false, oldVersionsRemoved: 0, indexes: 'deferred', unindexedRows: tail };
  }
  const before = await handle.table.version();
  const stats = await optimize(handle, {
    keepVersionsMs: options.keepVersionsSeconds * 1000,
    now: options.now,
  });
  const servable = !options.built && tail > 0 && tail <= TAIL_IN_MEMORY_MAX_ROWS;
  const after = await handle.table.version();
  return {
    compacted: true,
    oldVersionsRemoved: stats.prune.oldVersionsRemoved,
    indexes: 'updated',
    unindexedRows: await unindexedRows(handle),
    ...(servable && after > before ? { foldedVersion: before } : {}),
  };
}
