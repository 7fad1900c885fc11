import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';
import { type ReportSyncInput, reportSync } from './core/ingest/report-sync';

/** Report (and, after a failure, the lock's release): the sync's report, staging cleaned, lock released. */
export const { createHandler, handler } = defineIngestStep(
  'Report',
  (context, input: IngestStepInput & ReportSyncInput) =>
    reportSync(
      context.services,
      input.executionName,
      { commit: input.commit, optimize: input.optimize, error: input.error },
      context.now(),
    ),
);
