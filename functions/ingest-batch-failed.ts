import { PermanentError } from './core/errors';
import { recordFailedBatch } from './core/ingest/batch-staging';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';
import type { StepError } from './core/ingest/sync-types';

/**
 * Record the failed batch (or document): stages its error, and lists the documents of the batch to run again
 * one per invocation, so Commit reports only the documents that fail on their own and commits the rest.
 */
export const { createHandler, handler } = defineIngestStep(
  'Record the failed batch',
  (context, input: IngestStepInput & { batch: number; document?: number; error?: StepError }) => {
    if (!Number.isInteger(input.batch) || input.batch < 0) {
      throw new PermanentError('ingest batch input must have a batch number');
    }
    if (input.document !== undefined && (!Number.isInteger(input.document) || input.document < 0)) {
      throw new PermanentError('ingest batch input "document" must be an index in the batch');
    }
    return recordFailedBatch(context.services, input.executionName, input.batch, input.error, input.document);
  },
);
