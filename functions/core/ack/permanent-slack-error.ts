import { CHANNEL_OR_TOKEN_ERRORS } from '../slack/slack-errors';

/**
 * Slack errors the ack meets that Slack's retry of the delivery could not fix: the channel is gone, archived or
 * closed to the bot, or the token cannot act there. Answering 500 for these only makes Slack redeliver the same
 * event three times to fail the same way, and counts as the app failing deliveries; the ack logs them and
 * answers 200. An error about one message (say, a placeholder someone deleted) is not here: a retry may succeed.
 */
const PERMANENT_ACK_ERRORS = new Set([
  ...CHANNEL_OR_TOKEN_ERRORS,
  'restricted_action',
  'restricted_action_read_only_channel',
  'restricted_action_thread_only_channel',
  'restricted_action_non_threadable_channel',
  'team_access_not_granted',
  'ekm_access_denied',
  'not_allowed_token_type',
]);

/** The Slack error code of a `WebClient` platform error (`ok: false`), if it is one the ack cannot retry away. */
export function permanentSlackError(error: unknown): string | undefined {
  const { code, data } = (error ?? {}) as { code?: unknown; data?: { error?: unknown } };
  if (code !== 'slack_webapi_platform_error') return undefined;
  const slackError = data?.error;
  return typeof slackError === 'string' && PERMANENT_ACK_ERRORS.has(slackError) ? slackError : undefined;
}
