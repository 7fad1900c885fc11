import { forgetThread } from './core/conversation/steps';
import { removeStrayPlaceholder } from './core/slack/stray-placeholder';
import { defineStep, type StepInput } from './core/step-handler';

/** Forget thread: deletes the thread's history when someone asks the bot to forget it, and confirms. */
export const { createHandler, handler } = defineStep('Forget thread', async (runtime, input: StepInput) => {
  const slack = await runtime.slackClient();
  await removeStrayPlaceholder({ slack, logger: runtime.logger }, input.turn);
  return forgetThread(runtime.historyStore(), slack, input.turn);
});
