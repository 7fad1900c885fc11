import { reachOf } from './core/access/asker-reach';
import { loadHistory } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';

/**
 * Load history: what the asker may read here (their reach: the channel's collections and their own, with their
 * Slack user groups), and the thread's earlier turns they may read, from DynamoDB, within the configured budget.
 */
export const { createHandler, handler } = defineStep('Load history', async (runtime, input: StepInput) => {
  const reach = await reachOf(runtime, input.turn);
  return loadHistory(runtime.historyStore(), input.turn, runtime.config.history, runtime.now(), reach);
});
