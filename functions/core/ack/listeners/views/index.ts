import type { App } from '@slack/bolt';
import { FEEDBACK_COMMENT_CALLBACK_ID } from '../../feedback';
import type { ListenerDependencies } from '..';
import { feedbackComment } from './feedback-comment';

export function register(app: App, { deps, identity }: ListenerDependencies): void {
  app.view(FEEDBACK_COMMENT_CALLBACK_ID, feedbackComment(deps, identity));
}
