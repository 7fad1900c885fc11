import type { Logger } from '@aws-lambda-powertools/logger';
import type { WebClient } from '@slack/web-api';
import { mayReadTurn, type Reach, UNLIMITED } from '../access/reach';
import { isDecline } from '../chains/answer-sources';
import type { ResolvedProfile } from '../channel-profiles';
import { textsFor } from '../i18n';
import { METRIC } from '../metric-names';
import type { BotMetrics, FailureMetrics } from '../metrics';
import { removeStreams } from '../slack/remove-streams';
import { removeStrayPlaceholder } from '../slack/stray-placeholder';
import { clearThreadStatus } from '../slack/thread-status';
import type { EventStore } from '../stores/event-store';
import { type HistoryBudget, type HistoryStore, turnsToMessages } from '../stores/history-store';
import type {
  AnswerResult,
  FailureReport,
  HistoryResult,
  PersistResult,
  StandaloneQuestion,
  TokenUsage,
  Turn,
} from '../types';

/**
 * Load history: the thread's earlier turns within the budget, as the messages the chains read. With a reach (the
 * deployment limits who reads what), only the turns this asker may read: a turn whose answer drew on a collection
 * closed to them is left out, so neither Condense nor the answer carries it to them. The result always has a reach
 * (unlimited without one), the kept turns' `collections` (null when one was stored without them, or when
 * nothing is tracked) and the place's `profile` (`{}` without one), since the state machine's next states name them.
 */
export async function loadHistory(
  store: HistoryStore,
  turn: Turn,
  budget: HistoryBudget,
  now: number,
  reach?: Reach,
  profile: ResolvedProfile = {},
): Promise<HistoryResult> {
  const turns = await store.loadTurns(
    turn,
    budget,
    now,
    reach === undefined ? undefined : (record) => mayReadTurn(reach, record.collections),
  );
  const unknown =
    reach === undefined || turns.some((t) => t.collections === undefined || t.collections === null);
  return {
    turnCount: turns.length,
    messages: turnsToMessages(turns),
    reach: reach ?? UNLIMITED,
    collections: unknown ? null : [...new Set(turns.flatMap((t) => t.collections ?? []))].sort(),
    profile,
  };
}

function addUsage(...usages: (TokenUsage | undefined)[]): TokenUsage {
  return usages.reduce<TokenUsage>(
    (sum, u) => ({
      inputTokens: sum.inputTokens + (u?.inputTokens ?? 0),
      outputTokens: sum.outputTokens + (u?.outputTokens ?? 0),
    }),
    { inputTokens: 0, outputTokens: 0 },
  );
}

/**
 * Persist turn: appends the question and its answer to the thread, once. A duplicate execution, or an
 * answer another execution already gave, writes nothing. Each turn written counts once as `Answered` or `Declined`
 * (the reply says the documents do not cover the question, or none are indexed yet).
 */
export async function persistTurn(
  store: HistoryStore,
  turn: Turn,
  answer: AnswerResult,
  standalone: StandaloneQuestion,
  now: number,
  metrics?: Pick<BotMetrics, 'count'>,
  /** The collections the answer's history and passages were of (see {@link drawnOnCollections}). */
  drawnOn?: string[] | null,
  /** What the asker could read (recorded with `drawnOn`, where the deployment limits who reads what). */
  reach?: Reach,
): Promise<PersistResult> {
  if (answer.kind === 'already-answered') return { written: false };
  const written = await store.appendTurn(
    turn,
    {
      eventId: turn.eventId,
      messageTs: turn.messageTs,
      user: turn.user,
      question: turn.question,
      standaloneQuestion: standalone.question,
      answer: answer.text,
      sources: answer.sources,
      model: answer.model,
      usage: addUsage(standalone.usage, answer.usage),
      answerTs: answer.messageTs,
      createdAt: new Date(now).toISOString(),
      ...(drawnOn === undefined ? {} : { collections: drawnOn }),
      ...(drawnOn === undefined || reach === undefined ? {} : { reach }),
      ...(turn.lang !== undefined ? { lang: turn.lang } : {}),
    },
    now,
  );
  if (written && answer.guardrailIntervened) {
    metrics?.count(METRIC.GuardrailBlocked);
  } else if (written) {
    const declined = answer.kind !== 'answer' || isDecline(answer.text);
    metrics?.count(declined ? METRIC.Declined : METRIC.Answered);
  }
  return { written };
}

