import { forgetThread } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';

/** Forget thread: deletes the thread's history when someone asks the bot to forget it, and confirms. */
export const { createHandler, handler } = defineStep('Forget thread', async (runtime, input: StepInput) =>
  forgetThread(
    { historyStore: runtime.historyStore(), slack: await runtime.slackClient(), logger: runtime.logger },
    input.turn,
  ),
);
