import { describeFailure } from './ask-client';
import type { LocalRequestLog } from './stack';

/** What `npm run dev` prints for each Slack request and each answer (scripts/dev.ts, HTTP and --socket alike). */

/** `12:00:01` in local time. */
function clock(at = new Date()): string {
  return at.toTimeString().slice(0, 8);
}

function where(log: LocalRequestLog): string {
  const d = log.delivery;
  if (d === undefined) return 'an unreadable body';
  const parts = [d.type];
  if (d.user !== undefined) parts.push(`from ${d.user}`);
  if (d.channel !== undefined) parts.push(`in ${d.channel}`);
  if (d.threadTs !== undefined) parts.push(`thread ${d.threadTs}`);
  if (d.retryNum !== undefined) parts.push(`retry ${d.retryNum}`);
  return parts.join(' ');
}

/** One line per request, and one more when the execution it started ends. */
export function logRequest(
  log: LocalRequestLog,
  caughtError: (executionName: string) => { error: string; cause: string } | undefined,
): void {
  const outcome =
    log.error !== undefined
      ? `failed: ${log.error.message}`
      : log.execution !== undefined
        ? `started ${log.execution.name}`
        : log.status === 401
          ? 'refused: the signature or timestamp is not valid'
          : log.status >= 400
            ? 'refused'
            : 'no execution';
  console.log(
    `${clock()}  ${log.method} ${log.path}  ${where(log)}  → ${log.status} in ${log.ms} ms, ${outcome}`,
  );
  const execution = log.execution;
  if (execution === undefined) return;
  void execution.done.then(() => {
    const seconds = (((execution.stopDate ?? Date.now()) - execution.startDate) / 1000).toFixed(1);
    const state = execution.trace.find((t) => t.outcome !== 'succeeded');
    const failed =
      execution.status === 'SUCCEEDED'
        ? ''
        : `: ${state !== undefined ? `"${state.state}" ${state.outcome}, ` : ''}${describeFailure(
            caughtError(execution.name) ?? {
              error: execution.error ?? execution.status,
              cause: execution.cause ?? '',
            },
          )}`;
    console.log(
      `${clock()}  answer to ${where(log)}  ${execution.status} in ${seconds} s (${execution.name})${failed}`,
    );
  });
}
