/**
 * The Slack ids the local commands take on their command line (`npm run ask`, `npm run access`): a person (U…, or
 * W… on Enterprise Grid) and a channel (C…, G… a private one, D… a DM).
 */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
export const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

/** `--user`'s check: undefined for a user id, else the one line saying what is wrong. */
export function checkUserOption(value: string): string | undefined {
  return SLACK_USER_ID.test(value)
    ? undefined
    : `--user takes a Slack user id such as U0123ABCD, not ${JSON.stringify(value)}`;
}

/** `--channel`'s check: undefined for a channel id, else the one line saying what is wrong. */
export function checkChannelOption(value: string): string | undefined {
  return SLACK_CHANNEL_ID.test(value)
    ? undefined
    : `--channel takes a Slack channel id such as C0123ABCD, not ${JSON.stringify(value)}`;
}
