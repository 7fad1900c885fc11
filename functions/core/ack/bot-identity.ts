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
  if (deps.botUserId && deps.teamId && deps.appId)
    return { botUserId: deps.botUserId, teamId: deps.teamId, appId: deps.appId };
  const auth = await client.auth.test();
  return {
    botUserId: deps.botUserId ?? auth.user_id,
    botId: auth.bot_id,
    teamId: deps.teamId ?? auth.team_id,
    appId: deps.appId ?? auth.app_id,
  };
}
