import { PermanentError } from './core/errors';
import { invocationBudget } from './core/ingest/batch-budget';
import { commitSync } from './core/ingest/commit-sync';
import { defineIngestStep, type IngestStepInput } from './core/ingest/ingest-step';

/**
 * A part of Commit may use this share of its invocation's time writing batches; the rest is kept for the last
 * part's deletions, re-filing and manifest, and for staging its progress.
 */
const WRITING_SHARE_OF_TIME = 0.5;

/**
 * Commit: the single writer, under the lock: the batches' rows, the deletions, then the manifest. When half its
 * invocation's time is used it stops after a batch and answers `nextBatch`, and the state machine runs it again
 * from there, so a sync of any size commits in parts that each fit a Lambda.
 */
export const { createHandler, handler } = defineIngestStep(
  'Commit',
  (context, input: IngestStepInput & { fromBatch?: number }, invocation) => {
    if (input.fromBatch !== undefined && (!Number.isInteger(input.fromBatch) || input.fromBatch < 0)) {
      throw new PermanentError('Commit input "fromBatch" must be a batch number');
    }
    const budget = invocationBudget(invocation);
    const writingMs = budget.remainingMs() * WRITING_SHARE_OF_TIME;
    const started = Date.now();
    return commitSync(context.services, input.executionName, {
      now: context.now(),
      table: context.config.vectorStore.table,
      lockTtlSeconds: context.config.ingest.lockTtlSeconds,
      ...(input.fromBatch !== undefined ? { fromBatch: input.fromBatch } : {}),
      shouldStop: () => Date.now() - started >= writingMs,
    });
  },
);
