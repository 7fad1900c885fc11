import type { Reach } from './access/reach';
import type { ResolvedProfile } from './channel-profiles';
import type { Lang } from './i18n';

/**
 * The documents that flow through the conversation state machine. Each Task receives only the fields its
 * `Parameters` select and returns one of the results below, which the state machine stores with `ResultPath`.
 * Everything here is small by construction: passages are capped and whole documents never travel.
 */

/** What the ack Lambda starts an execution with: one Slack mention, already verified and deduplicated. */
export interface Turn {
  /** `forget` when the person asked the bot to forget the thread; the state machine branches on it. */
  intent: 'question' | 'forget';
  /** Slack's `event_id`: the idempotency key for every side effect of this question. */
  eventId: string;
  /** The workspace whose envelope delivered the question (on Enterprise Grid: one of the organisation's). */
  teamId: string;
  /**
   * The organisation of an org-wide install on Enterprise Grid, absent otherwise. The thread's history, votes and
   * the daily limit key on it rather than on `teamId` (stores/keys.ts): a shared channel's events arrive with the
   * `team_id` of whichever workspace delivered them, and must not split one thread into two histories.
   */
  enterpriseId?: string;
  channel: string;
  /** The thread the conversation lives in (the mention's own ts when it started the thread). */
  threadTs: string;
  /** The mention message's ts. */
  messageTs: string;
  user: string;
  /** The mention's text with the bot's mention removed. */
  question: string;
  /** The bot's placeholder message in the thread, which the answer (or apology) replaces. */
  placeholderTs: string;
  /**
   * The ack posted the placeholder twice, perhaps: Slack's answer to the first post was lost and the thread could not
   * be read to see whether it was made. The execution then removes any other placeholder of this event.
   */
  strayPlaceholder?: boolean;
  /** The language of the question, which the bot's fixed texts speak (`en` when absent). */
  lang?: Lang;
  /** How the question came: a mention in a channel, a direct message (or the agent pane), a thread reply. */
  via?: 'mention' | 'dm' | 'follow-up';
  /**
   * The short-lived token Slack put in the event of the question (`assistant_thread.action_token`), with which
   * Retrieve may search the Slack messages the asker can see. Only when `SLACK_SEARCH` is on; a credential: never
   * logged nor stored (it lives in the execution's input, see README "Slack messages as sources").
   */
  actionToken?: string;
  /**
   * Whose eyes the answer is for, which bounds what Slack's search may read (`slackSearchScopeFor`): `asker` in the
   * asker's own DM with the bot (the agent pane), where only they see the answer; `public` in a channel, where
   * everyone in it does. Absent with an `actionToken` (a turn from before this field): `public`.
   */
  slackSearchScope?: SlackSearchScope;
}

/** What Slack's search may read for a turn: see `Turn.slackSearchScope`. */
export type SlackSearchScope = 'asker' | 'public';

export interface ConversationInput {
  turn: Turn;
}

/** One message of a thread's history, as stored and as passed between states. */
export interface StoredMessage {
  role: 'human' | 'ai';
  content: string;
}

export interface HistoryResult {
  /** Turns (question + answer pairs) loaded within the budget. */
  turnCount: number;
  messages: StoredMessage[];
  /** What this question may read, when the deployment limits who reads what: Retrieve and the answer follow it. */
  reach?: Reach;
  /** The collections the loaded turns drew on (null: a turn stored before they were recorded); with `reach`. */
  collections?: string[] | null;
  /** The place's profile (`CHANNEL_PROFILES`), resolved once here; `{}` when none applies. */
  profile?: ResolvedProfile;
  /** The document table's version the ingest last recorded, for Retrieve (null: none recorded). */
  tableVersion?: number | null;
  /** The version Optimize folded to make `tableVersion`, which a warm Retrieve may answer from meanwhile (null: none). */
  tableVersionBeforeFold?: number | null;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface StandaloneQuestion {
  question: string;
  /** False when there was no history and the question was used as asked. */
  condensed: boolean;
  usage?: TokenUsage;
}

/** A passage retrieved from the vector store, trimmed to a bounded size. */
export interface Passage {
  source: string;
  title: string;
  heading: string;
  text: string;
  score: number;
  /** The first and last page of the passage in a paged document (a PDF). */
  pageStart?: number;
  pageEnd?: number;
  /** Where a person can open the passage's section: a web page, with its anchor. */
  url?: string;
  /** The passage's collection (null: its document has none), when the deployment limits who reads what. */
  collection?: string | null;
}

export interface RetrievalResult {
  /** `empty-index` when no documents are indexed yet: a normal outcome with a helpful reply. */
  status: 'ok' | 'empty-index';
  search: 'vector' | 'hybrid' | 'none';
  passages: Passage[];
  usage?: TokenUsage;
  /**
   * The collections the passages are of (`''` for none), recorded with the turn; null when the deployment does not
   * limit who reads what (nothing to record). The Retrieve step always sets it: Persist turn's input names it.
   */
  collections?: string[] | null;
  /**
   * Slack's Real-time Search, when `SLACK_SEARCH` is on: `used` (its messages are fused with the documents'
   * passages), `unavailable` (it failed, was rate limited, or the question came without an action_token: the
   * documents alone answer, and the footer says so). Absent when the setting is off.
   */
  slackSearch?: 'used' | 'unavailable';
}

export interface SourceRef {
  source: string;
  title: string;
  heading: string;
  /** The pages of a paged document the answer's passages from this section are on. */
  pageStart?: number;
  pageEnd?: number;
  /** Where a person can open the section (a web page, with its anchor). */
  url?: string;
  /** The citation numbers (`[2]`) in the answer that point at this section. */
  cites?: number[];
}

export interface AnswerResult {
  kind: 'answer' | 'no-documents' | 'already-answered';
  /** The answer as the model wrote it (Markdown). */
  text: string;
  sources: SourceRef[];
  model: string;
  usage: TokenUsage;
  /** Every Slack message the answer occupies: the placeholder first, then any continuations. */
  messageTs: string[];
  /** A Bedrock Guardrail blocked the model's answer: `text` is the polite reply given instead. */
  guardrailIntervened?: true;
}

export interface PersistResult {
  written: boolean;
}

/** What Report failure receives: the turn and the error the Catch recorded. */
export interface FailureReport {
  turn: Turn;
  executionName: string;
  error?: { Error?: string; Cause?: string };
}
