import type { Logger } from '@aws-lambda-powertools/logger';
import { App, AwsLambdaReceiver, isValidSlackRequest, LogLevel } from '@slack/bolt';
import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import { type Lang, languageOf, textsFor } from '../i18n';
import { DIMENSION, METRIC } from '../metric-names';
import type { BotMetrics } from '../metrics';
import type { EventClaim, EventStore } from '../stores/event-store';
import type { HistoryStore } from '../stores/history-store';
import type { ConversationInput, Turn } from '../types';
import {
  COMMENT_ACTION_ID,
  COMMENT_BLOCK_ID,
  commentModal,
  FEEDBACK_ACTION_ID,
  FEEDBACK_COMMENT_CALLBACK_ID,
  type FeedbackTarget,
  MAX_COMMENT_CHARS,
  parseCommentTarget,
  parseFeedbackValue,
} from './feedback';
import { permanentSlackError } from './permanent-slack-error';
import { questionFromMentionText } from './slack-text';
import {
  type AskingEvent,
  cachedPersonLookup,
  type EventEnvelope,
  foreignDelivery,
  type Installation,
  outsiderReply,
  PersonLookupRateLimitedError,
} from './who-may-ask';

/** The English placeholder; every language's is in i18n.ts. */
export const PLACEHOLDER_TEXT = textsFor('en').placeholder;

export const USAGE_HINT = textsFor('en').usageHint;

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

/** The placeholder's metadata: a delivery that takes a claim over finds a placeholder its holder never recorded. */
export const PLACEHOLDER_EVENT_TYPE = 'answer_placeholder';

/** Slack signs with a timestamp and rejects replays older than 5 minutes; a clock this far ahead is refused too. */
const MAX_CLOCK_SKEW_SECONDS = 300;
/** Slack's own payloads are a few kilobytes; anything this large is not from Slack. */
const MAX_BODY_BYTES = 512 * 1024;
/** A claim whose ack never started an execution (a crash, a throttled StartExecution) is taken over after this. */
export const CLAIM_STALE_MS = 30_000;

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
  /** The installing workspace (`SLACK_TEAM_ID`); `auth.test`'s `team_id` when undefined. */
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
  /** Shown when someone opens the agent pane (at most 4). */
  suggestedPrompts?: readonly SuggestedPrompt[];
  /**
   * Questions one person may ask per UTC day (`DAILY_QUESTION_LIMIT`), the day the question was asked (its ts,
   * not a redelivery's arrival); no limit when undefined.
   */
  dailyQuestionLimit?: number;
  /** Counts questions started and votes stored, for the usage dashboard. */
  metrics?: Pick<BotMetrics, 'count'>;
}

/** A message that may be a question, whichever event brought it. */
interface AskedMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  user?: string;
  text?: string;
  files?: unknown[];
  team?: string;
  bot_id?: string;
  subtype?: string;
  edited?: unknown;
  channel_type?: string;
}

export type AckHandler = (event: AwsEvent, context?: unknown) => Promise<AwsResponse>;

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function reject(statusCode: number, message: string): AwsResponse {
  return { statusCode, headers: { 'Content-Type': 'text/plain' }, body: message };
}

/** A Slack-safe execution name: letters, digits, - and _, at most 80 characters, unique per delivery. */
export function executionNameFor(eventId: string, now: number): string {
  const safe = eventId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  return `${safe}-${now.toString(36)}`;
}

/**
 * The ack Lambda: checks the request at the door, lets Bolt verify and route it, and for an `app_mention`
 * claims the event, posts the placeholder and starts the conversation state machine. Nothing slow runs here:
 * no model call, no vector search; Slack gets its 200 within its 3 seconds.
 */
