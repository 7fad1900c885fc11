import { PermanentError } from './core/errors';
import { embedBatch } from './core/ingest/embed-batch';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';

/** Load, split and embed: one batch of changed documents, its rows staged for Commit. */
export const { createHandler, handler } = defineIngestStep(
  'Load, split and embed',
  (context, input: IngestStepInput & { batch: number }) => {
    if (!Number.isInteger(input.batch) || input.batch < 0) {
      throw new PermanentError('ingest batch input must have a batch number');
    }
    return embedBatch(context.services, input.executionName, input.batch, context.now());
  },
);
