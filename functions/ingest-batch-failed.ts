import { PermanentError } from './core/errors';
import { recordFailedBatch } from './core/ingest/embed-batch';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';
import type { StepError } from './core/ingest/sync-types';

/** Record the failed batch: stages its error, so Commit reports its documents and commits the rest. */
export const { createHandler, handler } = defineIngestStep(
  'Record the failed batch',
  (context, input: IngestStepInput & { batch: number; error?: StepError }) => {
    if (!Number.isInteger(input.batch) || input.batch < 0) {
      throw new PermanentError('ingest batch input must have a batch number');
    }
    return recordFailedBatch(context.services, input.executionName, input.batch, input.error);
  },
);