export function createAckHandler(deps: AckDependencies): AckHandler {
  const receiver = new AwsLambdaReceiver({ signingSecret: deps.signingSecret, logLevel: LogLevel.ERROR });
  // Slack waits 3 s for the ack: one quick retry at most, no call may hang, and a 429 is never waited on
  // (WebClient would otherwise sleep for its Retry-After, seconds past Slack's patience): it fails the call at once.
  const clientOptions: WebClientOptions = {
    slackApiUrl: deps.slackApiUrl,
    retryConfig: { retries: 1, minTimeout: 100, maxTimeout: 500 },
    timeout: 2_000,
    rejectRateLimitedCalls: true,
  };
  const authClient = new WebClient(deps.botToken, clientOptions);
  // A person lookup runs before the placeholder, inside Slack's 3 s: one try, a short timeout, a cache.
  const lookUpPerson = cachedPersonLookup(
    new WebClient(deps.botToken, { ...clientOptions, retryConfig: { retries: 0 }, timeout: 1_200 }),
    { now: deps.now },
  );
  let botIdentity: Promise<BotIdentity> | undefined;
  const identity = (): Promise<BotIdentity> => {
    botIdentity ??= resolveBotIdentity(authClient, deps).catch((error: unknown) => {
      botIdentity = undefined;
      throw error;
    });
    return botIdentity;
  };
  const app = new App({
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions,
    authorize: async () => {
      const { botUserId, botId } = await identity();
      return { botToken: deps.botToken, botUserId, botId };
    },
  });

  // Deliveries for another app or workspace are refused before any listener runs (200: Slack must not retry).
  app.use(async ({ body, next }) => {
    const envelope = body as EventEnvelope;
    const interaction = body as { type?: string; api_app_id?: string; team?: { id?: string } | null };
    if (interaction.type === 'block_actions' || interaction.type === 'view_submission') {
      const { appId, teamId } = await identity();
      if (
        (appId !== undefined && interaction.api_app_id !== appId) ||
        (teamId !== undefined && interaction.team?.id !== undefined && interaction.team.id !== teamId)
      ) {
        deps.logger.warn('interaction for another app or workspace refused', { type: interaction.type });
        return;
      }
    }
    if (envelope.type === 'event_callback') {
      const reason = foreignDelivery(envelope, await identity());
      if (reason !== undefined) {
        deps.logger.warn('delivery for another app or workspace refused', {
          reason,
          eventId: (body as { event_id?: string }).event_id,
        });
        return;
      }
    }
    await next();
  });

  const access = {
    allowSlackConnect: deps.allowSlackConnect === true,
    allowGuests: deps.allowGuests === true,
  };
  const answer = async (
    asked: AskedMessage,
    via: Turn['via'],
    body: { event_id?: string; team_id?: string },
    client: WebClient,
    botUserId: string | undefined,
    retryNum: number | undefined,
  ): Promise<void> => {
    // Another bot's message (an `app_mention` from a bot has no `user`), an edit, the bot's own: no question, and
    // nobody to look up.
    if (!isPersonMessage(asked, botUserId)) return;
    const lang = languageOf(questionFromMentionText(asked.text ?? '', botUserId));
    let refusal: string | undefined;
    try {
      refusal = await outsiderReply(
        asked as AskingEvent,
        body as EventEnvelope,
        await identity(),
        access,
        lookUpPerson,
        lang,
      );
    } catch (error) {
      // Slack cannot say who is asking. Rate limited: no redelivery within Slack's minutes is sure to fare better,
      // and Slack must have its 200 now, so the person is told at once. Another failure: a 500 lets Slack redeliver
      // (up to 3 times), except on its last redelivery, after which nothing would ever be said. The reply is posted
      // under the event's claim, so a further delivery of the same event posts nothing.
      const rateLimited = error instanceof PersonLookupRateLimitedError;
      if (!rateLimited && (retryNum ?? 0) < LAST_SLACK_RETRY) throw error;
      deps.logger.warn('could not look the person up; asking them to try again in a minute', {
        eventId: body.event_id,
        retryNum,
        error: String(error),
      });
      refusal = textsFor(lang).tryAgainInAMinute;
    }
    try {
      await handleQuestion(deps, client, asked, via, body, botUserId, refusal, (await identity()).botId);
    } catch (error) {
      const slackError = permanentSlackError(error);
      if (slackError === undefined) throw error;
      deps.logger.error('Slack refused the reply for good; not asking Slack to redeliver', {
        slackError,
        eventId: body.event_id,
        channel: asked.channel,
      });
    }
  };

  app.event('app_mention', async ({ event, body, context, client }) => {
    // In a direct message the `message` event carries the question (no mention is needed there).
    if (isDirectMessageChannel(event.channel)) return;
    await answer(
      event as unknown as AskedMessage,
      'mention',
      body,
      client,
      context.botUserId,
      retryNumber(context.retryNum),
    );
  });

  // Direct messages (and the agent pane, whose threads are DMs), and replies in a thread the bot answered in.
  app.event('message', async ({ event, body, context, client }) => {
    const message = event as unknown as AskedMessage;
    const botUserId = context.botUserId;
    if (!isPersonMessage(message, botUserId)) return;
    if (message.channel_type === 'im') {
      await answer(message, 'dm', body, client, botUserId, retryNumber(context.retryNum));
      return;
    }
    if (message.channel_type !== 'channel' && message.channel_type !== 'group') return;
    const envelope = body as { team_id?: string };
    if (!(await isFollowUp(deps, message, envelope.team_id ?? message.team ?? '', botUserId))) return;
    await answer(message, 'follow-up', body, client, botUserId, retryNumber(context.retryNum));
  });

  // The agent pane (legacy assistant threads): suggested prompts for a new thread.
  app.event('assistant_thread_started', async ({ event, client }) => {
    const thread = (event as { assistant_thread?: { channel_id?: string; thread_ts?: string } })
      .assistant_thread;
    if (!thread?.channel_id || !thread.thread_ts) return;
    await setSuggestedPrompts(deps, client, thread.channel_id, thread.thread_ts);
  });

  // The agent pane (agent apps): opening its messages tab. Agent apps set prompts without a thread_ts.
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'messages') return;
    await setSuggestedPrompts(deps, client, event.channel, undefined);
  });

  /** The outsider policy applies to votes as to questions: a guest or a Slack Connect user's click is refused. */
  const voterRefusal = async (
    user: { id: string; team_id?: string },
    lang: Lang,
  ): Promise<string | undefined> =>
    outsiderReply(
      { user: user.id, ...(user.team_id === undefined ? {} : { user_team: user.team_id }) },
      {},
      await identity(),
      access,
      lookUpPerson,
      lang,
    );

  app.action(
    { type: 'block_actions', action_id: FEEDBACK_ACTION_ID },
    async ({ ack, body, action, client }) => {
      await ack();
      const click = body as unknown as FeedbackClick;
      // The answer's language, which the button carries, is the one the person reads.
      const lang = parseFeedbackValue((action as { value?: string }).value)?.target.lang ?? 'en';
      const refusal = await voterRefusal(click.user, lang).catch((error: unknown) => {
        deps.logger.warn('could not look the voter up; the vote is not stored', { error: String(error) });
        return textsFor(lang).tryAgainInAMinute;
      });
      await handleFeedbackClick(deps, client, click, action as { value?: string }, refusal);
    },
  );

  app.view(FEEDBACK_COMMENT_CALLBACK_ID, async ({ ack, body, view, client }) => {
    await ack();
    const target = parseCommentTarget(view.private_metadata);
    const comment = (view.state.values[COMMENT_BLOCK_ID]?.[COMMENT_ACTION_ID]?.value ?? '')
      .trim()
      .slice(0, MAX_COMMENT_CHARS);
    const submittedFrom = (body as { team?: { id?: string } | null }).team?.id;
    if (target === undefined || comment === '') return;
    if (submittedFrom !== undefined && submittedFrom !== target.teamId) {
      deps.logger.warn('comment naming a turn of another workspace than its submission; ignored');
      return;
    }
    const saved = await deps.historyStore.recordFeedbackComment(
      target,
      target.messageTs,
      body.user.id,
      comment,
    );
    deps.logger.info('feedback comment', { saved, channel: target.channel, messageTs: target.messageTs });
    if (saved) {
      await quietly(deps, 'acknowledge the comment', () =>
        client.chat.postEphemeral({
          channel: target.channel,
          user: body.user.id,
          thread_ts: target.threadTs,
          text: textsFor(target.lang).commentThanks,
        }),
      );
    }
  });

  const boltHandler = receiver.toHandler();

  return async (awsEvent) => {
    const headers = (awsEvent.headers ?? {}) as Record<string, string | undefined>;
    const rawBody = awsEvent.body
      ? awsEvent.isBase64Encoded
        ? Buffer.from(awsEvent.body, 'base64').toString('utf8')
        : awsEvent.body
      : '';
    if (Buffer.byteLength(rawBody) > MAX_BODY_BYTES) return reject(413, 'request body too large');
    const signature = header(headers, 'x-slack-signature');
    const timestamp = Number(header(headers, 'x-slack-request-timestamp'));
    if (!signature || !Number.isInteger(timestamp))
      return reject(401, 'missing or malformed Slack signature headers');
    const nowSeconds = Math.floor(deps.now() / 1000);
    if (Math.abs(nowSeconds - timestamp) > MAX_CLOCK_SKEW_SECONDS)
      return reject(401, 'stale or future timestamp');
    const valid = isValidSlackRequest({
      signingSecret: deps.signingSecret,
      body: rawBody,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp },
      nowMilliseconds: deps.now(),
    });
    if (!valid) return reject(401, 'invalid Slack signature');
    if (!isParsableBody(rawBody, header(headers, 'content-type')))
      return reject(400, 'body is neither JSON nor form data');
    const retryNum = header(headers, 'x-slack-retry-num');
    if (retryNum !== undefined) {
      deps.logger.info('Slack retried a delivery', {
        retryNum,
        retryReason: header(headers, 'x-slack-retry-reason'),
      });
    }
    // Bolt reads the body as ASCII when it is base64-encoded; hand it the decoded UTF-8 text instead.
    return boltHandler({ ...awsEvent, body: rawBody, isBase64Encoded: false } as AwsEvent, undefined);
  };
}

