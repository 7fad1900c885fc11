import { reachOf } from './core/access/asker-reach';
import { profileFor } from './core/channel-profiles';
import { loadHistory } from './core/conversation/steps';
import type { Runtime } from './core/runtime';
import { defineStep, type StepInput } from './core/step-handler';

/** What Retrieve is told to serve: both always present (null: none), since the state machine passes them on. */
interface TableVersions {
  tableVersion: number | null;
  tableVersionBeforeFold: number | null;
}

const NO_VERSION: TableVersions = { tableVersion: null, tableVersionBeforeFold: null };

/**
 * The document table's version the ingest last recorded, for Retrieve to serve, and the version its Optimize folded
 * to make it, which a warm container may answer from while it loads the new indexes (null: none recorded, or no
 * store to read it from). A failure to read them is not the question's: Retrieve then checks for the latest itself.
 */
async function tableVersionsFor(runtime: Runtime): Promise<TableVersions> {
  const store = runtime.tableVersions();
  if (store === undefined) return NO_VERSION;
  try {
    const recorded = await store.read();
    return recorded === undefined
      ? NO_VERSION
      : { tableVersion: recorded.version, tableVersionBeforeFold: recorded.beforeFold ?? null };
  } catch (error) {
    runtime.logger.warn('could not read the table version; Retrieve checks for the latest itself', {
      error: error instanceof Error ? error.message : String(error),
    });
    return NO_VERSION;
  }
}

/**
 * Load history: what the asker may read here (their reach: the channel's collections and their own, with their
 * Slack user groups), the place's profile (`CHANNEL_PROFILES`), and the thread's earlier turns they may read, from
 * DynamoDB, within the configured budget; and, read alongside, the document table's version Retrieve should serve
 * (`tableVersion`, and `tableVersionBeforeFold`: always present, the state machine passes them on).
 */
export const { createHandler, handler } = defineStep('Load history', async (runtime, input: StepInput) => {
  const versions = tableVersionsFor(runtime);
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
  return { ...history, ...(await versions) };
});
