import { PermanentError } from '../errors';
import type { DocumentRow } from '../vector-store/document-schema';
import {
  countRows,
  createDocumentTable,
  type DocumentTable,
  type DocumentTableOptions,
  deleteSources,
  openDocumentTable,
  replaceSources,
} from '../vector-store/document-table';
import { sqlIn, sqlString } from '../vector-store/sql';
import { readPlan } from './batch-staging';
import { addEmbeddingStats, type EmbeddingStats } from './embedding-rate-limit';
import type { IngestServices } from './ingest-services';
import type { ManifestEntry } from './manifest-store';
import { getJson, putJson } from './staging-store';
import { holdLock, type LockLease } from './sync-lock';
import {
  type CommitResult,
  type DocumentOutcome,
  type FailedDocument,
  fromStagedRow,
  type RefiledDocument,
  type SourceChange,
  type StagedBatch,
  type StagedBatchFailure,
  type StagedCommit,
  type StagedPlan,
  type SyncJob,
  stagingKeys,
} from './sync-types';
import { storedEmbedder, WriteOnlyEmbeddings } from './table-signature';

export interface CommitSyncOptions {
  now: number;
  /** The LanceDB table name. */
  table: string;
  /** How long each renewal of the sync lock extends it (`INGEST_LOCK_TTL_SECONDS`). @default 7200 */
  lockTtlSeconds?: number;
  /** Time between renewals of the sync lock while Commit runs. @default a third of the TTL */
  renewLockEveryMs?: number;
  /**
   * The first batch this invocation writes: 0, or the `nextBatch` of the part before (whose progress is staged).
   * @default 0
   */
  fromBatch?: number;
  /**
   * Asked after each batch written: whether this invocation should stop there and leave the rest to the next one
   * (its time is running short). Every invocation writes at least one batch. @default never
   */
  shouldStop?: () => boolean;
}

/**
 * Rows per merge. Each merge is a new table version with one more fragment, and one that replaces documents is a
 * join against the whole table (`replaceSources`), so one merge per batch of 25 documents made a first sync of 100,000
 * chunks take 683 merges (0.87 s each, measured by the bench's scale section), and a million chunks would take hours.
 * Consecutive batches are gathered into one merge of up to this many rows (about 60 MB of vectors at 1,536
 * dimensions, well inside Commit's 3,008 MB) or {@link COMMIT_WRITE_SOURCES} documents.
 */
export const COMMIT_WRITE_ROWS = 5_000;
/** Documents per merge: the merge's delete predicate lists them, and stays small enough to parse quickly. */
export const COMMIT_WRITE_SOURCES = 1_000;

/**
 * What Commit has done when it stops before the last batch to keep within its invocation: the state machine runs it
 * again from `nextBatch`. Its progress so far is staged (`stagingKeys.commitProgress`).
 */
export interface CommitPart {
  nextBatch: number;
  batches: number;
}

/** Everything a Commit in parts carries from one invocation to the next. */
interface CommitProgress {
  nextBatch: number;
  put: ManifestEntry[];
  removed: string[];
  failed: FailedDocument[];
  changes: SourceChange[];
  written: boolean;
  embeddedChunks: number;
  /** The embedding figures of the batches written so far (the report sums every part). */
  embedding?: EmbeddingStats;
  counts: { added: number; updated: number; unchanged: number; refiled: number };
  refiled: Array<Pick<RefiledDocument, 'source' | 'collection' | 'previousCollection' | 'chunks'>>;
  rehashed: Array<{ source: string; collection: string | null; contentHash: string }>;
}

/** The default of `INGEST_LOCK_TTL_SECONDS` (config.ts). */
export const DEFAULT_LOCK_TTL_SECONDS = 7_200;

/**
 * Commit: the single writer. While it holds the sync lock, it writes each batch's documents into the table, those
 * the batch finished and those that ran alone (atomic merges of consecutive batches, up to {@link COMMIT_WRITE_ROWS}
 * rows each: a document's new chunks replace its old ones, and a document whose content can no longer be indexed
 * loses its old ones), removes the deleted
 * documents, then updates the manifest, the table first so that a crash in between costs a re-index, never a
 * lost document. Every write is idempotent, so
 * a retried Commit converges on the same table. A document whose rows are right but for their collection (its
 * origin's or the sync's collection changed) is re-filed: the `collection` column of its rows is updated in place,
 * with no row re-embedded.
 *
 * The lock is renewed as Commit starts and while it runs, so that a long Commit cannot lose it to a second sync.
 *
 * @throws {LockLostError} when the sync no longer holds the lock: nothing is written.
 * @throws {PermanentError} when there were documents to embed and none was given an outcome (every batch, and
 *   every document run alone, failed): nothing is written.
 */