/**
 * Slack redelivers an event it got no 200 for up to 3 times (`X-Slack-Retry-Num` 1, 2, 3: at once, after about a
 * minute, after about five); after the third it gives up.
 */
const LAST_SLACK_RETRY = 3;

/** Bolt's `context.retryNum`, which it copies from the header as text. */
function retryNumber(value: unknown): number | undefined {
  const n = Number(value);
  return value === undefined || !Number.isInteger(n) ? undefined : n;
}

function isParsableBody(rawBody: string, contentType: string | undefined): boolean {
  if (contentType?.startsWith('application/x-www-form-urlencoded')) return rawBody.length > 0;
  try {
    const parsed: unknown = JSON.parse(rawBody);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}

interface BotIdentity extends Installation {
  botUserId?: string;
  botId?: string;
}

/** The configured ids; `auth.test` (one call per container) fills in whichever is not configured. */
async function resolveBotIdentity(client: WebClient, deps: AckDependencies): Promise<BotIdentity> {
  if (deps.botUserId && deps.teamId && deps.appId)
    return { botUserId: deps.botUserId, teamId: deps.teamId, appId: deps.appId };
  const auth = await client.auth.test();
  return {
    botUserId: deps.botUserId ?? auth.user_id,
    botId: auth.bot_id,
    teamId: deps.teamId ?? auth.team_id,
    appId: deps.appId ?? auth.app_id,
  };
}

/**
 * When the question was asked: its message's ts (Slack's clock, the same in every delivery of the event), so that
 * the daily limit counts it on the day it was asked even when Slack redelivers it after midnight. `fallback` (the
 * ack's clock) only for a ts that is not one.
 */
function askedAt(event: AskedMessage, fallback: number): number {
  const seconds = Number(event.ts);
  return Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds * 1000) : fallback;
}

