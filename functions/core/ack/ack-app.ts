import type { Logger } from '@aws-lambda-powertools/logger';
import {
  App,
  AwsLambdaReceiver,
  isValidSlackRequest,
  LogLevel,
  type SlackEventMiddlewareArgs,
} from '@slack/bolt';
import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { EventClaim, EventStore } from '../stores/event-store';
import type { ConversationInput, Turn } from '../types';
import { permanentSlackError } from './permanent-slack-error';
import { questionFromMentionText } from './slack-text';
import {
  type AskingEvent,
  cachedPersonLookup,
  type EventEnvelope,
  foreignDelivery,
  type Installation,
  outsiderReply,
} from './who-may-ask';

export const PLACEHOLDER_TEXT = 'Typing...';

export const USAGE_HINT =
  'Mention me with a question, for example `@bot how do I rotate the VPN key?` ' +
  'I answer from the documents your team has indexed and I remember this thread, so you can ask follow-ups.';

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
}

type AppMentionEvent = SlackEventMiddlewareArgs<'app_mention'>['event'];

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
  // Slack waits 3 s for the ack: one quick retry at most, and no call may hang.
  const clientOptions: WebClientOptions = {
    slackApiUrl: deps.slackApiUrl,
    retryConfig: { retries: 1, minTimeout: 100, maxTimeout: 500 },
    timeout: 2_000,
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

  app.event('app_mention', async ({ event, body, context, client }) => {
    const refusal = await outsiderReply(
      event as AskingEvent,
      body as EventEnvelope,
      await identity(),
      { allowSlackConnect: deps.allowSlackConnect === true, allowGuests: deps.allowGuests === true },
      lookUpPerson,
    );
    try {
      await handleMention(
        deps,
        client,
        event,
        body as { event_id?: string; team_id?: string },
        context.botUserId,
        refusal,
      );
    } catch (error) {
      const slackError = permanentSlackError(error);
      if (slackError === undefined) throw error;
      deps.logger.error('Slack refused the reply for good; not asking Slack to redeliver', {
        slackError,
        eventId: (body as { event_id?: string }).event_id,
        channel: event.channel,
      });
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

async function handleMention(
  deps: AckDependencies,
  client: WebClient,
  event: AppMentionEvent,
  body: { event_id?: string; team_id?: string },
  botUserId: string | undefined,
  /** The polite reply for a person the configuration does not allow (who-may-ask.ts). */
  refusal?: string,
): Promise<void> {
  const { logger } = deps;
  // Edits re-deliver a mention, and another bot's message is never a question for us. A reply also sent to the
  // channel (`thread_broadcast`) is a mention like any other.
  const subtype = (event as { subtype?: string }).subtype;
  const ignoredSubtype = subtype !== undefined && subtype !== 'thread_broadcast';
  if (event.bot_id || ignoredSubtype || 'edited' in event || (botUserId && event.user === botUserId)) return;
  const eventId = body.event_id;
  if (!eventId || !event.user) {
    logger.warn('app_mention without event_id or user; ignored');
    return;
  }
  const threadTs = event.thread_ts ?? event.ts;
  const question = questionFromMentionText(event.text ?? '', botUserId);
  const claim = await claimOrAwaitHolder(deps, eventId);
  if (claim.status === 'started') {
    logger.info('duplicate delivery of an event already being answered', { eventId });
    return;
  }
  let placeholderTs = claim.placeholderTs;
  try {
    const immediateReply = refusal ?? immediateReplyFor(deps, event, question);
    if (immediateReply !== undefined) {
      placeholderTs = await postOrUpdate(client, event.channel, threadTs, placeholderTs, immediateReply);
      await deps.eventStore.markStarted(eventId, 'none', placeholderTs);
      return;
    }
    if (placeholderTs === undefined) {
      placeholderTs = await postOrUpdate(client, event.channel, threadTs, undefined, PLACEHOLDER_TEXT);
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
    };
    const executionName = executionNameFor(eventId, deps.now());
    await deps.startExecution(executionName, { turn });
    logger.info('conversation started', { eventId, executionName, channel: event.channel, threadTs });
    await deps.eventStore.markStarted(eventId, executionName, placeholderTs);
  } catch (error) {
    // Give the claim up so Slack's retry of this delivery gets the question answered; keep the placeholder.
    await deps.eventStore.releaseClaim(eventId, placeholderTs).catch((releaseError: unknown) => {
      logger.error('could not release the event claim; it goes stale on its own', { eventId, releaseError });
    });
    throw error;
  }
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

export const NOT_ENABLED_HERE =
  "I'm not enabled in this channel, so I can't answer here. Please ask in a channel where your admin has enabled me.";
export const TEXT_ONLY =
  'I can only read the text of a message for now, not attached files. Please type your question after mentioning me.';

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
  event: AppMentionEvent,
  question: string,
): string | undefined {
  if (deps.allowedChannels !== undefined && !deps.allowedChannels.includes(event.channel))
    return NOT_ENABLED_HERE;
  const files = (event as { files?: unknown[] }).files;
  if (question === '') return files !== undefined && files.length > 0 ? TEXT_ONLY : USAGE_HINT;
  if (question.length > deps.maxQuestionChars) {
    return `That question is ${question.length.toLocaleString('en')} characters long; please ask in at most ${deps.maxQuestionChars.toLocaleString('en')}.`;
  }
  return undefined;
}

async function postOrUpdate(
  client: WebClient,
  channel: string,
  threadTs: string,
  existingTs: string | undefined,
  text: string,
): Promise<string> {
  if (existingTs) {
    await client.chat.update({ channel, ts: existingTs, text });
    return existingTs;
  }
  const posted = await client.chat.postMessage({ channel, thread_ts: threadTs, text });
  if (!posted.ts) throw new Error('chat.postMessage returned no ts');
  return posted.ts;
}