export async function commitSync(
  services: Pick<IngestServices, 'lock' | 'staging' | 'manifest' | 'connection'> &
    Partial<Pick<IngestServices, 'tableVersion'>>,
  executionName: string,
  options: CommitSyncOptions,
): Promise<CommitResult | CommitPart> {
  const lease = await holdLock(services.lock(), executionName, {
    now: options.now,
    ttlSeconds: options.lockTtlSeconds ?? DEFAULT_LOCK_TTL_SECONDS,
    renewEveryMs: options.renewLockEveryMs,
  });
  try {
    return await commitUnderLock(services, executionName, options, lease);
  } finally {
    await lease.stop();
  }
}

async function commitUnderLock(
  services: Pick<IngestServices, 'lock' | 'staging' | 'manifest' | 'connection'> &
    Partial<Pick<IngestServices, 'tableVersion'>>,
  executionName: string,
  options: CommitSyncOptions,
  lease: LockLease,
): Promise<CommitResult | CommitPart> {
  const plan = await readPlan(services, executionName);
  const staging = services.staging();
  const from = options.fromBatch ?? 0;
  const progress =
    from === 0
      ? undefined
      : await getJson<CommitProgress>(staging, stagingKeys.commitProgress(executionName, from));
  if (from !== 0 && progress?.nextBatch !== from) {
    throw new PermanentError(
      `Commit of ${executionName} cannot resume at batch ${from}: its progress says ${progress?.nextBatch ?? 'nothing'}`,
    );
  }

  const stagedKeys = await staging.list(`${stagingKeys.run(executionName)}batches/`);
  const staged = (batch: number) => {
    const prefix = stagingKeys.batchPrefix(executionName, batch);
    return stagedKeys.filter((key) => key.startsWith(prefix));
  };
  if (plan.batches > 0 && stagedKeys.every((key) => key.endsWith('.failed.json'))) {
    const firstFailure = stagedKeys.find((key) => key.endsWith('.failed.json'));
    const failure =
      firstFailure === undefined ? undefined : await getJson<StagedBatchFailure>(staging, firstFailure);
    throw new PermanentError(
      `no document could be embedded, so nothing was written: ${failure?.error ?? 'the batches left no result'}`,
    );
  }

  const connection = await services.connection();
  // A rebuild replaces the table in the first part only; the next parts add to it.
  const handle = await openTableForWriting(connection, plan, options.table, from === 0);
  const put: ManifestEntry[] = progress?.put ?? [];
  const removed = new Set<string>(
    progress?.removed ?? [...plan.deletions, ...plan.rejected.map((r) => r.source)],
  );
  const failed: FailedDocument[] = progress?.failed ?? [...plan.rejected];
  const changes: SourceChange[] = progress?.changes ?? [];
  let written = progress?.written ?? false;
  let embeddedChunks = progress?.embeddedChunks ?? 0;
  let embedding: EmbeddingStats | undefined = progress?.embedding;
  const counts = progress?.counts ?? { added: 0, updated: 0, unchanged: plan.unchanged, refiled: 0 };
  // Unchanged documents whose collection changed (Plan found them, or a batch did on reading them).
  const refiled: CommitProgress['refiled'] = progress?.refiled ?? [];
  // Documents whose bytes changed and whose chunks did not: their rows take the new content hash (and collection).
  const rehashed: CommitProgress['rehashed'] = progress?.rehashed ?? [];
  if (progress === undefined) {
    for (const { previousCollection, ...entry } of plan.refiles ?? []) {
      put.push({ ...entry, syncedAt: options.now });
      if (entry.collection !== previousCollection) refiled.push({ ...entry, previousCollection });
    }
  }
  // The documents of consecutive batches waiting for one merge, and their rows.
  let pendingSources: string[] = [];
  let pendingRows: DocumentRow[] = [];
  const flush = async () => {
    if (handle !== undefined && pendingSources.length > 0) {
      lease.check();
      await replaceSources(handle, pendingSources, pendingRows);
      written = true;
    }
    pendingSources = [];
    pendingRows = [];
  };
  try {
    for (let batch = from; batch < plan.batches; batch++) {
      if (batch > from && options.shouldStop?.() === true) {
        // Every batch before this one is written before its progress is staged. Each merge is idempotent: a part
        // retried after this point writes its batches again, unchanged.
        await flush();
        const next: CommitProgress = {
          nextBatch: batch,
          put,
          removed: [...removed],
          failed,
          changes,
          written,
          embeddedChunks,
          ...(embedding === undefined ? {} : { embedding }),
          counts,
          refiled,
          rehashed,
        };
        await putJson(staging, stagingKeys.commitProgress(executionName, batch), next);
        return { nextBatch: batch, batches: plan.batches };
      }
      const gathered = await gatherBatch(staging, executionName, batch, staged(batch));
      const { outcomes, rows: stagedRows } = gathered;
      if (gathered.embedding !== undefined) embedding = addEmbeddingStats(embedding, gathered.embedding);
      const replaced: string[] = [];
      for (const outcome of outcomes) {
        if (outcome.status === 'failed') {
          failed.push({ source: outcome.source, reason: outcome.reason });
          if (!outcome.keepsOldChunks) {
            replaced.push(outcome.source);
            removed.add(outcome.source);
          }
          continue;
        }
        put.push({
          source: outcome.source,
          contentHash: outcome.contentHash,
          version: outcome.version,
          fingerprint: plan.fingerprint,
          chunks: outcome.chunks,
          collection: outcome.collection,
          ...(outcome.ownCollection !== undefined ? { ownCollection: outcome.ownCollection } : {}),
          ...(outcome.splitHash !== undefined ? { splitHash: outcome.splitHash } : {}),
          syncedAt: options.now,
        });
        if (outcome.status === 'unchanged') {
          counts.unchanged += 1;
          continue;
        }
        if (outcome.status === 'refiled') {
          if (outcome.contentChanged === true) rehashed.push(outcome);
          if (outcome.collection !== outcome.previousCollection) refiled.push(outcome);
          else counts.unchanged += 1;
          continue;
        }
        replaced.push(outcome.source);
        counts[outcome.change] += 1;
        changes.push({ source: outcome.source, change: outcome.change, chunks: outcome.chunks });
      }
      const rows: DocumentRow[] = stagedRows.map(fromStagedRow);
      embeddedChunks += rows.length;
      if (replaced.length > 0) {
        pendingSources.push(...replaced);
        for (const row of rows) pendingRows.push(row);
      }
      if (pendingRows.length >= COMMIT_WRITE_ROWS || pendingSources.length >= COMMIT_WRITE_SOURCES)
        await flush();
    }
    await flush();

    // The rows of the others keep their content hash: only their collection changes.
    const rehashedSources = new Set(rehashed.map((d) => d.source));
    const moved = refiled.filter((d) => !rehashedSources.has(d.source));
    if (handle !== undefined && moved.length + rehashed.length > 0) {
      lease.check();
      await refileSources(handle, moved);
      await rehashSources(handle, rehashed);
      written = true;
    }
    counts.refiled = refiled.length;
    for (const { source, chunks, collection, previousCollection } of refiled) {
      changes.push({
        source,
        change: 'refiled',
        chunks,
        collection: { from: previousCollection, to: collection },
      });
    }

    const deletions = [...plan.deletions, ...plan.rejected.map((r) => r.source)];
    if (handle !== undefined && !plan.settings.rebuild && deletions.length > 0) {
      lease.check();
      if ((await deleteSources(handle, deletions)) > 0) written = true;
    }
    for (const source of plan.deletions) changes.push({ source, change: 'deleted', chunks: 0 });

    if (plan.settings.rebuild) {
      // The table was replaced: the manifest describes exactly what was written into it.
      const kept = new Set(put.map((entry) => entry.source));
      for (const source of (await services.manifest().load()).keys())
        if (!kept.has(source)) removed.add(source);
    }
    lease.check();
    await services.manifest().apply({ put, remove: [...removed] });
    if ((written || plan.settings.rebuild) && handle !== undefined && services.tableVersion !== undefined) {
      // The version Retrieve serves from now on (Optimize records its own after it); under the lock, as the write.
      lease.check();
      await services.tableVersion()?.write(await handle.table.version(), options.now);
    }

    const result: CommitResult = {
      written: written || (plan.settings.rebuild && handle !== undefined),
      ...counts,
      deleted: plan.deletions.length,
      failed: failed.length,
      chunks: handle === undefined ? 0 : await countRows(handle),
      embeddedChunks,
      stale: plan.stale.length,
    };
    const details: StagedCommit = {
      ...result,
      failedDocuments: failed,
      ...(embedding !== undefined ? { embedding } : {}),
      changes: changes.sort((a, b) => a.source.localeCompare(b.source)),
      staleSources: plan.stale,
    };
    await putJson(staging, stagingKeys.commit(executionName), details);
    return result;
  } finally {
    handle?.close();
  }
}

