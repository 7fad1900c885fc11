import { reportFailure } from './core/conversation/steps';
import { assertRunId, defineStep, type StepInput } from './core/step-handler';
import type { FailureReport } from './core/types';

/** Report failure: turns the placeholder into a short apology naming this execution. */
export const { createHandler, handler } = defineStep(
  'Report failure',
  async (runtime, input: StepInput & { runId: string; error?: FailureReport['error'] }) => {
    assertRunId(input);
    return reportFailure(
      {
        slack: await runtime.slackClient(),
        eventStore: runtime.eventStore(),
        metrics: runtime.metrics(),
        logger: runtime.logger,
        now: runtime.now,
      },
      input,
    );
  },
);
