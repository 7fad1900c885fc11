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
import { readPlan } from './embed-batch';
import type { IngestServices } from './ingest-services';
import type { ManifestEntry } from './manifest-store';
import { getJson, putJson } from './staging-store';
import {
  type CommitResult,
  type FailedDocument,
  fromStagedRow,
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
}

/**
 * Commit: the single writer. While it holds the sync lock, it writes each successful batch's documents into the
 * table (one atomic merge per batch: a document's new chunks replace its old ones, and a document whose content
 * can no longer be indexed loses its old ones), removes the deleted documents, then updates the manifest, the
 * table first so that a crash in between costs a re-index, never a lost document. Every write is idempotent, so
 * a retried Commit converges on the same table.
 *
 * @throws {LockLostError} when the sync no longer holds the lock: nothing is written.
 * @throws {PermanentError} when there were documents to embed and no batch succeeded: nothing is written.
 */
export async function commitSync(
  services: Pick<IngestServices, 'lock' | 'staging' | 'manifest' | 'connection'>,
  executionName: string,
  options: CommitSyncOptions,
): Promise<CommitResult> {
  await services.lock().confirm(executionName, options.now);
  const plan = await readPlan(services, executionName);
  const staging = services.staging();

  const stagedKeys = new Set(await staging.list(`${stagingKeys.run(executionName)}batches/`));
  const succeeded: number[] = [];
  const failedBatches: { batch: number; error: string }[] = [];
  for (let batch = 0; batch < plan.batches; batch++) {
    if (stagedKeys.has(stagingKeys.batch(executionName, batch))) {
      succeeded.push(batch);
      continue;
    }
    const failure = await getJson<StagedBatchFailure>(
      staging,
      stagingKeys.batchFailure(executionName, batch),
    );
    failedBatches.push({ batch, error: failure?.error ?? 'the batch left no result' });
  }
  if (plan.batches > 0 && succeeded.length === 0) {
    throw new PermanentError(
      `no document could be embedded, so nothing was written: ${failedBatches[0]?.error ?? 'unknown error'}`,
    );
  }

  const connection = await services.connection();
  const handle = await openTableForWriting(connection, plan, options.table);
  const put: ManifestEntry[] = [];
  const removed = new Set<string>([...plan.deletions, ...plan.rejected.map((r) => r.source)]);
  const failed: FailedDocument[] = [...plan.rejected];
  const changes: SourceChange[] = [];
  let written = false;
  let embeddedChunks = 0;
  const counts = { added: 0, updated: 0, unchanged: plan.unchanged };
  try {
    for (const batch of succeeded) {
      const staged = await getJson<StagedBatch>(staging, stagingKeys.batch(executionName, batch));
      if (staged === undefined) throw new PermanentError(`batch ${batch} of ${executionName} disappeared`);
      const replaced: string[] = [];
      for (const outcome of staged.outcomes) {
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
          syncedAt: options.now,
        });
        if (outcome.status === 'unchanged') {
          counts.unchanged += 1;
          continue;
        }
        replaced.push(outcome.source);
        counts[outcome.change] += 1;
        changes.push({ source: outcome.source, change: outcome.change, chunks: outcome.chunks });
      }
      const rows: DocumentRow[] = staged.rows.map(fromStagedRow);
      embeddedChunks += rows.length;
      if (handle !== undefined && replaced.length > 0) {
        await replaceSources(handle, replaced, rows);
        written = true;
      }
    }
    for (const { batch, error } of failedBatches) {
      const jobs = (await getJson<SyncJob[]>(staging, stagingKeys.jobs(executionName, batch))) ?? [];
      for (const job of jobs) failed.push({ source: job.source, reason: `not embedded: ${error}` });
    }

    const deletions = [...plan.deletions, ...plan.rejected.map((r) => r.source)];
    if (handle !== undefined && !plan.settings.rebuild && deletions.length > 0) {
      if ((await deleteSources(handle, deletions)) > 0) written = true;
    }
    for (const source of plan.deletions) changes.push({ source, change: 'deleted', chunks: 0 });

    if (plan.settings.rebuild) {
      // The table was replaced: the manifest describes exactly what was written into it.
      const kept = new Set(put.map((entry) => entry.source));
      for (const source of (await services.manifest().load()).keys())
        if (!kept.has(source)) removed.add(source);
    }
    await services.manifest().apply({ put, remove: [...removed] });

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
      changes: changes.sort((a, b) => a.source.localeCompare(b.source)),
      staleSources: plan.stale,
    };
    await putJson(staging, stagingKeys.commit(executionName), details);
    return result;
  } finally {
    handle?.close();
  }
}

/**
 * The table to write into: replaced on a rebuild, created when a first document arrives, else opened and
 * checked against the plan's embedder. `undefined` when there is no table and nothing to put in one.
 */
async function openTableForWriting(
  connection: Awaited<ReturnType<IngestServices['connection']>>,
  plan: StagedPlan,
  table: string,
): Promise<DocumentTable | undefined> {
  const stored = await storedEmbedder(connection, table);
  const dimensions =
    plan.embedder.dimensions ?? (plan.settings.rebuild ? null : (stored?.dimensions ?? null));
  if (dimensions === null) {
    // Nothing was embedded and no dimension is known: a rebuild of nothing leaves no table.
    if (plan.settings.rebuild && stored !== undefined) await connection.dropTable(table);
    return undefined;
  }
  const spec: DocumentTableOptions = {
    table,
    embeddings: new WriteOnlyEmbeddings(),
    embedderName: plan.embedder.embedderName,
    dimensions,
  };
  if (plan.settings.rebuild) return createDocumentTable(connection, spec, { overwrite: true });
  const existing = await openDocumentTable(connection, spec);
  if (existing !== undefined || plan.jobs === 0) return existing;
  return createDocumentTable(connection, spec);
}
