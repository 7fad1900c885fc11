import type { App } from '@slack/bolt';
import type { ListenerDependencies } from '..';
import { message } from './message';

export function register(app: App, { deps, answer, identity }: ListenerDependencies): void {
  app.event('message', message(deps, answer, identity));
}
