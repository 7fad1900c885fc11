import type { WebClient } from '@slack/web-api';
import { languageOf, textsFor } from '../i18n';
import { METRIC } from '../metric-names';
import { slackSearchScopeFor } from '../slack/slack-search';
import type { Turn } from '../types';
import type { AckDependencies } from './ack-dependencies';
import { type AskedMessage, isPersonMessage } from './asked-message';
import type { BotIdentityLookup } from './bot-identity';
import { claimOrAwaitHolder, findUnrecordedPlaceholder, giveUpClaim, postOnce, postOrUpdate } from './claim';
import { immediateReplyFor, isForgetRequest } from './immediate-replies';
import { permanentSlackError } from './permanent-slack-error';
import { showProgress } from './progress';
import type { Refusals } from './refusals';
import { questionFromMentionText } from './slack-text';

/** The English placeholder; every language's is in i18n.ts. */
export const PLACEHOLDER_TEXT = textsFor('en').placeholder;

/** What Bolt hands a listener that the question's handling reads. */
export interface Delivery {
  body: { event_id?: string; team_id?: string; is_ext_shared_channel?: boolean };
  client: WebClient;
  /** Bolt's context: the bot's user id, and `retryNum`, which Bolt copies from the header as text. */
  context: { botUserId?: string; retryNum?: unknown };
}

/** Answers a message that may be a question: a mention, a direct message, a follow-up in a thread. */
export type AnswerQuestion = (asked: AskedMessage, via: Turn['via'], delivery: Delivery) => Promise<void>;

/** A Slack-safe execution name: letters, digits, - and _, at most 80 characters, unique per delivery. */
export function executionNameFor(eventId: string, now: number): string {
  const safe = eventId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  return `${safe}-${now.toString(36)}`;
}

/**
 * The question's way through the ack: who is asking, then under the event's claim either an immediate reply or
 * the placeholder and the conversation state machine started. A Slack error no redelivery could fix is logged and
 * Slack gets its 200.
 */
export function createAnswer(
  deps: AckDependencies,
  identity: BotIdentityLookup,
  refusals: Refusals,
  /** Posts the placeholder and immediate replies: a client that never retries by itself (see `postOnce`). */
  poster: WebClient,
): AnswerQuestion {
  return async (asked, via, { body, client, context }) => {
    const botUserId = context.botUserId;
    // Another bot's message (an `app_mention` from a bot has no `user`), an edit, the bot's own: no question, and
    // nobody to look up.
    if (!isPersonMessage(asked, botUserId)) return;
    const lang = languageOf(questionFromMentionText(asked.text ?? '', botUserId));
    const refusal = await refusals.forAsker(asked, body, lang, retryNumber(context.retryNum));
    const { botId, enterpriseId } = await identity();
    try {
      await handleQuestion(deps, client, poster, asked, via, body, botUserId, refusal, botId, enterpriseId);
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
}

/** Bolt's `context.retryNum`, which it copies from the header as text. */
function retryNumber(value: unknown): number | undefined {
  const n = Number(value);
  return value === undefined || !Number.isInteger(n) ? undefined : n;
}

async function handleQuestion(
  deps: AckDependencies,
  client: WebClient,
  /** Posts new messages without retrying by itself (`postOnce`). */
  poster: WebClient,
  event: AskedMessage,
  via: Turn['via'],
  body: Delivery['body'],
  botUserId: string | undefined,
  /** The polite reply for a person the configuration does not allow (who-may-ask.ts). */
  refusal?: string,
  /** The bot's `bot_id` (`auth.test`), when known: its messages are the ones a placeholder lookup reads. */
  botId?: string,
  /** The organisation of an org-wide install on Enterprise Grid (keys.ts). */
  enterpriseId?: string,
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
  const teamId = body.team_id ?? event.team ?? 'unknown-team';
  const claim = await claimOrAwaitHolder(deps, eventId);
  if (claim.status === 'started') {
    logger.info('duplicate delivery of an event already being answered', { eventId });
    return;
  }
  let placeholderTs = claim.placeholderTs;
  /** A placeholder this delivery posted (not one it reused). */
  let postedHere: string | undefined;
  /** Another placeholder of this event may be in the thread, unseen: the execution removes it (`strayPlaceholder`). */
  let strayPossible = false;
  try {
    if (placeholderTs === undefined && claim.takenOver === true) {
      // The delivery that held the claim may have posted a placeholder and been killed before recording it.
      try {
        placeholderTs = await findUnrecordedPlaceholder(deps, client, event, threadTs, eventId, {
          botUserId,
          botId,
        });
      } catch (error) {
        deps.logger.warn('could not look for an unrecorded placeholder', { eventId, error: String(error) });
        strayPossible = true;
      }
    }
    const immediateReply = await immediateReplyFor(
      deps,
      { event, eventId, teamId, enterpriseId, user: event.user, threadTs, question, lang },
      refusal,
    );
    // A new message is posted once, even when Slack's answer to the post is lost (`postOnce`); when the ack could not
    // tell whether an earlier post was made, the execution removes a second one (`strayPlaceholder`).
    const postNew = async (text: string) => {
      const posted = await postOnce(deps, poster, client, event, threadTs, text, eventId, {
        botUserId,
        botId,
      });
      if (posted.unsure) strayPossible = true;
      return posted.ts;
    };
    if (immediateReply !== undefined) {
      placeholderTs =
        placeholderTs === undefined
          ? await postNew(immediateReply)
          : await postOrUpdate(client, event.channel, threadTs, placeholderTs, immediateReply, eventId);
      await deps.eventStore.markStarted(eventId, 'none', placeholderTs);
      return;
    }
    const t = textsFor(lang);
    if (placeholderTs === undefined) {
      placeholderTs = await postNew(t.placeholder);
      postedHere = placeholderTs;
      // Before the execution starts: a delivery that takes this claim over (this one killed) reuses it.
      await deps.eventStore.recordPlaceholder(eventId, placeholderTs);
    }
    const searchScope = slackSearchScopeFor(event, body);
    const turn: Turn = {
      intent: isForgetRequest(question) ? 'forget' : 'question',
      eventId,
      teamId,
      ...(enterpriseId === undefined ? {} : { enterpriseId }),
      channel: event.channel,
      threadTs,
      messageTs: event.ts,
      user: event.user,
      question,
      placeholderTs,
      ...(strayPossible ? { strayPlaceholder: true } : {}),
      lang,
      via,
      // Carried only when the deployment searches Slack (SLACK_SEARCH): otherwise it has no use, so it never travels.
      // Never in a channel shared with another organisation; in a channel, public channels only (slack-search.ts).
      ...(deps.slackSearch === true && event.assistant_thread?.action_token && searchScope !== undefined
        ? { actionToken: event.assistant_thread.action_token, slackSearchScope: searchScope }
        : {}),
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
    await giveUpClaim(deps, client, event.channel, eventId, placeholderTs, postedHere);
    throw error;
  }
}
