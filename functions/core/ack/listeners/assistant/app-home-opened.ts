import type { Middleware, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { AckDependencies } from '../../ack-dependencies';
import { setSuggestedPrompts } from '../../suggested-prompts';

/** The agent pane (agent apps): opening its messages tab. Agent apps set prompts without a thread_ts. */
export function appHomeOpened(
  deps: Pick<AckDependencies, 'suggestedPrompts' | 'logger'>,
): Middleware<SlackEventMiddlewareArgs<'app_home_opened'>> {
  return async ({ event, client }) => {
    if (event.tab !== 'messages') return;
    await setSuggestedPrompts(deps, client, event.channel, undefined);
  };
}
