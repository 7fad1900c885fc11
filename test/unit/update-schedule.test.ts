import { UpdateSchedule } from '../../functions/core/slack/update-schedule';

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('UpdateSchedule', () => {
  it('shows the first text at once', () => {
    // Arrange
    const clock = fakeClock();
    const schedule = new UpdateSchedule({ now: clock.now });

    // Act
    const flush = schedule.shouldFlush(5);

    // Assert
    expect(flush).toBe(true);
  });

  it('has nothing to show before there is text', () => {
    // Arrange
    const schedule = new UpdateSchedule({ now: fakeClock().now });

    // Act
    const flush = schedule.shouldFlush(0);

    // Assert
    expect(flush).toBe(false);
  });

  it('waits the interval after an edit settles, and only edits when there is new text', () => {
    // Arrange
    const clock = fakeClock();
    const schedule = new UpdateSchedule({ now: clock.now, minIntervalMs: 1000 });
    schedule.markFlushed(10);

    // Act
    clock.advance(999);
    const early = schedule.shouldFlush(20);
    clock.advance(1);
    const due = schedule.shouldFlush(20);
    const unchanged = schedule.shouldFlush(10);

    // Assert
    expect(early).toBe(false);
    expect(due).toBe(true);
    expect(unchanged).toBe(false);
    expect(schedule.msUntilNextFlush()).toBe(0);
  });

  it('never allows two edits within a second over a long answer, and slows down as the answer grows', () => {
    // Arrange: a token every 50 ms for four minutes, each flushed edit taking 200 ms to settle.
    const clock = fakeClock();
    const schedule = new UpdateSchedule({ now: clock.now, minIntervalMs: 1000, maxIntervalMs: 5000 });
    const starts: number[] = [];
    let length = 0;
    let settlesAt: number | undefined;

    // Act
    for (let t = 0; t < 240_000; t += 50) {
      clock.advance(50);
      length += 4;
      if (settlesAt !== undefined && clock.now() >= settlesAt) {
        schedule.markFlushed(length);
        settlesAt = undefined;
      }
      if (settlesAt === undefined && schedule.shouldFlush(length)) {
        starts.push(clock.now());
        settlesAt = clock.now() + 200;
      }
    }

    // Assert
    const gaps = starts.slice(1).map((start, i) => start - (starts[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(gaps.at(-1)).toBeGreaterThanOrEqual(5000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5000 + 200 + 50);
    expect(starts.length).toBeLessThan(80);
  });

  it('doubles the interval like the original bot: after 10, 20 and 40 edits', () => {
    // Arrange
    const clock = fakeClock();
    const schedule = new UpdateSchedule({ now: clock.now, minIntervalMs: 1000, maxIntervalMs: 8000 });
    const intervals: number[] = [];

    // Act
    for (let edit = 1; edit <= 45; edit++) {
      schedule.markFlushed(edit);
      intervals.push(schedule.intervalMs);
    }

    // Assert
    expect(intervals[9]).toBe(1000);
    expect(intervals[10]).toBe(2000);
    expect(intervals[20]).toBe(4000);
    expect(intervals[40]).toBe(8000);
  });

  it('lets the final edit wait only the minimum interval, not the grown one', () => {
    // Arrange
    const clock = fakeClock();
    const schedule = new UpdateSchedule({ now: clock.now, minIntervalMs: 1000 });
    for (let edit = 1; edit <= 30; edit++) schedule.markFlushed(edit);
    clock.advance(300);

    // Act
    const wait = schedule.msUntilFinal();

    // Assert
    expect(schedule.intervalMs).toBeGreaterThan(1000);
    expect(wait).toBe(700);
  });
});
