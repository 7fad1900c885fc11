import type { WebClient } from '@slack/web-api';
import type { AckDependencies } from './ack-dependencies';
import type { Installation } from './who-may-ask';

export interface BotIdentity extends Installation {
  botUserId?: string;
  botId?: string;
}

/** The bot's identity, looked up once per app; a failed lookup is tried again by the next request. */
export type BotIdentityLookup = () => Promise<BotIdentity>;

/** The configured ids; `auth.test` (one call per container) fills in whichever is not configured. */
export function botIdentityOnce(
  client: WebClient,
  deps: Pick<AckDependencies, 'botUserId' | 'teamId' | 'appId'>,
): BotIdentityLookup {
  let botIdentity: Promise<BotIdentity> | undefined;
  return () => {
    botIdentity ??= resolveBotIdentity(client, deps).catch((error: unknown) => {
      botIdentity = undefined;
      throw error;
    });
    return botIdentity;
  };
}

async function resolveBotIdentity(
  client: WebClient,
  deps: Pick<AckDependencies, 'botUserId' | 'teamId' | 'appId'>,
): Promise<BotIdentity> {
  // SLACK_TEAM_ID=E… configures an org-wide install on Enterprise Grid: the organisation, no one workspace.
  const configured =
    deps.teamId?.startsWith('E') === true ? { enterpriseId: deps.teamId } : { teamId: deps.teamId };
  if (deps.botUserId && deps.teamId && deps.appId)
    return { botUserId: deps.botUserId, ...configured, appId: deps.appId };
  const auth = await client.auth.test();
  // An org-wide install's auth.test says `is_enterprise_install: true` and names the organisation; its team_id is
  // no workspace the bot's people are in (it may be absent, or the organisation's own id).
  const fromAuth =
    auth.is_enterprise_install === true && auth.enterprise_id
      ? { enterpriseId: auth.enterprise_id }
      : { teamId: auth.team_id };
  return {
    botUserId: deps.botUserId ?? auth.user_id,
    botId: auth.bot_id,
    ...(deps.teamId === undefined ? fromAuth : configured),
    appId: deps.appId ?? auth.app_id,
  };
}
