import { loadConfig } from './config';
import { PermanentError, toStepError } from './errors';
import { createRuntime, type Runtime } from './runtime';
import type { Turn } from './types';

/** Every step's input carries the turn and the execution's name (from `$$.Execution.Name`). */
export interface StepInput {
  turn: Turn;
  executionName: string;
}

export type StepHandler<I, O> = (input: I) => Promise<O>;

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
}

/**
 * Defines one state of a state machine as a Lambda handler. `createHandler` takes a runtime (the local stack
 * builds one pointing at its stand-ins); `handler` is what Lambda runs, building the runtime from the
 * environment once per container. Errors leave as `TransientError` or `PermanentError`, which the ASL's
 * Retry matches on, and every log line carries the event id and execution name.
 */
export function defineStep<I extends StepInput, O>(
  stepName: string,
  run: (runtime: Runtime, input: I) => Promise<O>,
): { createHandler(runtime: Runtime): StepHandler<I, O>; handler: StepHandler<I, O> } {
  const createHandler = (runtime: Runtime): StepHandler<I, O> => {
    return async (input) => {
      assertStepInput(input);
      const keys = { eventId: input.turn.eventId, executionName: input.executionName, step: stepName };
      const started = runtime.now();
      try {
        const output = await run(runtime, input);
        runtime.logger.info('step succeeded', { ...keys, ms: runtime.now() - started });
        return output;
      } catch (error) {
        const stepError = toStepError(error, stepName);
        runtime.logger.warn('step failed', { ...keys, errorType: stepError.name, error: stepError.message });
        throw stepError;
      }
    };
  };
  let cached: StepHandler<I, O> | undefined;
  const handler: StepHandler<I, O> = (input) => {
    cached ??= createHandler(createRuntime(loadConfig()));
    return cached(input);
  };
  return { createHandler, handler };
}
