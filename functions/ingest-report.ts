import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';
import { type ReportSyncInput, reportSync } from './core/ingest/report-sync';
import { memo } from './core/memo';
import { METRIC } from './core/metric-names';
import { createBotMetrics } from './core/metrics';

const metrics = memo(createBotMetrics);

/** Report (and, after a failure, the lock's release): the sync's report, staging cleaned, lock released. */
export const { createHandler, handler } = defineIngestStep(
  'Report',
  async (context, input: IngestStepInput & ReportSyncInput) => {
    const report = await reportSync(
      context.services,
      input.executionName,
      { commit: input.commit, optimize: input.optimize, error: input.error },
      context.now(),
    );
    // Every sync ends here, a failed one through the Catch: the dashboard's syncs and their failures.
    metrics().count(METRIC.Syncs);
    if (report.status === 'failed') metrics().count(METRIC.SyncFailures);
    if (report.embedding !== undefined) metrics().embedding(report.embedding);
    return report;
  },
);
