import { PermanentError } from '../errors';
import type { IngestServices } from './ingest-services';
import type { StagingStore } from './staging-store';
import { getJson, putJson } from './staging-store';
import {
  describeBatchFailure,
  type FailedBatchResult,
  isOutage,
  type StagedBatch,
  type StagedBatchFailure,
  type StagedPlan,
  type StepError,
  type SyncJob,
  stagingKeys,
} from './sync-types';

/**
 * What the ingest steps read and write about batches in staging, apart from loading, splitting and embedding
 * (embed-batch.ts): the plan Commit and Optimize read, the allowance of documents run alone, and Record the
 * failed batch. A module of its own so that those steps do not bundle the embedder.
 */

/**
 * Most documents of one sync that run alone (one per invocation). Each adds about ten events to the history of
 * the child execution of the Distributed Map that runs it, which Step Functions caps at 25,000 (and the child's own
 * batches use a few hundred, see `MAX_BATCHES_PER_CHILD`): past this allowance, the documents of a failed batch are reported with the batch's error instead, and the next sync
 * tries them again. It is only reached when something fails everywhere in a way that does not look like an outage.
 */
export const MAX_DOCUMENTS_ALONE = 1_000;

/** The staged plan of a sync, or a permanent error when there is none (the input did not come from Plan). */
export async function readPlan(
  services: Pick<IngestServices, 'staging'>,
  executionName: string,
): Promise<StagedPlan> {
  const plan = await getJson<StagedPlan>(services.staging(), stagingKeys.plan(executionName));
  if (plan === undefined) throw new PermanentError(`no sync plan is staged for ${executionName}`);
  return plan;
}

/**
 * Counts `documents` of a batch against the sync's allowance of documents run alone
 * ({@link MAX_DOCUMENTS_ALONE}) and returns those that may run alone: all of them while the allowance lasts.
 * Each batch's claim is a key naming its count, so a retried claim replaces its own rather than adding to it.
 * Batches claiming at the same moment may overshoot by a batch or two, which the margin absorbs.
 */
export async function claimRunsAlone(
  staging: StagingStore,
  executionName: string,
  batch: number,
  documents: number[],
): Promise<number[]> {
  const own = stagingKeys.aloneClaim(executionName, batch);
  let claimed = 0;
  for (const key of await staging.list(stagingKeys.aloneClaims(executionName))) {
    if (!key.startsWith(own)) claimed += Number(key.slice(key.lastIndexOf('.') + 1)) || 0;
  }
  const allowed = documents.slice(0, Math.max(0, MAX_DOCUMENTS_ALONE - claimed));
  if (allowed.length > 0) await staging.put(`${own}${allowed.length}`, '');
  return allowed;
}

/**
 * Record the failed batch: stages the error of a batch that failed after its retries, and returns under `left`
 * the documents to run again one per invocation, so that only a document that fails on its own is reported as
 * failed. None are when the error is an outage ({@link isOutage}), when the batch has one document (its failure
 * is already its own), or past the sync's allowance; Commit then reports the batch's documents with its error,
 * keeping their old chunks. Given `document`, it records the failure of that document run alone.
 */
export async function recordFailedBatch(
  services: Pick<IngestServices, 'staging'>,
  executionName: string,
  batch: number,
  error: StepError | undefined,
  document?: number,
): Promise<FailedBatchResult> {
  const staging = services.staging();
  const reason = describeBatchFailure(error);
  if (document !== undefined) {
    const failure: StagedBatchFailure = { batch, document, error: reason };
    await putJson(staging, stagingKeys.documentFailure(executionName, batch, document), failure);
    return { ...failure, left: [] };
  }
  const jobs = (await getJson<SyncJob[]>(staging, stagingKeys.jobs(executionName, batch))) ?? [];
  // A batch that staged its result and then failed (its reply lost) has documents already done.
  const done = new Set(
    (await getJson<StagedBatch>(staging, stagingKeys.batch(executionName, batch)))?.outcomes.map(
      (o) => o.source,
    ) ?? [],
  );
  const pending = jobs.flatMap((job, index) => (done.has(job.source) ? [] : [index]));
  const left =
    jobs.length <= 1 || isOutage(error) || pending.length === 0
      ? []
      : await claimRunsAlone(staging, executionName, batch, pending);
  const failure: StagedBatchFailure = { batch, error: reason };
  await putJson(staging, stagingKeys.batchFailure(executionName, batch), failure);
  return { ...failure, left };
}
