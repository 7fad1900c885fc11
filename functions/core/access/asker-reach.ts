import type { AppConfig } from '../config';
import type { Runtime } from '../runtime';
import type { Turn } from '../types';
import { needsUserGroups, type Reach, reachFor } from './reach';
import { createUserGroupDirectory, type UserGroupDirectory } from './user-groups';

/** Whether the deployment limits who reads what (`CHANNEL_COLLECTIONS` or `COLLECTION_AUDIENCES` is set). */
export function accessLimited(access: AppConfig['access']): boolean {
  return access.channelCollections !== undefined || access.collectionAudiences !== undefined;
}

// One directory per warm container (per runtime), and on an org-wide install on Enterprise Grid one per workspace
// the questions come through (usergroups.list needs the workspace's team_id with an org-level token). Its client never
// waits: no retries, a 429 refused at once, 2 s at most, so a slow or throttled Slack closes the groups' collections
// for this question instead of outliving the step. A person is still known by their user id alone (unique in the
// organisation); only where their groups are listed depends on the workspace.
const directories = new WeakMap<Runtime, Map<string, Promise<UserGroupDirectory>>>();

async function makeDirectory(runtime: Runtime, teamId: string | undefined): Promise<UserGroupDirectory> {
  const { config } = runtime;
  const token = await runtime.secrets.read(config.secrets.slackBotToken, 'SLACK_BOT_TOKEN');
  // Loaded here, not at the top: a deployment whose audiences name no user group never evaluates it.
  const { WebClient } = await import('@slack/web-api');
  const client = new WebClient(token, {
    slackApiUrl: config.endpoints.slackApi,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 2_000,
  });
  return createUserGroupDirectory(client, {
    now: runtime.now,
    ttlMs: config.access.userGroupsCacheSeconds * 1000,
    ...(teamId === undefined ? {} : { teamId }),
    onUnknown: (reason) =>
      runtime.logger.warn('user groups unknown: only collections open to everyone are read', { reason }),
  });
}

/** `teamId`: the workspace to list the groups of, on an org-wide install only. */
function directoryFor(runtime: Runtime, teamId: string | undefined): Promise<UserGroupDirectory> {
  let byTeam = directories.get(runtime);
  if (byTeam === undefined) {
    byTeam = new Map();
    directories.set(runtime, byTeam);
  }
  const key = teamId ?? '';
  let directory = byTeam.get(key);
  if (directory === undefined) {
    directory = makeDirectory(runtime, teamId);
    directory.catch(() => byTeam.delete(key));
    byTeam.set(key, directory);
  }
  return directory;
}

/** Drops what this runtime knows of user groups, as a new container would start: for the local stack's tests. */
export function forgetUserGroups(runtime: Runtime): void {
  directories.delete(runtime);
}

/**
 * What `turn`'s asker may read where they asked, or undefined where the deployment does not limit it. Their user
 * groups are asked of Slack only when an audience names one; when Slack cannot say, the reach is what is open to
 * everyone (fail closed), marked `groupsUnknown`.
 */
export async function reachOf(
  runtime: Runtime,
  turn: Pick<Turn, 'user' | 'channel' | 'teamId' | 'enterpriseId'>,
): Promise<Reach | undefined> {
  const { access } = runtime.config;
  if (!accessLimited(access)) return undefined;
  const groups = needsUserGroups(access)
    ? await directoryFor(runtime, turn.enterpriseId === undefined ? undefined : turn.teamId)
        .then((directory) => directory.groupsOf(turn.user))
        .catch((error: unknown) => {
          runtime.logger.warn('user groups unknown: only collections open to everyone are read', {
            reason: error instanceof Error ? error.message : String(error),
          });
          return undefined;
        })
    : new Set<string>();
  return reachFor(access, { user: turn.user, channel: turn.channel }, groups);
}
