import type { Logger } from '@aws-lambda-powertools/logger';
import type { WebClient } from '@slack/web-api';
import type { Turn } from '../types';

/**
 * Sets the thread's status ("<bot> is writing the answer…", `assistant.threads.setStatus`). A status is a courtesy:
 * a failure is only logged (when a logger is given), never a step error.
 */
export async function setThreadStatus(
  deps: { slack: WebClient; logger?: Pick<Logger, 'warn'> },
  turn: Pick<Turn, 'channel' | 'threadTs'>,
  status: string,
): Promise<void> {
  try {
    await deps.slack.assistant.threads.setStatus({
      channel_id: turn.channel,
      thread_ts: turn.threadTs,
      status,
    });
  } catch (error) {
    deps.logger?.warn('Slack: could not set the thread status', {
      slackError: (error as { data?: { error?: string } }).data?.error ?? String(error),
    });
  }
}

/** Clears the thread's status once the answer, the apology or the forget confirmation is in the thread. */
export function clearThreadStatus(
  deps: { slack: WebClient; logger?: Pick<Logger, 'warn'> },
  turn: Pick<Turn, 'channel' | 'threadTs'>,
): Promise<void> {
  return setThreadStatus(deps, turn, '');
}
