import type { Logger } from '@aws-lambda-powertools/logger';
import type { WebClient } from '@slack/web-api';
import { quietly } from './quietly';

/**
 * A reply only the person sees, in the answer's thread (a thank-you for a vote or a comment, a refused vote). Its
 * failure must not fail the click: it is logged as the failure to `what`.
 */
export async function replyToPersonAlone(
  logger: Logger,
  client: WebClient,
  what: string,
  to: { channel: string; user: string; threadTs: string },
  text: string,
): Promise<void> {
  await quietly(logger, what, () =>
    client.chat.postEphemeral({ channel: to.channel, user: to.user, thread_ts: to.threadTs, text }),
  );
}
