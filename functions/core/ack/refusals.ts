import type { Logger } from '@aws-lambda-powertools/logger';
import { type Lang, textsFor } from '../i18n';
import type { AskedMessage } from './asked-message';
import type { BotIdentityLookup } from './bot-identity';
import {
  type AccessPolicy,
  type AskingEvent,
  type EventEnvelope,
  outsiderReply,
  type PersonLookup,
  PersonLookupRateLimitedError,
} from './who-may-ask';

/**
 * Slack redelivers an event it got no 200 for up to 3 times (`X-Slack-Retry-Num` 1, 2, 3: at once, after about a
 * minute, after about five); after the third it gives up.
 */
const LAST_SLACK_RETRY = 3;

/** The polite replies for a person the configuration does not allow (who-may-ask.ts), or undefined. */
export interface Refusals {
  /**
   * For the person asking a question. When Slack cannot say who is asking, "try again in a minute", or a throw
   * that has Slack redeliver the event.
   */
  forAsker(
    asked: AskedMessage,
    body: { event_id?: string; team_id?: string },
    lang: Lang,
    retryNum: number | undefined,
  ): Promise<string | undefined>;
  /** The outsider policy applies to votes as to questions: a guest or a Slack Connect user's click is refused. */
  forVoter(user: { id: string; team_id?: string }, lang: Lang): Promise<string | undefined>;
}

export function createRefusals(deps: {
  identity: BotIdentityLookup;
  lookUpPerson: PersonLookup;
  access: AccessPolicy;
  logger: Logger;
}): Refusals {
  const { identity, lookUpPerson, access, logger } = deps;
  return {
    async forAsker(asked, body, lang, retryNum) {
      try {
        return await outsiderReply(
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
        logger.warn('could not look the person up; asking them to try again in a minute', {
          eventId: body.event_id,
          retryNum,
          error: String(error),
        });
        return textsFor(lang).tryAgainInAMinute;
      }
    },
    async forVoter(user, lang) {
      try {
        return await outsiderReply(
          { user: user.id, ...(user.team_id === undefined ? {} : { user_team: user.team_id }) },
          {},
          await identity(),
          access,
          lookUpPerson,
          lang,
        );
      } catch (error) {
        logger.warn('could not look the voter up; the vote is not stored', { error: String(error) });
        return textsFor(lang).tryAgainInAMinute;
      }
    },
  };
}
