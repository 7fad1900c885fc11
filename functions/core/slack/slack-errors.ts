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

/**
 * The seconds Slack asked to wait: a 429 refused at once by a client with `rejectRateLimitedCalls` (its
 * Retry-After), or Slack's `ratelimited` error (1 s); undefined for any other error.
 */
export function rateLimitedFor(error: unknown): number | undefined {
  const e = error as { code?: string; retryAfter?: number; data?: { error?: string } } | null;
  if (e?.code === 'slack_webapi_rate_limited_error') return Math.max(1, Number(e.retryAfter) || 1);
  if (e?.data?.error === 'ratelimited') return 1;
  return undefined;
}
