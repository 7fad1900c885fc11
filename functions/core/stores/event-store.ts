/**
 * Remembers Slack events so that each mention is answered once, although Slack retries deliveries
 * (`X-Slack-Retry-Num`) and asynchronous Express executions run at least once.
 */
export type EventClaim =
  /** This delivery owns the event. `placeholderTs` is set when an earlier, failed delivery already posted one. */
  | { status: 'claimed'; placeholderTs?: string }
  /** Another delivery owns the event or has already started its execution: do nothing. */
  | { status: 'duplicate' };

export interface EventStore {
  /**
   * Claims an event for this delivery. A claim that never reached `markStarted` (the ack crashed or could not
   * start the execution) goes stale after `staleAfterMs`, so Slack's next retry takes it over.
   */
  claimEvent(eventId: string, now: number, staleAfterMs: number): Promise<EventClaim>;
  /** Records that the execution started: later deliveries are duplicates until the record expires. */
  markStarted(eventId: string, executionName: string, placeholderTs: string | undefined): Promise<void>;
  /** Gives the claim up at once after a failure, keeping the placeholder for the retry to reuse. */
  releaseClaim(eventId: string, placeholderTs: string | undefined): Promise<void>;
  /**
   * Claims the right to answer: true for the first execution that asks (and for its own retries),
   * false for any other execution of the same event.
   */
  claimAnswer(eventId: string, executionName: string, now: number): Promise<boolean>;
}
