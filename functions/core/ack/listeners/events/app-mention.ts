import type { Middleware, SlackEventMiddlewareArgs } from '@slack/bolt';
import { type AskedMessage, isDirectMessageChannel } from '../../asked-message';
import type { AnswerQuestion } from '../../question';

/** A mention of the bot in a channel: a question. */
export function appMention(answer: AnswerQuestion): Middleware<SlackEventMiddlewareArgs<'app_mention'>> {
  return async ({ event, body, context, client }) => {
    // In a direct message the `message` event carries the question (no mention is needed there).
    if (isDirectMessageChannel(event.channel)) return;
    await answer(event as unknown as AskedMessage, 'mention', { body, client, context });
  };
}