/**
 * What a turn records as drawn on, where the deployment limits who reads what: the collections of the history it
 * was given and of its passages, or null when either is unknown (history stored before collections were
 * recorded). Undefined (nothing recorded) where it does not.
 */
export function drawnOnCollections(
  limited: boolean,
  historyCollections: string[] | null | undefined,
  passageCollections: string[] | null | undefined,
): string[] | null | undefined {
  if (!limited) return undefined;
  if (historyCollections == null || passageCollections == null) return null;
  return [...new Set([...historyCollections, ...passageCollections])].sort();
}

export function apologyText(executionName: string, lang?: string): string {
  return textsFor(lang).apology(executionName);
}

/** What Report failure needs besides Slack: the answer claim, and the count operators are alarmed on. */
export interface ReportFailureDependencies {
  slack: WebClient;
  eventStore: EventStore;
  metrics: FailureMetrics;
  logger: Logger;
  now(): number;
}

/**
 * Report failure: replaces the placeholder (or a half-streamed answer) with a short apology naming the
 * execution, so nobody is left with "Typing..." and an admin can find the execution in the console. When the
 * placeholder is gone, the apology is posted in the thread instead. It writes only when this run holds the
 * answer claim (taking it if nobody answers yet) and its answer is not finished: a failing duplicate run never
 * overwrites another run's answer, and a failure after the answer was shown (Persist turn) leaves the answer.
 */
export async function reportFailure(
  deps: ReportFailureDependencies,
  report: FailureReport & { runId: string },
): Promise<{ ts: string; apologised: boolean }> {
  const { turn, executionName } = report;
  const { slack, logger } = deps;
  logger.error('answer failed', {
    eventId: turn.eventId,
    executionName,
    error: report.error?.Error,
    cause: report.error?.Cause,
  });
  const claim = await deps.eventStore.claimAnswer(turn.eventId, report.runId, turn.placeholderTs, deps.now());
  if (!claim.granted) {
    logger.info('another run answers this event; no apology', { eventId: turn.eventId });
    if (claim.placeholderTs !== undefined && claim.placeholderTs !== turn.placeholderTs) {
      await slack.chat.delete({ channel: turn.channel, ts: turn.placeholderTs }).catch((error: unknown) => {
        logger.warn('could not delete the placeholder of a duplicate run', { error: String(error) });
      });
    }
    return { ts: claim.placeholderTs ?? '', apologised: false };
  }
  if (claim.complete) {
    logger.warn('the answer was shown before the failure; it stays', { eventId: turn.eventId });
    return { ts: turn.placeholderTs, apologised: false };
  }
  // A half-streamed answer of an attempt that crashed (its own cleanup never ran) goes before the apology.
  await removeStreams(deps, turn, claim.streamTs);
  await removeStrayPlaceholder(deps, turn);
  const text = apologyText(executionName, turn.lang);
  const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: `:warning: ${text}` } }];
  let ts = turn.placeholderTs;
  try {
    await slack.chat.update({ channel: turn.channel, ts: turn.placeholderTs, text, blocks });
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    if (code !== 'message_not_found' && code !== 'cant_update_message') throw error;
    const posted = await slack.chat.postMessage({
      channel: turn.channel,
      thread_ts: turn.threadTs,
      text,
      blocks,
    });
    ts = posted.ts ?? '';
  }
  deps.metrics.count('Apologies');
  // The thread's "<bot> is writing…" status goes with the apology.
  await clearThreadStatus(deps, turn);
  return { ts, apologised: true };
}

export function forgottenText(deleted: number, lang?: string): string {
  return textsFor(lang).forgotten(deleted);
}

/**
 * Forget thread: deletes every stored turn of the thread, at the person's request, and says so in place of
 * the placeholder. Nothing of this request is stored.
 */
export async function forgetThread(
  deps: { historyStore: HistoryStore; slack: WebClient; logger: Logger },
  turn: Turn,
): Promise<{ deleted: number }> {
  const { slack } = deps;
  await removeStrayPlaceholder(deps, turn);
  const deleted = await deps.historyStore.deleteThread(turn);
  await slack.chat.update({
    channel: turn.channel,
    ts: turn.placeholderTs,
    text: forgottenText(deleted, turn.lang),
    blocks: [],
  });
  await clearThreadStatus({ slack }, turn);
  return { deleted };
}
