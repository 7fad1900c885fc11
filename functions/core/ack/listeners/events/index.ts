import type { App } from '@slack/bolt';
import type { ListenerDependencies } from '..';
import { appMention } from './app-mention';

export function register(app: App, { answer }: ListenerDependencies): void {
  app.event('app_mention', appMention(answer));
}
