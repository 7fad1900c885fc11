import { type Lang, textsFor } from '../i18n';
import type { AckDependencies } from './ack-dependencies';
import { type AskedMessage, askedAt, isDirectMessageChannel } from './asked-message';

export const USAGE_HINT = textsFor('en').usageHint;
export const NOT_ENABLED_HERE = textsFor('en').notEnabledHere;
export const TEXT_ONLY = textsFor('en').textOnly;

/** A question as the ack reads it, from a person's message. */
export interface AskedQuestion {
  event: AskedMessage;
  eventId: string;
  teamId: string;
  /** The organisation of an org-wide install on Enterprise Grid: the thread and the daily limit key on it. */
  enterpriseId?: string;
  user: string;
  threadTs: string;
  /** The text asked, Slack's markup made readable. */
  question: string;
  lang: Lang;
}

/** "forget this thread", "forget this conversation", "このスレッドを忘れて": the person's history is deleted. */
export function isForgetRequest(question: string): boolean {
  return (
    /^(please\s+)?(forget|delete|clear|erase)\s+(this|the)\s+(thread|conversation)\b/i.test(question) ||
    /^(この)?(スレッド|会話)(の履歴)?を(忘れて|削除して|消して)/.test(question)
  );
}

/**
 * The reply the ack gives by itself, in place of the placeholder, without starting the workflow: the refusal of a
 * person who may not ask, nothing to answer or not allowed here, a forget request from someone other than the
 * thread's asker, or the daily limit reached. Undefined when the workflow is to answer. A question counts against
 * the daily limit here, once every other reply is ruled out.
 */
export async function immediateReplyFor(
  deps: Pick<
    AckDependencies,
    | 'allowedChannels'
    | 'maxQuestionChars'
    | 'historyStore'
    | 'eventStore'
    | 'dailyQuestionLimit'
    | 'logger'
    | 'now'
  >,
  asked: AskedQuestion,
  /** The polite reply for a person the configuration does not allow (who-may-ask.ts). */
  refusal: string | undefined,
): Promise<string | undefined> {
  const { event, eventId, question, lang } = asked;
  const reply = refusal ?? replyToTheMessage(deps, event, question, lang);
  if (reply !== undefined) return reply;
  if (isForgetRequest(question)) {
    // Only the thread's asker (the person who asked its first stored question) may have it forgotten, whichever
    // way the request came (a mention, a follow-up under any FOLLOW_UPS policy, a DM).
    const asker = await deps.historyStore.threadAsker(
      {
        teamId: asked.teamId,
        enterpriseId: asked.enterpriseId,
        channel: event.channel,
        threadTs: asked.threadTs,
      },
      deps.now(),
    );
    if (asker !== undefined && asker !== asked.user) {
      deps.logger.info('forget refused: not the thread asker', { eventId });
      return textsFor(lang).forgetNotYours;
    }
    // A forget is no question: it does not count against the daily limit.
    return undefined;
  }
  if (
    deps.dailyQuestionLimit !== undefined &&
    !(await deps.eventStore.countQuestion(
      { teamId: asked.teamId, enterpriseId: asked.enterpriseId, user: asked.user },
      eventId,
      deps.dailyQuestionLimit,
      askedAt(event, deps.now()),
    ))
  ) {
    deps.logger.info('daily question limit reached', { eventId, limit: deps.dailyQuestionLimit });
    return textsFor(lang).dailyLimit(deps.dailyQuestionLimit);
  }
  return undefined;
}

/** What the message itself calls for: nothing to answer, or not allowed here. */
function replyToTheMessage(
  deps: Pick<AckDependencies, 'allowedChannels' | 'maxQuestionChars'>,
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