/** A DM's channel id starts with D. */
function isDirectMessageChannel(channel: string | undefined): boolean {
  return channel?.startsWith('D') === true;
}

/**
 * A message a person wrote: not an edit, a deletion or another bot's message, nor the bot's own. A reply also
 * sent to the channel (`thread_broadcast`) and a message with files (`file_share`) are messages like any other.
 */
function isPersonMessage(message: AskedMessage, botUserId: string | undefined): boolean {
  const subtype = message.subtype;
  if (subtype !== undefined && subtype !== 'thread_broadcast' && subtype !== 'file_share') return false;
  if (message.bot_id || 'edited' in message) return false;
  return message.user !== undefined && message.user !== botUserId;
}

/** `<@U…>`, `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>`: the message is addressed to someone. */
const ADDRESSED = /<(?:@[UW][A-Z0-9]+|!(?:here|channel|everyone|subteam\^[A-Z0-9]+))(?:\|[^>]*)?>/g;

/**
 * Whether a reply in a channel thread, without a mention of the bot, is a follow-up the bot answers: the bot
 * answered in this thread (its history holds a turn), the policy allows this person, and the reply mentions
 * nobody else. A reply that mentions the bot is not handled here: `app_mention` brings it.
 */
async function isFollowUp(
  deps: AckDependencies,
  message: AskedMessage,
  teamId: string,
  botUserId: string | undefined,
): Promise<boolean> {
  const policy = deps.followUps ?? 'asker';
  if (policy === 'off') return false;
  if (message.thread_ts === undefined || message.thread_ts === message.ts) return false;
  const text = message.text ?? '';
  const addressed = [...text.matchAll(ADDRESSED)].map((m) => m[0]);
  if (botUserId !== undefined && addressed.some((a) => a.startsWith(`<@${botUserId}`))) return false;
  if (addressed.length > 0) return false;
  const asker = await deps.historyStore.threadAsker(
    { teamId, channel: message.channel, threadTs: message.thread_ts },
    deps.now(),
  );
  if (asker === undefined) return false;
  return policy === 'anyone' || asker === message.user;
}

