import type { KnownBlock, ModalView } from '@slack/web-api';
import { type Lang, textsFor } from '../i18n';
import type { ThreadRef } from '../stores/history-store';

/**
 * The feedback buttons under every final answer, and what their clicks carry. A click arrives at the ack as a
 * `block_actions` payload (the same Function URL, signed like events); the button's value names the turn it
 * votes on, so storing the vote needs no lookup. A negative vote opens a modal for an optional comment, whose
 * submission (`view_submission`) carries the same turn in `private_metadata`.
 */

export const FEEDBACK_ACTION_ID = 'answer_feedback';
export const FEEDBACK_COMMENT_CALLBACK_ID = 'answer_feedback_comment';
export const COMMENT_BLOCK_ID = 'comment';
export const COMMENT_ACTION_ID = 'text';
/** Slack's limit on a plain-text input; a comment is a sentence or two. */
export const MAX_COMMENT_CHARS = 2000;

/** The turn a vote is about, and the vote. */
export interface FeedbackTarget extends ThreadRef {
  /** The question's message ts: the turn's key in the thread's history. */
  messageTs: string;
  lang: Lang;
}

const VERSION = 'f1';

/** A button value: `f1|vote|team|channel|thread|message|lang` (Slack allows 2,000 characters; this is ~70). */
export function feedbackValue(vote: 'positive' | 'negative', target: FeedbackTarget): string {
  return [VERSION, vote, target.teamId, target.channel, target.threadTs, target.messageTs, target.lang].join(
    '|',
  );
}

/** The vote and turn of a button value, or undefined when it is not one of ours. */
export function parseFeedbackValue(
  value: string | undefined,
): { vote: 'positive' | 'negative'; target: FeedbackTarget } | undefined {
  const parts = (value ?? '').split('|');
  const [version, vote, teamId, channel, threadTs, messageTs, lang] = parts;
  if (parts.length !== 7 || version !== VERSION) return undefined;
  if (vote !== 'positive' && vote !== 'negative') return undefined;
  if (!teamId || !channel || !isTs(threadTs) || !isTs(messageTs)) return undefined;
  return { vote, target: { teamId, channel, threadTs, messageTs, lang: lang === 'ja' ? 'ja' : 'en' } };
}

function isTs(value: string | undefined): value is string {
  return value !== undefined && /^\d{9,11}\.\d{6}$/.test(value);
}

/** The `context_actions` block with the 👍 / 👎 buttons for one answer. */
export function feedbackBlock(target: FeedbackTarget): KnownBlock {
  const t = textsFor(target.lang);
  return {
    type: 'context_actions',
    // Unique per answer, as Slack asks of a block whose message is updated.
    block_id: `feedback-${target.messageTs}`,
    elements: [
      {
        type: 'feedback_buttons',
        action_id: FEEDBACK_ACTION_ID,
        positive_button: {
          text: { type: 'plain_text', text: '👍' },
          value: feedbackValue('positive', target),
          accessibility_label: t.feedbackPositive,
        },
        negative_button: {
          text: { type: 'plain_text', text: '👎' },
          value: feedbackValue('negative', target),
          accessibility_label: t.feedbackNegative,
        },
      },
    ],
  } as unknown as KnownBlock;
}

/** The modal a negative vote opens: one optional multi-line comment. */
export function commentModal(target: FeedbackTarget): ModalView {
  const t = textsFor(target.lang);
  return {
    type: 'modal',
    callback_id: FEEDBACK_COMMENT_CALLBACK_ID,
    private_metadata: JSON.stringify(target),
    title: { type: 'plain_text', text: t.commentTitle.slice(0, 24) },
    submit: { type: 'plain_text', text: t.commentSubmit },
    close: { type: 'plain_text', text: t.commentClose },
    blocks: [
      {
        type: 'input',
        block_id: COMMENT_BLOCK_ID,
        optional: true,
        label: { type: 'plain_text', text: t.commentLabel },
        element: {
          type: 'plain_text_input',
          action_id: COMMENT_ACTION_ID,
          multiline: true,
          max_length: MAX_COMMENT_CHARS,
          placeholder: { type: 'plain_text', text: t.commentPlaceholder.slice(0, 150) },
        },
      },
    ],
  };
}

/** The turn a comment modal was opened for, from its `private_metadata`. */
export function parseCommentTarget(privateMetadata: string | undefined): FeedbackTarget | undefined {
  try {
    const parsed = JSON.parse(privateMetadata ?? '') as Partial<FeedbackTarget>;
    const value = feedbackValue('negative', {
      teamId: String(parsed.teamId ?? ''),
      channel: String(parsed.channel ?? ''),
      threadTs: String(parsed.threadTs ?? ''),
      messageTs: String(parsed.messageTs ?? ''),
      lang: parsed.lang === 'ja' ? 'ja' : 'en',
    });
    return parseFeedbackValue(value)?.target;
  } catch {
    return undefined;
  }
}
