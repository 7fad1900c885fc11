import { IN_PROGRESS_TEXTS } from '../../functions/core/i18n';
import { TYPING_MARKER } from '../../functions/core/slack/answer-streamer';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What a thread must never be left showing: a placeholder (in any language) or a partial answer's marker. Tests
 * of "never a stray Typing..." match the rendered thread against it.
 */
export const STILL_WORKING = new RegExp(
  [...IN_PROGRESS_TEXTS, TYPING_MARKER.trim(), 'Typing'].map((text) => escapeRegExp(text)).join('|'),
);