async function handleQuestion(
  deps: AckDependencies,
  client: WebClient,
  event: AskedMessage,
  via: Turn['via'],
  body: { event_id?: string; team_id?: string },
  botUserId: string | undefined,
  /** The polite reply for a person the configuration does not allow (who-may-ask.ts). */
  refusal?: string,
  /** The bot's `bot_id` (`auth.test`), when known: its messages are the ones a placeholder lookup reads. */
  botId?: string,
): Promise<void> {
  const { logger } = deps;
  // Edits re-deliver a mention, and another bot's message is never a question for us. A reply also sent to the
  // channel (`thread_broadcast`) is a mention like any other.
  if (!isPersonMessage(event, botUserId)) return;
  const eventId = body.event_id;
  if (!eventId || !event.user) {
    logger.warn('message without event_id or user; ignored');
    return;
  }
  const threadTs = event.thread_ts ?? event.ts;
  const question = questionFromMentionText(event.text ?? '', botUserId);
  const lang = languageOf(question);
  const claim = await claimOrAwaitHolder(deps, eventId);
  if (claim.status === 'started') {
    logger.info('duplicate delivery of an event already being answered', { eventId });
    return;
  }
  let placeholderTs = claim.placeholderTs;
  /** A placeholder this delivery posted (not one it reused). */
  let postedHere: string | undefined;
  try {
    if (placeholderTs === undefined && claim.takenOver === true) {
      // The delivery that held the claim may have posted a placeholder and been killed before recording it.
      placeholderTs = await findUnrecordedPlaceholder(deps, client, event, threadTs, eventId, {
        botUserId,
        botId,
      });
    }
    let immediateReply = refusal ?? immediateReplyFor(deps, event, question, lang);
    if (immediateReply === undefined && isForgetRequest(question)) {
      // Only the thread's asker (the person who asked its first stored question) may have it forgotten, whichever
      // way the request came (a mention, a follow-up under any FOLLOW_UPS policy, a DM).
      const asker = await deps.historyStore.threadAsker(
        { teamId: body.team_id ?? event.team ?? 'unknown-team', channel: event.channel, threadTs },
        deps.now(),
      );
      if (asker !== undefined && asker !== event.user) {
        logger.info('forget refused: not the thread asker', { eventId });
        immediateReply = textsFor(lang).forgetNotYours;
      }
    }
    if (
      immediateReply === undefined &&
      deps.dailyQuestionLimit !== undefined &&
      !isForgetRequest(question) &&
      !(await deps.eventStore.countQuestion(
        { teamId: body.team_id ?? event.team ?? 'unknown-team', user: event.user },
        eventId,
        deps.dailyQuestionLimit,
        askedAt(event, deps.now()),
      ))
    ) {
      logger.info('daily question limit reached', { eventId, limit: deps.dailyQuestionLimit });
      immediateReply = textsFor(lang).dailyLimit(deps.dailyQuestionLimit);
    }
    if (immediateReply !== undefined) {
      placeholderTs = await postOrUpdate(
        client,
        event.channel,
        threadTs,
        placeholderTs,
        immediateReply,
        eventId,
      );
      await deps.eventStore.markStarted(eventId, 'none', placeholderTs);
      return;
    }
    const t = textsFor(lang);
    if (placeholderTs === undefined) {
      placeholderTs = await postOrUpdate(client, event.channel, threadTs, undefined, t.placeholder, eventId);
      postedHere = placeholderTs;
      // Before the execution starts: a delivery that takes this claim over (this one killed) reuses it.
      await deps.eventStore.recordPlaceholder(eventId, placeholderTs);
    }
    const turn: Turn = {
      intent: isForgetRequest(question) ? 'forget' : 'question',
      eventId,
      teamId: body.team_id ?? event.team ?? 'unknown-team',
      channel: event.channel,
      threadTs,
      messageTs: event.ts,
      user: event.user,
      question,
      placeholderTs,
      lang,
      via,
    };
    const executionName = executionNameFor(eventId, deps.now());
    await deps.startExecution(executionName, { turn });
    logger.info('conversation started', { eventId, executionName, channel: event.channel, threadTs, via });
    await deps.eventStore.markStarted(eventId, executionName, placeholderTs);
    // Questions per day: counted once per event, where the claim makes it once (an Express execution may run
    // twice, so a step would count a question twice). A forget is no question.
    if (turn.intent === 'question') deps.metrics?.count(METRIC.Questions);
    await showProgress(deps, client, turn);
  } catch (error) {
    // Give the claim up so Slack's retry of this delivery gets the question answered; keep the placeholder.
    const release = await deps.eventStore
      .releaseClaim(eventId, placeholderTs)
      .catch((releaseError: unknown) => {
        logger.error('could not release the event claim; it goes stale on its own', {
          eventId,
          releaseError,
        });
        return { released: true as const };
      });
    if (!release.released && postedHere !== undefined && release.startedPlaceholderTs !== postedHere) {
      // A delivery that took this claim over (this one was slow) started the execution with its own placeholder:
      // the one posted here would be left saying "Searching…".
      await client.chat.delete({ channel: event.channel, ts: postedHere }).catch((deleteError: unknown) => {
        logger.warn('could not delete the placeholder of a delivery overtaken by another', {
          eventId,
          error: String(deleteError),
        });
      });
    }
    throw error;
  }
}

