import type { App } from '@slack/bolt';
import { FEEDBACK_ACTION_ID } from '../../feedback';
import type { ListenerDependencies } from '..';
import { feedbackButtons } from './feedback-buttons';

export function register(app: App, { deps, refusals, identity }: ListenerDependencies): void {
  app.action(
    { type: 'block_actions', action_id: FEEDBACK_ACTION_ID },
    feedbackButtons(deps, refusals, identity),
  );
}
