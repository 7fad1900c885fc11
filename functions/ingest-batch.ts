import { PermanentError } from './core/errors';
import { invocationBudget } from './core/ingest/batch-budget';
import { embedBatch } from './core/ingest/embed-batch';
import { createIngestEmbeddings } from './core/ingest/ingest-embeddings';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';

/**
 * Load, split and embed: one batch of changed documents (or, given `document`, one document of it, alone),
 * its rows staged for Commit, within the invocation's remaining time and memory.
 */
export const { createHandler, handler } = defineIngestStep(
  'Load, split and embed',
  (context, input: IngestStepInput & { batch: number; document?: number }, invocation) => {
    if (!Number.isInteger(input.batch) || input.batch < 0) {
      throw new PermanentError('ingest batch input must have a batch number');
    }
    if (input.document !== undefined && (!Number.isInteger(input.document) || input.document < 0)) {
      throw new PermanentError('ingest batch input "document" must be an index in the batch');
    }
    return embedBatch(context.services, input.executionName, input.batch, context.now(), {
      ...(input.document !== undefined ? { document: input.document } : {}),
      budget: invocationBudget(invocation),
    });
  },
  { embeddings: createIngestEmbeddings },
);