/** Runs a Slack call whose failure must not fail the delivery (a status, a title, a thank-you); logs it. */
async function quietly(deps: AckDependencies, what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    deps.logger.warn(`Slack: could not ${what}`, { slackError: code ?? String(error) });
  }
}

/**
 * The thread's status while the workflow runs ("<bot> is searching the documents…"; Generate changes it, and the
 * answer or the apology clears it), and the title of a DM thread from its first question (the agent pane lists
 * conversations by title). After the execution started: neither can delay or fail the question.
 */
async function showProgress(deps: AckDependencies, client: WebClient, turn: Turn): Promise<void> {
  const t = textsFor(turn.lang);
  await quietly(deps, 'set the thread status', () =>
    client.assistant.threads.setStatus({
      channel_id: turn.channel,
      thread_ts: turn.threadTs,
      status: t.statusSearching,
      loading_messages: t.loadingMessages,
    }),
  );
  if (turn.via !== 'dm') return;
  const asked = await deps.historyStore
    .threadAsker({ teamId: turn.teamId, channel: turn.channel, threadTs: turn.threadTs }, deps.now())
    .catch(() => 'unknown');
  if (asked !== undefined) return;
  await quietly(deps, 'set the thread title', () =>
    client.assistant.threads.setTitle({
      channel_id: turn.channel,
      thread_ts: turn.threadTs,
      title: threadTitle(turn.question),
    }),
  );
}

