/** A message that may be a question, whichever event brought it. */
export interface AskedMessage {
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
  /**
   * In the agent pane's threads (and where else Slack adds it), the token with which the Real-time Search API
   * searches what the sender can see: "Send action_token as received in a message event" (assistant.search.context).
   */
  assistant_thread?: { action_token?: string };
}

/**
 * A message a person wrote: not an edit, a deletion or another bot's message, nor the bot's own. A reply also
 * sent to the channel (`thread_broadcast`) and a message with files (`file_share`) are messages like any other.
 */
export function isPersonMessage(message: AskedMessage, botUserId: string | undefined): boolean {
  const subtype = message.subtype;
  if (subtype !== undefined && subtype !== 'thread_broadcast' && subtype !== 'file_share') return false;
  if (message.bot_id || 'edited' in message) return false;
  return message.user !== undefined && message.user !== botUserId;
}

/** A DM's channel id starts with D. */
export function isDirectMessageChannel(channel: string | undefined): boolean {
  return channel?.startsWith('D') === true;
}

/**
 * When the question was asked: its message's ts (Slack's clock, the same in every delivery of the event), so that
 * the daily limit counts it on the day it was asked even when Slack redelivers it after midnight. `fallback` (the
 * ack's clock) only for a ts that is not one.
 */
export function askedAt(event: AskedMessage, fallback: number): number {
  const seconds = Number(event.ts);
  return Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds * 1000) : fallback;
}
