import type { Middleware, SlackViewMiddlewareArgs } from '@slack/bolt';
import { textsFor } from '../../../i18n';
import type { AckDependencies } from '../../ack-dependencies';
import type { BotIdentityLookup } from '../../bot-identity';
import { replyToPersonAlone } from '../../ephemeral-reply';
import { COMMENT_ACTION_ID, COMMENT_BLOCK_ID, MAX_COMMENT_CHARS, parseCommentTarget } from '../../feedback';

/** The comment form a 👎 opens: the comment is stored with the vote, and thanked for to the person alone. */
export function feedbackComment(
  deps: Pick<AckDependencies, 'historyStore' | 'logger'>,
  identity: BotIdentityLookup,
): Middleware<SlackViewMiddlewareArgs> {
  return async ({ ack, body, view, client }) => {
    await ack();
    const parsed = parseCommentTarget(view.private_metadata);
    // On an org-wide install the turn's thread is keyed on the organisation (keys.ts), and the comment may come
    // from a sister workspace of the one that asked.
    const { enterpriseId } = await identity();
    const target = parsed === undefined || enterpriseId === undefined ? parsed : { ...parsed, enterpriseId };
    const comment = (view.state.values[COMMENT_BLOCK_ID]?.[COMMENT_ACTION_ID]?.value ?? '')
      .trim()
      .slice(0, MAX_COMMENT_CHARS);
    const submission = body as { team?: { id?: string } | null; enterprise?: { id?: string } | null };
    const submittedFrom = enterpriseId === undefined ? submission.team?.id : submission.enterprise?.id;
    if (target === undefined || comment === '') return;
    if (submittedFrom !== undefined && submittedFrom !== (enterpriseId ?? target.teamId)) {
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
      await replyToPersonAlone(
        deps.logger,
        client,
        'acknowledge the comment',
        { channel: target.channel, user: body.user.id, threadTs: target.threadTs },
        textsFor(target.lang).commentThanks,
      );
    }
  };
}
