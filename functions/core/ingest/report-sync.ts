import { countByKind } from './document-origins';
import { embeddingThroughputOf } from './embedding-rate-limit';
import type { IngestServices } from './ingest-services';
import { getJson, putJson } from './staging-store';
import {
  type CommitResult,
  describeStepError,
  type OptimizeResult,
  type StagedCommit,
  type StagedPlan,
  type StepError,
  type SyncReport,
  stagingKeys,
} from './sync-types';

/** Failures (and skipped files) listed in the execution's output; the staged report lists them all. */
export const MAX_FAILURES_IN_OUTPUT = 20;

export interface ReportSyncInput {
  commit?: CommitResult;
  /** Optimize's result, or the error its Catch recorded. */
  optimize?: OptimizeResult | StepError;
  /** The error that ended the sync, when one did. */
  error?: StepError;
}

/**
 * Report: writes the sync's full report to `reports/<execution>.json` in the staging store, removes the
 * execution's staged objects, and releases the sync lock if this execution holds it (a sync that failed before
 * taking it releases nothing). Returns the report with its failure list capped, as the execution's output.
 */
export async function reportSync(
  services: Pick<IngestServices, 'lock' | 'staging'>,
  executionName: string,
  input: ReportSyncInput,
  now: number,
): Promise<SyncReport> {
  const staging = services.staging();
  const plan = await getJson<StagedPlan>(staging, stagingKeys.plan(executionName));
  const details = await getJson<StagedCommit>(staging, stagingKeys.commit(executionName));
  const failed = details?.failedDocuments ?? [];
  const skipped = plan?.skipped ?? [];
  const optimize = input.optimize;
  const report: SyncReport = {
    status: input.error === undefined && details !== undefined ? 'committed' : 'failed',
    executionName,
    origins: plan?.settings.origins ?? [],
    startedAt: new Date(plan?.startedAt ?? now).toISOString(),
    ms: now - (plan?.startedAt ?? now),
    added: details?.added ?? 0,
    updated: details?.updated ?? 0,
    unchanged: details?.unchanged ?? 0,
    refiled: details?.refiled ?? 0,
    deleted: details?.deleted ?? 0,
    failed,
    failedCount: failed.length,
    skipped: skipped.map(({ source, reason }) => ({ source, reason })),
    skippedCount: skipped.length,
    skippedKinds: countByKind(skipped),
    emptyOrigins: plan?.emptyOrigins ?? [],
    chunks: details?.chunks ?? 0,
    embeddedChunks: details?.embeddedChunks ?? 0,
    stale: details?.stale ?? plan?.stale.length ?? 0,
    ...(details?.embedding !== undefined ? { embedding: embeddingThroughputOf(details.embedding) } : {}),
    changes: details?.changes ?? [],
    staleSources: details?.staleSources ?? plan?.stale ?? [],
    ...(optimize === undefined
      ? {}
      : 'status' in optimize
        ? { optimize }
        : { optimize: { error: describeStepError(optimize) } }),
    ...(input.error !== undefined ? { error: describeStepError(input.error) } : {}),
  };
  await putJson(staging, stagingKeys.report(executionName), report);
  await staging.deletePrefix(stagingKeys.run(executionName));
  await services.lock().release(executionName);
  const { changes: _changes, staleSources: _stale, ...summary } = report;
  return {
    ...summary,
    failed: failed.slice(0, MAX_FAILURES_IN_OUTPUT),
    skipped: summary.skipped.slice(0, MAX_FAILURES_IN_OUTPUT),
  };
}
