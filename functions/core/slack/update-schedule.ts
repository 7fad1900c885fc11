/**
 * When a streaming answer may edit its Slack message again. Slack allows roughly one edit per second per message
 * (more gets `ratelimited`), and a reader gains little from faster edits of a long answer, so:
 * - the first text is shown at once;
 * - then at most one edit per interval, the interval counted from when the previous edit *settled*, so a slow or
 *   retried request can never land within an interval of the next one;
 * - the interval doubles as the edits pile up, like the original bot: after 10 edits at the minimum interval, then
 *   after 20, 40, …, (10 × interval ÷ minimum), up to a cap.
 * Pure and clock-injected, so it is tested with a fake clock.
 */

/** Options of {@link UpdateSchedule}. */
export interface UpdateScheduleOptions {
  /** The clock, in milliseconds. */
  now: () => number;
  /**
   * The shortest time between two edits of one message, in milliseconds.
   * @default 1000
   */
  minIntervalMs?: number;
  /**
   * The longest the interval grows to, in milliseconds; never less than `minIntervalMs`.
   * @default 5000
   */
  maxIntervalMs?: number;
}

/** The throttling policy of one message's streaming edits. */
export class UpdateSchedule {
  readonly minIntervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly now: () => number;
  private interval: number;
  private flushes = 0;
  private lastSettledAt: number | undefined;
  private flushedLength = 0;

  constructor(options: UpdateScheduleOptions) {
    this.now = options.now;
    this.minIntervalMs = Math.max(0, options.minIntervalMs ?? 1000);
    this.maxIntervalMs = Math.max(this.minIntervalMs, options.maxIntervalMs ?? 5000);
    this.interval = this.minIntervalMs;
  }

  /** The current interval between edits, in milliseconds. */
  get intervalMs(): number {
    return this.interval;
  }

  /** True when text of `textLength` characters should be shown now: there is new text and the interval has passed. */
  shouldFlush(textLength: number): boolean {
    if (textLength <= 0 || textLength === this.flushedLength) return false;
    return this.lastSettledAt === undefined || this.now() - this.lastSettledAt >= this.interval;
  }

  /** Records that an edit showing `textLength` characters has settled (succeeded or failed) just now. */
  markFlushed(textLength: number): void {
    this.lastSettledAt = this.now();
    this.flushedLength = textLength;
    this.flushes++;
    const intervalInMinimums = this.minIntervalMs === 0 ? 1 : this.interval / this.minIntervalMs;
    if (this.flushes / 10 > intervalInMinimums)
      this.interval = Math.min(this.interval * 2, this.maxIntervalMs);
  }

  /** How long until the interval since the previous edit has passed, in milliseconds; 0 when it has. */
  msUntilNextFlush(): number {
    if (this.lastSettledAt === undefined) return 0;
    return Math.max(0, this.lastSettledAt + this.interval - this.now());
  }

  /**
   * How long the final edit must wait to keep the minimum interval after the previous edit (the grown interval
   * only paces the intermediate edits; the final one should not be held back by it). 0 when it may go now.
   */
  msUntilFinal(): number {
    if (this.lastSettledAt === undefined) return 0;
    return Math.max(0, this.lastSettledAt + this.minIntervalMs - this.now());
  }
}
