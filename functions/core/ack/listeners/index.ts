import type { App } from '@slack/bolt';
import type { AckDependencies } from '../ack-dependencies';
import type { BotIdentityLookup } from '../bot-identity';
import type { AnswerQuestion } from '../question';
import type { Refusals } from '../refusals';
import * as actions from './actions';
import * as assistant from './assistant';
import * as events from './events';
import * as messages from './messages';
import * as views from './views';

/** What the listeners are given: the ack's dependencies, and the question's handling and refusals built on them. */
export interface ListenerDependencies {
  deps: AckDependencies;
  answer: AnswerQuestion;
  refusals: Refusals;
  /** The bot's identity and installation: on an org-wide install, the organisation thread keys are scoped by. */
  identity: BotIdentityLookup;
}

/** One folder per Slack surface, each registering its own listeners: adding a surface is adding a file. */
export function registerListeners(app: App, listenerDeps: ListenerDependencies): void {
  events.register(app, listenerDeps);
  messages.register(app, listenerDeps);
  assistant.register(app, listenerDeps);
  actions.register(app, listenerDeps);
  views.register(app, listenerDeps);
}
