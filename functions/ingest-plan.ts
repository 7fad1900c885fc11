import { createIngestEmbeddings } from './core/ingest/ingest-embeddings';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';
import { planSync } from './core/ingest/plan-sync';

/** Plan sync: takes the lock, lists the origins, diffs them with the manifest and stages the batches. */
export const { createHandler, handler } = defineIngestStep(
  'Plan sync',
  (context, input: IngestStepInput & { request?: unknown }) =>
    planSync(context.services, input.request, {
      executionName: input.executionName,
      now: context.now(),
      table: context.config.vectorStore.table,
      ingest: context.config.ingest,
    }),
  { embeddings: createIngestEmbeddings },
);
