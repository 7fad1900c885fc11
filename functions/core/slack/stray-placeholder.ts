import type { Logger } from '@aws-lambda-powertools/logger';
import type { WebClient } from '@slack/web-api';
import { PLACEHOLDER_EVENT_TYPE } from '../ack/claim';
import type { Turn } from '../types';
import { findInThread } from './find-in-thread';

/**
 * When the ack may have posted the placeholder twice (`turn.strayPlaceholder`: Slack's answer to its first post was
 * lost and the thread could not be read then), deletes the placeholder of this event that is not the turn's, so that
 * it does not stay saying "Searching…". The execution's first step that writes to Slack calls it; it has the time
 * the ack did not. A bot's token deletes only its own messages: another app's message carrying the same metadata
 * stays. Failures are only logged.
 */
export async function removeStrayPlaceholder(
  deps: { slack: WebClient; logger: Pick<Logger, 'info' | 'warn'> },
  turn: Turn,
): Promise<void> {
  if (turn.strayPlaceholder !== true) return;
  try {
    const stray = await findInThread(
      deps.slack,
      { channel: turn.channel, threadTs: turn.threadTs, oldest: turn.messageTs },
      (m) =>
        m.ts !== turn.placeholderTs &&
        m.metadata?.event_type === PLACEHOLDER_EVENT_TYPE &&
        m.metadata.event_payload?.event_id === turn.eventId,
      { pageLimit: 100, maxPages: 5 },
    );
    if (stray?.ts === undefined) return;
    await deps.slack.chat.delete({ channel: turn.channel, ts: stray.ts });
    deps.logger.info('deleted a second placeholder the ack posted for this event', { eventId: turn.eventId });
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    if (code !== 'message_not_found')
      deps.logger.warn('could not remove a second placeholder of this event', {
        eventId: turn.eventId,
        slackError: code ?? String(error),
      });
  }
}
