import type { Logger } from '@aws-lambda-powertools/logger';
import type { ChannelProfiles } from '../channel-profiles';
import type { BotMetrics } from '../metrics';
import type { EventStore } from '../stores/event-store';
import type { HistoryStore } from '../stores/history-store';
import type { ConversationInput } from '../types';

/**
 * Which replies in a channel thread the bot answers without being mentioned, once it has answered in that
 * thread (`FOLLOW_UPS`): none, the original asker's (the default), or anyone's. A reply that mentions someone
 * else is never one: it is addressed to them.
 */
export type FollowUpPolicy = 'off' | 'asker' | 'anyone';

/** A suggested prompt of the agent pane: the title shown and the message sent when clicked. */
export interface SuggestedPrompt {
  title: string;
  message: string;
}

export interface AckDependencies {
  signingSecret: string;
  botToken: string;
  /** The fake Slack's URL locally; Slack's own when unset. */
  slackApiUrl?: string;
  /** Saves an `auth.test` call on a cold start when known. */
  botUserId?: string;
  eventStore: EventStore;
  /** Starts the conversation state machine asynchronously; resolves once the execution is accepted. */
  startExecution(name: string, input: ConversationInput): Promise<void>;
  logger: Logger;
  now(): number;
  maxQuestionChars: number;
  /** Channels the bot answers in; every channel when undefined. */
  allowedChannels?: readonly string[];
  /**
   * The installing workspace (`SLACK_TEAM_ID`), or with an `E…` id the organisation of an org-wide install on
   * Enterprise Grid; `auth.test`'s answer when undefined.
   */
  teamId?: string;
  /** This app's id (`SLACK_APP_ID`); `auth.test`'s `app_id` when undefined. */
  appId?: string;
  /** Answer Slack Connect users and channels shared with other organisations. @default false */
  allowSlackConnect?: boolean;
  /** Answer guests (restricted and ultra-restricted accounts). @default false */
  allowGuests?: boolean;
  /** Thread lookups (follow-ups without a mention, a DM thread's first question) and feedback on answers. */
  historyStore: Pick<HistoryStore, 'threadAsker' | 'recordFeedback' | 'recordFeedbackComment'>;
  /** @default 'asker' */
  followUps?: FollowUpPolicy;
  /** Assistants per channel (`CHANNEL_PROFILES`): a channel's profile may set its own follow-up policy. */
  channelProfiles?: ChannelProfiles;
  /** Shown when someone opens the agent pane (at most 4). */
  suggestedPrompts?: readonly SuggestedPrompt[];
  /**
   * Questions one person may ask per UTC day (`DAILY_QUESTION_LIMIT`), the day the question was asked (its ts,
   * not a redelivery's arrival); no limit when undefined.
   */
  dailyQuestionLimit?: number;
  /**
   * Whether Retrieve searches Slack (`SLACK_SEARCH`): the event's `action_token` then goes into the execution's
   * input (it goes nowhere otherwise). @default false
   */
  slackSearch?: boolean;
  /** Counts questions started and votes stored, for the usage dashboard. */
  metrics?: Pick<BotMetrics, 'count'>;
}
