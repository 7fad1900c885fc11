import type { Logger } from '@aws-lambda-powertools/logger';

/** Runs a Slack call whose failure must not fail the delivery (a status, a title, a thank-you); logs it. */
export async function quietly(logger: Logger, what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    logger.warn(`Slack: could not ${what}`, { slackError: code ?? String(error) });
  }
}
