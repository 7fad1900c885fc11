import type { Logger } from '@aws-lambda-powertools/logger';
import type { WebClient } from '@slack/web-api';
import type { Turn } from '../types';

/** Ends and deletes natively streamed messages of an attempt that did not finish; failures are only logged. */
export async function removeStreams(
  deps: { slack: WebClient; logger: Logger },
  turn: Turn,
  streamTs: readonly string[],
): Promise<void> {
  for (const ts of streamTs) {
    await deps.slack.chat.stopStream({ channel: turn.channel, ts }).catch(() => undefined);
    await deps.slack.chat.delete({ channel: turn.channel, ts }).catch((error: unknown) => {
      const code = (error as { data?: { error?: string } }).data?.error;
      if (code !== 'message_not_found')
        deps.logger.warn('Slack: could not delete the stream of an earlier attempt', {
          slackError: code ?? String(error),
        });
    });
  }
}
