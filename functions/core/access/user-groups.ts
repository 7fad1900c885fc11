import { rateLimitedFor } from '../slack/slack-errors';

/**
 * Which Slack user groups a person is in, for `COLLECTION_AUDIENCES`. One `usergroups.list` call with
 * `include_users` answers for every person and every group of the workspace, where `usergroups.users.list` would
 * take a call per group: both are Tier 2 (about 20 calls a minute per workspace), so the one call is what Slack's
 * limits favour. The answer is kept for `ttlMs` (2 minutes by default, `USER_GROUPS_CACHE_SECONDS`) per warm
 * container: a person removed from a group keeps its collections for at most that long, one added gains them as
 * soon.
 *
 * Fail closed: when Slack cannot say (an error, a missing `usergroups:read` scope, a rate limit, a timeout), the
 * person's groups are unknown (`undefined`) and the caller reads only what is open to everyone. A rate limit is
 * honoured: no call is made again until Slack's Retry-After has passed. An error is not kept beyond
 * `failureBackoffMs`, so one bad minute does not close the groups for the next two.
 */

/** The slice of `WebClient` the lookup needs. */
export interface UserGroupsClient {
  usergroups: {
    list(args: {
      include_users: boolean;
      include_disabled?: boolean;
      include_count?: boolean;
      team_id?: string;
    }): Promise<{
      usergroups?: { id?: string; users?: string[]; date_delete?: number }[];
    }>;
  };
}

export interface UserGroupDirectory {
  /** The user groups `user` is in, or undefined when Slack cannot say now. */
  groupsOf(user: string): Promise<ReadonlySet<string> | undefined>;
}

export interface UserGroupDirectoryOptions {
  now(): number;
  /** How long an answer of Slack's is used. */
  ttlMs?: number;
  /** How long after a failure (other than a rate limit) Slack is not asked again. */
  failureBackoffMs?: number;
  /** Told why the groups are unknown (never with any person's data). */
  onUnknown?(reason: string): void;
  /**
   * The workspace whose groups to list, on an org-wide install on Enterprise Grid: Slack requires `team_id` with an
   * org-level token (and ignores it with a workspace token). Unset for a single-workspace install.
   */
  teamId?: string;
}

/** How long a removed member keeps reading their group's collections, at most (documented in the README). */
export const USER_GROUP_CACHE_MS = 120_000;

export function createUserGroupDirectory(
  client: UserGroupsClient,
  options: UserGroupDirectoryOptions,
): UserGroupDirectory {
  const ttlMs = options.ttlMs ?? USER_GROUP_CACHE_MS;
  const failureBackoffMs = options.failureBackoffMs ?? 5_000;
  let members: { until: number; byUser: Map<string, Set<string>> } | undefined;
  let unknownUntil = 0;
  let inFlight: Promise<Map<string, Set<string>> | undefined> | undefined;

  const fetchAll = async (): Promise<Map<string, Set<string>> | undefined> => {
    try {
      const { usergroups } = await client.usergroups.list({
        include_users: true,
        include_disabled: false,
        ...(options.teamId === undefined ? {} : { team_id: options.teamId }),
      });
      const byUser = new Map<string, Set<string>>();
      for (const group of usergroups ?? []) {
        if (group.id === undefined || (group.date_delete ?? 0) > 0) continue;
        for (const user of group.users ?? []) {
          const groups = byUser.get(user) ?? new Set<string>();
          groups.add(group.id);
          byUser.set(user, groups);
        }
      }
      members = { until: options.now() + ttlMs, byUser };
      return byUser;
    } catch (error) {
      const retryAfter = rateLimitedFor(error);
      unknownUntil = options.now() + (retryAfter === undefined ? failureBackoffMs : retryAfter * 1000);
      options.onUnknown?.(describe(error, retryAfter));
      return undefined;
    }
  };

  return {
    async groupsOf(user) {
      const now = options.now();
      let byUser = members !== undefined && members.until > now ? members.byUser : undefined;
      if (byUser === undefined) {
        if (unknownUntil > now) return undefined;
        inFlight ??= fetchAll().finally(() => {
          inFlight = undefined;
        });
        byUser = await inFlight;
        if (byUser === undefined) return undefined;
      }
      return byUser.get(user) ?? new Set();
    },
  };
}

function describe(error: unknown, retryAfter: number | undefined): string {
  if (retryAfter !== undefined) return `usergroups.list is rate limited for ${retryAfter} s`;
  const code = (error as { data?: { error?: string } } | null)?.data?.error;
  if (code !== undefined) return `usergroups.list failed: ${code}`;
  return `usergroups.list failed: ${error instanceof Error ? error.message : String(error)}`;
}
