import type { Middleware, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { AckDependencies } from '../../ack-dependencies';
import { type AskedMessage, isPersonMessage } from '../../asked-message';
import type { BotIdentityLookup } from '../../bot-identity';
import { isFollowUp } from '../../follow-ups';
import type { AnswerQuestion } from '../../question';

/** Direct messages (and the agent pane, whose threads are DMs), and replies in a thread the bot answered in. */
export function message(
  deps: Pick<AckDependencies, 'followUps' | 'channelProfiles' | 'historyStore' | 'now'>,
  answer: AnswerQuestion,
  identity: BotIdentityLookup,
): Middleware<SlackEventMiddlewareArgs<'message'>> {
  return async ({ event, body, context, client }) => {
    const message = event as unknown as AskedMessage;
    const botUserId = context.botUserId;
    if (!isPersonMessage(message, botUserId)) return;
    if (message.channel_type === 'im') {
      await answer(message, 'dm', { body, client, context });
      return;
    }
    if (message.channel_type !== 'channel' && message.channel_type !== 'group') return;
    const envelope = body as { team_id?: string };
    const thread = {
      teamId: envelope.team_id ?? message.team ?? '',
      enterpriseId: (await identity()).enterpriseId,
    };
    if (!(await isFollowUp(deps, message, thread, botUserId))) return;
    await answer(message, 'follow-up', { body, client, context });
  };
}
