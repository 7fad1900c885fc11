import { profileFor } from '../channel-profiles';
import type { AckDependencies } from './ack-dependencies';
import type { AskedMessage } from './asked-message';

/** `<@U…>`, `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>`: the message is addressed to someone. */
const ADDRESSED = /<(?:@[UW][A-Z0-9]+|!(?:here|channel|everyone|subteam\^[A-Z0-9]+))(?:\|[^>]*)?>/g;

/**
 * Whether a reply in a channel thread, without a mention of the bot, is a follow-up the bot answers: the bot
 * answered in this thread (its history holds a turn), the policy allows this person, and the reply mentions
 * nobody else. A reply that mentions the bot is not handled here: `app_mention` brings it.
 */
export async function isFollowUp(
  deps: Pick<AckDependencies, 'followUps' | 'channelProfiles' | 'historyStore' | 'now'>,
  message: AskedMessage,
  /** The workspace that delivered the reply, and the organisation of an org-wide install (keys.ts). */
  scope: { teamId: string; enterpriseId?: string },
  botUserId: string | undefined,
): Promise<boolean> {
  // The channel's profile may set its own policy (CHANNEL_PROFILES), else the deployment's (FOLLOW_UPS).
  const policy = profileFor(deps.channelProfiles, message.channel).followUps ?? deps.followUps ?? 'asker';
  if (policy === 'off') return false;
  if (message.thread_ts === undefined || message.thread_ts === message.ts) return false;
  const text = message.text ?? '';
  const addressed = [...text.matchAll(ADDRESSED)].map((m) => m[0]);
  if (botUserId !== undefined && addressed.some((a) => a.startsWith(`<@${botUserId}`))) return false;
  if (addressed.length > 0) return false;
  const asker = await deps.historyStore.threadAsker(
    { ...scope, channel: message.channel, threadTs: message.thread_ts },
    deps.now(),
  );
  if (asker === undefined) return false;
  return policy === 'anyone' || asker === message.user;
}
