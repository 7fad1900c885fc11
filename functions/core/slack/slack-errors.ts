/**
 * Slack errors that say the bot cannot act in this channel with this token: the token is bad or revoked, lacks a
 * scope, or the channel is gone, archived or closed to the bot. Nothing a retry does changes them, whether the
 * retry is Slack's redelivery to the ack or the state machine's retry of a step.
 */
export const CHANNEL_OR_TOKEN_ERRORS: readonly string[] = [
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
];
