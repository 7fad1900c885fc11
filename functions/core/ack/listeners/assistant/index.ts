import type { App } from '@slack/bolt';
import type { ListenerDependencies } from '..';
import { appHomeOpened } from './app-home-opened';
import { assistantThreadStarted } from './assistant-thread-started';

/** The agent pane. Its messages are direct messages: `messages/` answers them. */
export function register(app: App, { deps }: ListenerDependencies): void {
  app.event('assistant_thread_started', assistantThreadStarted(deps));
  app.event('app_home_opened', appHomeOpened(deps));
}