/** Sources per update: one predicate stays small enough to parse quickly. */
const REFILE_BATCH = 500;

/**
 * Moves the rows of each document to its new collection: one update of the `collection` column per collection (and
 * per {@link REFILE_BATCH} sources), the vectors and every other column left as they are. The collection is an
 * access-control boundary: both the sources and the name reach the SQL only as escaped literals.
 */
async function refileSources(
  handle: DocumentTable,
  documents: ReadonlyArray<Pick<RefiledDocument, 'source' | 'collection'>>,
): Promise<void> {
  const byCollection = new Map<string | null, string[]>();
  for (const { source, collection } of documents) {
    byCollection.set(collection, [...(byCollection.get(collection) ?? []), source]);
  }
  for (const [collection, sources] of byCollection) {
    for (let start = 0; start < sources.length; start += REFILE_BATCH) {
      await handle.table.update({
        where: sqlIn('source', sources.slice(start, start + REFILE_BATCH)),
        valuesSql: { collection: collection === null ? 'NULL' : sqlString(collection) },
      });
    }
  }
}

/**
 * Gives the rows of each document its new content hash and collection, one update per document: what a batch found
 * re-filed after reading it (its bytes may have changed while its chunks did not).
 */
async function rehashSources(
  handle: DocumentTable,
  documents: ReadonlyArray<{ source: string; collection: string | null; contentHash: string }>,
): Promise<void> {
  for (const { source, collection, contentHash } of documents) {
    await handle.table.update({
      where: sqlIn('source', [source]),
      valuesSql: {
        collection: collection === null ? 'NULL' : sqlString(collection),
        contentHash: sqlString(contentHash),
      },
    });
  }
}

