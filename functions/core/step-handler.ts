import { loadConfig } from './config';
import { PermanentError, toStepError } from './errors';
import { memo } from './memo';
import type { BotMetrics } from './metrics';
import { createRuntime, type Runtime } from './runtime';
import { type StepDeadline, stepDeadline } from './step-deadline';
import type { Turn } from './types';

/** Every step's input carries the turn and the execution's name (from `$$.Execution.Name`). */
export interface StepInput {
  turn: Turn;
  executionName: string;
}

/**
 * The part of Lambda's context a step may read: the time the invocation has left and, in Lambda, its memory.
 * The local executor passes one too, counting down from the state's TimeoutSeconds.
 */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  /** The function's memory in MB, as Lambda gives it (a string); absent locally. */
  memoryLimitInMB?: string;
  /** The invocation's request id, as Lambda gives it; absent locally. */
  awsRequestId?: string;
}

export type StepHandler<I, O> = (input: I, context?: InvocationContext) => Promise<O>;

const TURN_FIELDS = [
  'eventId',
  'teamId',
  'channel',
  'threadTs',
  'messageTs',
  'user',
  'question',
  'placeholderTs',
] as const;

/** Rejects an input that did not come from the state machine, as a permanent error (retrying cannot help). */
export function assertStepInput(input: unknown): asserts input is StepInput {
  const candidate = input as Partial<StepInput> | null;
  if (
    typeof candidate?.executionName !== 'string' ||
    typeof candidate.turn !== 'object' ||
    candidate.turn === null
  ) {
    throw new PermanentError('step input must have a turn and an executionName');
  }
  for (const field of TURN_FIELDS) {
    if (typeof candidate.turn[field] !== 'string')
      throw new PermanentError(`step input turn.${field} must be a string`);
  }
  if (candidate.turn.intent !== 'question' && candidate.turn.intent !== 'forget') {
    throw new PermanentError('step input turn.intent must be "question" or "forget"');
  }
}

/**
 * Rejects an input without the run id the state machine's first state ("Name this run") draws: the answer claim
 * is taken per run, and without one a step could not tell its own run from a duplicate.
 */
export function assertRunId<I extends object>(input: I): asserts input is I & { runId: string } {
  const runId = (input as { runId?: unknown }).runId;
  if (typeof runId !== 'string' || runId === '') {
    throw new PermanentError('step input must have a runId (set by the "Name this run" state)');
  }
}

/**
 * Runs one invocation of a step: logs its success and duration (and, given `metrics`, emits the duration as
 * `StepDuration` by `Step`, which the dashboard shows as p50 and p95), and turns any failure into the
 * `TransientError` or `PermanentError` the ASL's Retry matches on, logged with `keys`.
 */
export async function runStep<O>(
  runtime: Pick<Runtime, 'logger' | 'now'>,
  stepName: string,
  keys: Record<string, string>,
  run: () => Promise<O>,
  metrics?: Pick<BotMetrics, 'stepDuration'>,
): Promise<O> {
  const logKeys = { ...keys, step: stepName };
  const started = runtime.now();
  try {
    const output = await run();
    const ms = runtime.now() - started;
    runtime.logger.info('step succeeded', { ...logKeys, ms });
    metrics?.stepDuration(stepName, ms);
    return output;
  } catch (error) {
    const stepError = toStepError(error, stepName);
    runtime.logger.warn('step failed', { ...logKeys, errorType: stepError.name, error: stepError.message });
    throw stepError;
  }
}

/**
 * The container's runtime, read from the environment once (a function's bundle is its own module graph, so one per
 * function). A configuration error is thrown, not kept: the next call reads the environment again.
 */
export const containerRuntime = memo(() => createRuntime(loadConfig()));

/** What Lambda runs: the handler built once per container, from the container's runtime. */
export function lambdaEntry<I, O>(
  createHandler: (runtime: Runtime) => StepHandler<I, O>,
  runtime: () => Runtime = containerRuntime,
): StepHandler<I, O> {
  let cached: StepHandler<I, O> | undefined;
  return (input, context) => {
    cached ??= createHandler(runtime());
    return cached(input, context);
  };
}

/**
 * Defines one state of a state machine as a Lambda handler. `run` gets the step's deadline (step-deadline.ts), a
 * little before its Lambda's timeout, to end a hung call by. `createHandler` takes a runtime (the local stack
 * builds one pointing at its stand-ins); `handler` is what Lambda runs, building the runtime from the
 * environment once per container. Errors leave as `TransientError` or `PermanentError`, which the ASL's
 * Retry matches on, and every log line carries the event id and execution name.
 */
export function defineStep<I extends StepInput, O>(
  stepName: string,
  run: (runtime: Runtime, input: I, deadline: StepDeadline) => Promise<O>,
): { createHandler(runtime: Runtime): StepHandler<I, O>; handler: StepHandler<I, O> } {
  const createHandler =
    (runtime: Runtime): StepHandler<I, O> =>
    async (input, context) => {
      assertStepInput(input);
      const keys = { eventId: input.turn.eventId, executionName: input.executionName };
      const deadline = stepDeadline(context);
      try {
        return await runStep(runtime, stepName, keys, () => run(runtime, input, deadline), runtime.metrics());
      } finally {
        deadline.dispose();
      }
    };
  return { createHandler, handler: lambdaEntry(createHandler) };
}
