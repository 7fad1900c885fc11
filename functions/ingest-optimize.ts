import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';
import { optimizeSync } from './core/ingest/optimize-sync';

/**
 * Optimize: full-text index, vector index past the threshold, compaction and old-version cleanup (which LanceDB
 * Cloud does by itself: with a `db://` store only the indexes are made sure of); a small sync's rows are left
 * unindexed, searched by a flat scan, until they reach `INGEST_INDEX_TAIL_ROWS`.
 */
export const { createHandler, handler } = defineIngestStep(
  'Optimize',
  (context, input: IngestStepInput & { written?: boolean }) =>
    optimizeSync(context.services, input.executionName, {
      now: context.now(),
      table: context.config.vectorStore.table,
      written: input.written === true,
      vectorIndexMinRows: context.config.ingest.vectorIndexMinRows,
      keepVersionsSeconds: context.config.ingest.keepVersionsSeconds,
      indexTailRows: context.config.ingest.indexTailRows,
      lockTtlSeconds: context.config.ingest.lockTtlSeconds,
      managedStore: context.config.vectorStore.cloud !== undefined,
    }),
);
