import { readFileSync } from 'node:fs';
import { runningDev } from '../local/local-store-lock';
import type { UserGroupListing } from './reach-report';

/**
 * Where a local command (`npm run access`, `npm run eval`) reads the workspace's user groups from: Slack's
 * `usergroups.list` with SLACK_BOT_TOKEN (the deployed workspace; SLACK_API_URL to point elsewhere), else a running
 * `npm run dev`'s fake Slack, else the LOCAL_SLACK_USERGROUPS file; `unavailable` says why when none can.
 */
export async function listGroups(
  env: NodeJS.ProcessEnv,
): Promise<UserGroupListing | { unavailable: string }> {
  const fromSlack = async (token: string, slackApiUrl: string | undefined, source: string) => {
    const { WebClient } = await import('@slack/web-api');
    const client = new WebClient(token, {
      ...(slackApiUrl === undefined ? {} : { slackApiUrl }),
      retryConfig: { retries: 2 },
    });
    const { usergroups = [] } = await client.usergroups.list({ include_users: true, include_disabled: true });
    return {
      source,
      groups: usergroups.map((g) => ({
        id: g.id ?? '',
        ...(g.name === undefined ? {} : { name: g.name }),
        users: g.users ?? [],
        disabled: (g.date_delete ?? 0) > 0,
      })),
    };
  };
  const token = env.SLACK_BOT_TOKEN?.trim();
  if (token) return fromSlack(token, env.SLACK_API_URL?.trim() || undefined, 'Slack (usergroups.list)');
  const dev = await runningDev();
  if (dev !== undefined) {
    return fromSlack('xoxb-local-access-command', dev.slackApiUrl, "the running npm run dev's fake Slack");
  }
  const file = env.LOCAL_SLACK_USERGROUPS?.trim();
  if (file) {
    const map = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string[]>;
    return { source: file, groups: Object.entries(map).map(([id, users]) => ({ id, users })) };
  }
  return {
    unavailable:
      'no source of user groups: set SLACK_BOT_TOKEN (the deployed workspace), run npm run dev, or set LOCAL_SLACK_USERGROUPS',
  };
}

/** The enabled groups `user` is a member of, by id. */
export function groupsOfUser(listing: UserGroupListing, user: string): Set<string> {
  return new Set(listing.groups.filter((g) => !g.disabled && g.users.includes(user)).map((g) => g.id));
}
