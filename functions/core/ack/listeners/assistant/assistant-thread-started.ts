import type { Middleware, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { AckDependencies } from '../../ack-dependencies';
import { setSuggestedPrompts } from '../../suggested-prompts';

/** The agent pane (legacy assistant threads): suggested prompts for a new thread. */
export function assistantThreadStarted(
  deps: Pick<AckDependencies, 'suggestedPrompts' | 'logger'>,
): Middleware<SlackEventMiddlewareArgs<'assistant_thread_started'>> {
  return async ({ event, client }) => {
    const thread = (event as { assistant_thread?: { channel_id?: string; thread_ts?: string } })
      .assistant_thread;
    if (!thread?.channel_id || !thread.thread_ts) return;
    await setSuggestedPrompts(deps, client, thread.channel_id, thread.thread_ts);
  };
}
