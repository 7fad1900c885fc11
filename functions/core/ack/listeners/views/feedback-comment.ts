import type { Middleware, SlackViewMiddlewareArgs } from '@slack/bolt';
import { textsFor } from '../../../i18n';
import type { AckDependencies } from '../../ack-dependencies';
import { replyToPersonAlone } from '../../ephemeral-reply';
import { COMMENT_ACTION_ID, COMMENT_BLOCK_ID, MAX_COMMENT_CHARS, parseCommentTarget } from '../../feedback';

/** The comment form a 👎 opens: the comment is stored with the vote, and thanked for to the person alone. */
export function feedbackComment(
  deps: Pick<AckDependencies, 'historyStore' | 'logger'>,
): Middleware<SlackViewMiddlewareArgs> {
  return async ({ ack, body, view, client }) => {
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
