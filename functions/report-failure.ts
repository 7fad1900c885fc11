import { reportFailure } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';
import type { FailureReport } from './core/types';

/** Report failure: turns the placeholder into a short apology naming this execution. */
export const { createHandler, handler } = defineStep(
  'Report failure',
  async (runtime, input: StepInput & { error?: FailureReport['error'] }) =>
    reportFailure(await runtime.slackClient(), input, runtime.logger),
);
