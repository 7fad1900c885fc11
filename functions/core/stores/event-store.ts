import type { TokenUsage } from '../types';

/**
 * Remembers Slack events so that each mention has exactly one visible outcome, although Slack retries deliveries
 * (`X-Slack-Retry-Num`) and asynchronous Express executions run at least once.
 */
export type EventClaim =
  /**
   * This delivery owns the event. `placeholderTs` is set when an earlier delivery already posted one;
   * `takenOver` when an earlier delivery held the claim and gave it up or was killed (it may have posted a
   * placeholder it never got to record).
   */
  | { status: 'claimed'; placeholderTs?: string; takenOver?: boolean }
  /** An execution was accepted for the event (or the ack answered it itself): nothing left to do. */
  | { status: 'started' }
  /** Another delivery holds a live claim and has not started an execution yet: its outcome is still open. */
  | { status: 'held' };

/** The answer claim as a run of the state machine finds it. */
/**
 * An answer the model finished for a run, kept until Slack shows it: when Slack refuses the final edit for longer
 * than an attempt of Generate lasts (a workspace out of chat.update calls), the step's retry delivers this answer
 * instead of asking the model again, which would spend the tokens and the edits twice.
 */
export interface WrittenAnswer {
  text: string;
  usage: TokenUsage;
}

export type AnswerClaim =
  /**
   * This run answers the event; `complete` once its answer was finished in Slack. `continuationTs`: the
   * continuation messages an earlier attempt of this run posted, for a retried step to update, not post again.
   */
  | {
      granted: true;
      complete: boolean;
      continuationTs: string[];
      streamTs: string[];
      written?: WrittenAnswer;
    }
  /** Another run answers it, into `placeholderTs`. */
  | { granted: false; placeholderTs?: string };

export interface EventStore {
  /**
   * Claims an event for this delivery. A claim given up (`releaseClaim`), or one that never reached `markStarted`
   * within `staleAfterMs` (the ack was killed), is taken over by the next delivery, with the placeholder it recorded.
   */
  claimEvent(eventId: string, now: number, staleAfterMs: number): Promise<EventClaim>;
  /** Records the placeholder before the execution starts, so a delivery taking the claim over reuses it. */
  recordPlaceholder(eventId: string, placeholderTs: string): Promise<void>;
  /** Records that the execution started: later deliveries are duplicates until the record expires. */
  markStarted(eventId: string, executionName: string, placeholderTs: string | undefined): Promise<void>;
  /**
   * Gives the claim up at once after a failure, keeping the placeholder for the retry to reuse. When another
   * delivery has started the execution meanwhile (it took the claim over), nothing is given up, and the result
   * names the placeholder that execution answers in.
   */
  releaseClaim(
    eventId: string,
    placeholderTs: string | undefined,
  ): Promise<{ released: true } | { released: false; startedPlaceholderTs?: string }>;
  /**
   * Claims the right to answer the event for one run of the state machine (`runId`, drawn by the run's first
   * state, so a re-run under the same execution name is another run): granted to the first run that asks, and
   * again to that run's own retries; refused to every other run, with the placeholder the answering run uses.
   */
  claimAnswer(eventId: string, runId: string, placeholderTs: string, now: number): Promise<AnswerClaim>;
  /** Records a continuation message the answering run posted, before anything else can fail. */
  recordContinuation(eventId: string, runId: string, ts: string): Promise<void>;
  /**
   * Records a natively streamed message the answering run started (`chat.startStream`), so that a retry of the
   * step after a crash, or the apology, removes it rather than leave a second, half-written answer.
   */
  recordStream(eventId: string, runId: string, ts: string): Promise<void>;
  /** Keeps the answer the run's model finished, before it is shown in Slack (see {@link WrittenAnswer}). */
  recordWrittenAnswer(eventId: string, runId: string, written: WrittenAnswer): Promise<void>;
  /** Marks the answering run's answer finished in Slack: no apology may replace it afterwards. */
  completeAnswer(eventId: string, runId: string): Promise<void>;
  /**
   * Why native streaming failed in this workspace recently (`chat.startStream` refused), or undefined: answers
   * there edit the placeholder instead until the memory expires (a week), when native streaming is tried again.
   */
  workspaceStreamFallback(teamId: string, now: number): Promise<string | undefined>;
  recordWorkspaceStreamFallback(teamId: string, reason: string, now: number): Promise<void>;
  /**
   * Counts a question of `user` against their daily limit (the UTC day of `askedAt`, the question's own time, so
   * a redelivery after midnight counts on the day it was asked) and says whether it may be answered. The same
   * event counted twice (a retried delivery) counts once. On an org-wide install the count is the organisation's
   * (`enterpriseId`): a person asking from two of its workspaces has one allowance.
   */
  countQuestion(
    person: { teamId: string; enterpriseId?: string; user: string },
    eventId: string,
    limit: number,
    askedAt: number,
  ): Promise<boolean>;
}
