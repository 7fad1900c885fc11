import { loadHistory } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';

/** Load history: the thread's earlier turns from DynamoDB, within the configured budget. */
export const { createHandler, handler } = defineStep('Load history', async (runtime, input: StepInput) => {
  const history = await loadHistory(
    runtime.historyStore(),
    input.turn,
    runtime.config.history,
    runtime.now(),
  );
  return history;
});
