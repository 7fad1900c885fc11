import { reachOf } from './core/access/asker-reach';
import { profileFor } from './core/channel-profiles';
import { loadHistory } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';

/**
 * Load history: what the asker may read here (their reach: the channel's collections and their own, with their
 * Slack user groups), the place's profile (`CHANNEL_PROFILES`), and the thread's earlier turns they may read, from
 * DynamoDB, within the configured budget.
 */
export const { createHandler, handler } = defineStep('Load history', async (runtime, input: StepInput) => {
  const reach = await reachOf(runtime, input.turn);
  // The one place a question's profile is resolved: Retrieve and Generate and stream read `$.history.profile`.
  const profile = profileFor(runtime.config.channelProfiles, input.turn.channel);
  return loadHistory(
    runtime.historyStore(),
    input.turn,
    runtime.config.history,
    runtime.now(),
    reach,
    profile,
  );
});