/** A conversation's title: its first question, on one line, cut at a word near 60 characters. */
export function threadTitle(question: string): string {
  const line = question.replace(/\s+/g, ' ').trim();
  if (line.length <= 60) return line;
  const cut = line.slice(0, 60);
  const space = cut.lastIndexOf(' ');
  return `${(space > 30 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** How far after the event's ts a killed delivery's placeholder can be: Slack's last retry comes ~5 min later. */
const PLACEHOLDER_WINDOW_SECONDS = 10 * 60;
/** Messages per `conversations.replies` page, and pages read at most, within the ack's 3 s. */
const PLACEHOLDER_PAGE_LIMIT = 50;
const PLACEHOLDER_MAX_PAGES = 4;

/**
 * The placeholder a killed delivery posted for this event but never recorded on the claim: this bot's message in
 * the thread whose metadata names the event (`conversations.replies`, which the history scopes allow). It was
 * posted after the event, so only a window from the event's ts is read, page by page (a long thread's first 200
 * replies may all be older); a message of another app or person carrying the same metadata is not ours. Found, it
 * is reused, so the takeover leaves no second placeholder behind; a failed lookup posts a new one.
 */
async function findUnrecordedPlaceholder(
  deps: AckDependencies,
  client: WebClient,
  event: { channel: string; ts: string },
  threadTs: string,
  eventId: string,
  bot: { botUserId?: string; botId?: string },
): Promise<string | undefined> {
  const [seconds = '0', micros = '000000'] = event.ts.split('.');
  const latest = `${Number(seconds) + PLACEHOLDER_WINDOW_SECONDS}.${micros}`;
  const isOurs = (m: { user?: string; bot_id?: string }): boolean =>
    (bot.botUserId !== undefined && m.user === bot.botUserId) ||
    (bot.botId !== undefined && m.bot_id === bot.botId);
  try {
    let cursor: string | undefined;
    for (let page = 0; page < PLACEHOLDER_MAX_PAGES; page++) {
      const replies = await client.conversations.replies({
        channel: event.channel,
        ts: threadTs,
        oldest: event.ts,
        latest,
        inclusive: true,
        include_all_metadata: true,
        limit: PLACEHOLDER_PAGE_LIMIT,
        ...(cursor === undefined ? {} : { cursor }),
      });
      const mine = (replies.messages ?? []).find((m) => {
        const metadata = (m as { metadata?: { event_type?: string; event_payload?: { event_id?: unknown } } })
          .metadata;
        return (
          isOurs(m) &&
          metadata?.event_type === PLACEHOLDER_EVENT_TYPE &&
          metadata.event_payload?.event_id === eventId
        );
      });
      if (mine?.ts) {
        deps.logger.info('reusing the placeholder of a delivery that was killed', { eventId });
        return mine.ts;
      }
      cursor = replies.response_metadata?.next_cursor || undefined;
      if (replies.has_more !== true || cursor === undefined) return undefined;
    }
    return undefined;
  } catch (error) {
    deps.logger.warn('could not look for an unrecorded placeholder', { eventId, error: String(error) });
    return undefined;
  }
}

async function setSuggestedPrompts(
  deps: AckDependencies,
  client: WebClient,
  channel: string,
  threadTs: string | undefined,
): Promise<void> {
  const prompts = (deps.suggestedPrompts ?? []).slice(0, 4);
  if (prompts.length === 0) return;
  await quietly(deps, 'set the suggested prompts', () =>
    client.assistant.threads.setSuggestedPrompts({
      channel_id: channel,
      ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
      title: textsFor('en').suggestedPromptsTitle,
      prompts: prompts.map((p) => ({ title: p.title, message: p.message })),
    } as Parameters<WebClient['assistant']['threads']['setSuggestedPrompts']>[0]),
  );
}

/** The parts of a `block_actions` payload a feedback click reads. */
interface FeedbackClick {
  user: { id: string; team_id?: string };
  trigger_id?: string;
  action_ts?: string;
  team?: { id?: string } | null;
  channel?: { id?: string };
  container?: { message_ts?: string; thread_ts?: string; channel_id?: string };
  message?: { ts?: string; thread_ts?: string };
  actions?: Array<{ action_ts?: string }>;
}

/**
 * A click on 👍 or 👎: stored with the turn (a second click replaces the first; the same click delivered again
 * changes nothing), acknowledged to the person alone, and for 👎 a modal offers an optional comment.
 */
async function handleFeedbackClick(
  deps: AckDependencies,
  client: WebClient,
  click: FeedbackClick,
  action: { value?: string; action_ts?: string },
  /** The polite reply for a person the configuration does not allow: their vote is not stored. */
  refusal: string | undefined,
): Promise<void> {
  const parsed = parseFeedbackValue(action.value);
  if (parsed === undefined || !carriedBy(click, parsed.target)) {
    deps.logger.warn('feedback click with a value that is not ours, or not the message carrying it; ignored');
    return;
  }
  const { vote, target } = parsed;
  if (refusal !== undefined) {
    deps.logger.info('feedback from a person the configuration does not allow; not stored');
    await quietly(deps, 'refuse the feedback', () =>
      client.chat.postEphemeral({
        channel: target.channel,
        user: click.user.id,
        thread_ts: target.threadTs,
        text: refusal,
      }),
    );
    return;
  }
  const actionTs = action.action_ts ?? click.action_ts ?? String(deps.now() / 1000);
  const outcome = await deps.historyStore.recordFeedback(target, target.messageTs, click.user.id, {
    vote,
    actionTs,
    at: new Date(deps.now()).toISOString(),
  });
  deps.logger.info('feedback', { vote, outcome, channel: target.channel, messageTs: target.messageTs });
  if (outcome === 'unchanged') return;
  if (outcome === 'stored') deps.metrics?.count(METRIC.Feedback, { [DIMENSION.Vote]: vote });
  const t = textsFor(target.lang);
  if (outcome === 'stored' && vote === 'negative' && click.trigger_id !== undefined) {
    await quietly(deps, 'open the comment modal', () =>
      client.views.open({ trigger_id: click.trigger_id as string, view: commentModal(target) }),
    );
  }
  const text =
    outcome === 'stored'
      ? vote === 'positive'
        ? t.feedbackThanksPositive
        : t.feedbackThanksNegative
      : outcome === 'not-yet'
        ? t.feedbackTooEarly
        : t.feedbackGone;
  await quietly(deps, 'acknowledge the feedback', () =>
    client.chat.postEphemeral({
      channel: target.channel,
      user: click.user.id,
      thread_ts: target.threadTs,
      text,
    }),
  );
}

/**
 * Whether the turn a button value names is the one of the message and workspace carrying the click: the same
 * workspace, channel and thread (the answer is posted in its question's thread). Slack builds the payload from
 * the message, so a mismatch is a forged or a replayed value.
 */
function carriedBy(click: FeedbackClick, target: FeedbackTarget): boolean {
  const team = click.team?.id;
  const channel = click.container?.channel_id ?? click.channel?.id;
  const threadTs = click.container?.thread_ts ?? click.message?.thread_ts;
  return team === target.teamId && channel === target.channel && threadTs === target.threadTs;
}

/** How long a retry waits for the delivery holding the claim to start its execution or give the claim up. */
export const CLAIM_WAIT_MS = 1_500;
const CLAIM_POLL_MS = 150;

/** A delivery found another one holding the event and could not learn its outcome in time: Slack must retry. */
export class ClaimHeldError extends Error {
  constructor(eventId: string) {
    super(`event ${eventId} is held by another delivery that has not started its execution yet`);
    this.name = 'ClaimHeldError';
  }
}

/**
 * Claims the event, or learns that an execution was accepted for it. A delivery that finds another one holding
 * a live claim (Slack's retry arriving while a slow first delivery still works) never tells Slack "done" on the
 * holder's behalf: it waits briefly for the holder's outcome and takes the claim over if the holder gives it up,
 * and otherwise fails, so that Slack retries again rather than stopping with nothing started.
 */
async function claimOrAwaitHolder(
  deps: AckDependencies,
  eventId: string,
): Promise<Exclude<EventClaim, { status: 'held' }>> {
  const deadline = Date.now() + CLAIM_WAIT_MS;
  for (;;) {
    const claim = await deps.eventStore.claimEvent(eventId, deps.now(), CLAIM_STALE_MS);
    if (claim.status !== 'held') return claim;
    if (Date.now() >= deadline) throw new ClaimHeldError(eventId);
    await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
  }
}

export const NOT_ENABLED_HERE = textsFor('en').notEnabledHere;
export const TEXT_ONLY = textsFor('en').textOnly;

/** "forget this thread", "forget this conversation", "このスレッドを忘れて": the person's history is deleted. */
export function isForgetRequest(question: string): boolean {
  return (
    /^(please\s+)?(forget|delete|clear|erase)\s+(this|the)\s+(thread|conversation)\b/i.test(question) ||
    /^(この)?(スレッド|会話)(の履歴)?を(忘れて|削除して|消して)/.test(question)
  );
}

/** A reply the ack gives by itself, without starting the workflow: nothing to answer, or not allowed here. */
function immediateReplyFor(
  deps: AckDependencies,
  event: AskedMessage,
  question: string,
  lang: Lang,
): string | undefined {
  const t = textsFor(lang);
  // ALLOWED_CHANNELS limits channels; a direct message with the bot is not one.
  if (
    deps.allowedChannels !== undefined &&
    !isDirectMessageChannel(event.channel) &&
    !deps.allowedChannels.includes(event.channel)
  )
    return t.notEnabledHere;
  const files = event.files;
  if (question === '') return files !== undefined && files.length > 0 ? t.textOnly : t.usageHint;
  if (question.length > deps.maxQuestionChars) return t.tooLong(question.length, deps.maxQuestionChars);
  return undefined;
}

async function postOrUpdate(
  client: WebClient,
  channel: string,
  threadTs: string,
  existingTs: string | undefined,
  text: string,
  eventId: string,
): Promise<string> {
  if (existingTs) {
    await client.chat.update({ channel, ts: existingTs, text });
    return existingTs;
  }
  const posted = await client.chat.postMessage({
    channel,
    thread_ts: threadTs,
    text,
    // Names the event, so that a delivery taking the claim over finds this message if it was never recorded.
    metadata: { event_type: PLACEHOLDER_EVENT_TYPE, event_payload: { event_id: eventId } },
  });
  if (!posted.ts) throw new Error('chat.postMessage returned no ts');
  return posted.ts;
}
