import { commitSync } from './core/ingest/commit-sync';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';

/** Commit: the single writer, under the lock: the batches' rows, the deletions, then the manifest. */
export const { createHandler, handler } = defineIngestStep('Commit', (context, input: IngestStepInput) =>
  commitSync(context.services, input.executionName, {
    now: context.now(),
    table: context.config.vectorStore.table,
    lockTtlSeconds: context.config.ingest.lockTtlSeconds,
  }),
);
