import type { BlockAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { textsFor } from '../../../i18n';
import { DIMENSION, METRIC } from '../../../metric-names';
import type { AckDependencies } from '../../ack-dependencies';
import type { BotIdentityLookup } from '../../bot-identity';
import { replyToPersonAlone } from '../../ephemeral-reply';
import { commentModal, type FeedbackTarget, parseFeedbackValue } from '../../feedback';
import { quietly } from '../../quietly';
import type { Refusals } from '../../refusals';

type FeedbackDependencies = Pick<AckDependencies, 'historyStore' | 'logger' | 'now' | 'metrics'>;

/** The 👍 and 👎 buttons under an answer. */
export function feedbackButtons(
  deps: FeedbackDependencies,
  refusals: Refusals,
  identity: BotIdentityLookup,
): Middleware<SlackActionMiddlewareArgs<BlockAction>> {
  return async ({ ack, body, action, client }) => {
    await ack();
    const click = body as unknown as FeedbackClick;
    // The answer's language, which the button carries, is the one the person reads.
    const lang = parseFeedbackValue((action as { value?: string }).value)?.target.lang ?? 'en';
    const refusal = await refusals.forVoter(click.user, lang);
    const { enterpriseId } = await identity();
    await handleFeedbackClick(deps, client, click, action as { value?: string }, refusal, enterpriseId);
  };
}

/** The parts of a `block_actions` payload a feedback click reads. */
interface FeedbackClick {
  user: { id: string; team_id?: string };
  trigger_id?: string;
  action_ts?: string;
  team?: { id?: string } | null;
  enterprise?: { id?: string } | null;
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
  deps: FeedbackDependencies,
  client: WebClient,
  click: FeedbackClick,
  action: { value?: string; action_ts?: string },
  /** The polite reply for a person the configuration does not allow: their vote is not stored. */
  refusal: string | undefined,
  /** The organisation of an org-wide install on Enterprise Grid: the turn's thread is keyed on it (keys.ts). */
  enterpriseId: string | undefined,
): Promise<void> {
  const parsed = parseFeedbackValue(action.value);
  if (parsed === undefined || !carriedBy(click, parsed.target, enterpriseId)) {
    deps.logger.warn('feedback click with a value that is not ours, or not the message carrying it; ignored');
    return;
  }
  const { vote } = parsed;
  const target: FeedbackTarget =
    enterpriseId === undefined ? parsed.target : { ...parsed.target, enterpriseId };
  const voter = { channel: target.channel, user: click.user.id, threadTs: target.threadTs };
  if (refusal !== undefined) {
    deps.logger.info('feedback from a person the configuration does not allow; not stored');
    await replyToPersonAlone(deps.logger, client, 'refuse the feedback', voter, refusal);
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
    await quietly(deps.logger, 'open the comment modal', () =>
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
  await replyToPersonAlone(deps.logger, client, 'acknowledge the feedback', voter, text);
}

/**
 * Whether the turn a button value names is the one of the message and workspace carrying the click: the same
 * workspace, channel and thread (the answer is posted in its question's thread). Slack builds the payload from
 * the message, so a mismatch is a forged or a replayed value.
 */
function carriedBy(click: FeedbackClick, target: FeedbackTarget, enterpriseId: string | undefined): boolean {
  const channel = click.container?.channel_id ?? click.channel?.id;
  const threadTs = click.container?.thread_ts ?? click.message?.thread_ts;
  // On an org-wide install the clicker's workspace may be a sister of the one that asked (a channel shared inside
  // the organisation): the organisation must be the installing one, the channel and thread the turn's.
  const scoped =
    enterpriseId === undefined ? click.team?.id === target.teamId : click.enterprise?.id === enterpriseId;
  return scoped && channel === target.channel && threadTs === target.threadTs;
}