/**
 * Everything staged for one batch, as one outcome per document: what the batch finished, what its documents run
 * alone finished, and for every other document a failure with the most precise reason staged (its own failure
 * when it ran alone, else its batch's). Failures keep the documents' old chunks until a sync embeds them.
 */
async function gatherBatch(
  staging: ReturnType<IngestServices['staging']>,
  executionName: string,
  batch: number,
  keys: readonly string[],
): Promise<{ outcomes: DocumentOutcome[]; rows: StagedBatch['rows']; embedding?: EmbeddingStats }> {
  const jobs = (await getJson<SyncJob[]>(staging, stagingKeys.jobs(executionName, batch))) ?? [];
  const bySource = new Map<string, DocumentOutcome>();
  const rows: StagedBatch['rows'] = [];
  const failures = new Map<number | 'batch', string>();
  let embedding: EmbeddingStats | undefined;
  for (const key of keys) {
    if (key.endsWith('.failed.json')) {
      const failure = await getJson<StagedBatchFailure>(staging, key);
      if (failure !== undefined) failures.set(failure.document ?? 'batch', failure.error);
      continue;
    }
    const result = await getJson<StagedBatch>(staging, key);
    if (result === undefined) throw new PermanentError(`${key} of ${executionName} disappeared`);
    if (result.embedding !== undefined) embedding = addEmbeddingStats(embedding, result.embedding);
    const fresh = result.outcomes.filter((o) => !bySource.has(o.source));
    for (const outcome of fresh) bySource.set(outcome.source, outcome);
    const freshSources = new Set(fresh.map((o) => o.source));
    rows.push(...result.rows.filter((row) => freshSources.has(row.source)));
  }
  const outcomes = jobs.map(
    (job, index): DocumentOutcome =>
      bySource.get(job.source) ?? {
        status: 'failed',
        source: job.source,
        reason: `not embedded: ${failures.get(index) ?? failures.get('batch') ?? 'the batch left no result'}`,
        keepsOldChunks: true,
      },
  );
  return { outcomes, rows, ...(embedding !== undefined ? { embedding } : {}) };
}

/**
 * The table to write into: replaced on a rebuild, created when a first document arrives, else opened and
 * checked against the plan's embedder. `undefined` when there is no table and nothing to put in one.
 */
async function openTableForWriting(
  connection: Awaited<ReturnType<IngestServices['connection']>>,
  plan: StagedPlan,
  table: string,
  firstPart: boolean,
): Promise<DocumentTable | undefined> {
  const stored = await storedEmbedder(connection, table);
  const dimensions =
    plan.embedder.dimensions ?? (plan.settings.rebuild ? null : (stored?.dimensions ?? null));
  if (dimensions === null) {
    // Nothing was embedded and no dimension is known: a rebuild of nothing leaves no table.
    if (plan.settings.rebuild && stored !== undefined && firstPart) await connection.dropTable(table);
    return undefined;
  }
  const spec: DocumentTableOptions = {
    table,
    embeddings: new WriteOnlyEmbeddings(),
    embedderName: plan.embedder.embedderName,
    dimensions,
  };
  if (plan.settings.rebuild && firstPart) return createDocumentTable(connection, spec, { overwrite: true });
  const existing = await openDocumentTable(connection, spec);
  if (existing !== undefined || plan.jobs === 0) return existing;
  return createDocumentTable(connection, spec);
}
