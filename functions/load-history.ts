import { reachOf } from './core/access/asker-reach';
import { profileFor } from './core/channel-profiles';
import { loadHistory } from './core/conversation/steps';
import type { Runtime } from './core/runtime';
import { defineStep, type StepInput } from './core/step-handler';

/**
 * The document table's version the ingest last recorded, for Retrieve to serve (null: none recorded, or no store
 * to read it from). A failure to read it is not the question's: Retrieve then checks for the latest version itself.
 */
async function tableVersionFor(runtime: Runtime): Promise<number | null> {
  const store = runtime.tableVersions();
  if (store === undefined) return null;
  try {
    return (await store.read()) ?? null;
  } catch (error) {
    runtime.logger.warn('could not read the table version; Retrieve checks for the latest itself', {
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  }
}

/**
 * Load history: what the asker may read here (their reach: the channel's collections and their own, with their
 * Slack user groups), the place's profile (`CHANNEL_PROFILES`), and the thread's earlier turns they may read, from
 * DynamoDB, within the configured budget; and, read alongside, the document table's version Retrieve should serve
 * (`tableVersion`, always present: the state machine passes it on).
 */
export const { createHandler, handler } = defineStep('Load history', async (runtime, input: StepInput) => {
  const tableVersion = tableVersionFor(runtime);
  const reach = await reachOf(runtime, input.turn);
  // The one place a question's profile is resolved: Retrieve and Generate and stream read `$.history.profile`.
  const profile = profileFor(runtime.config.channelProfiles, input.turn.channel);
  const history = await loadHistory(
    runtime.historyStore(),
    input.turn,
    runtime.config.history,
    runtime.now(),
    reach,
    profile,
  );
  return { ...history, tableVersion: await tableVersion };
});
