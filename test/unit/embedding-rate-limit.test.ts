import {
  EmbeddingRateLimiter,
  embeddingThroughputOf,
  isQuotaExhausted,
  isRateLimited,
  parseResetDuration,
  rateLimitStateOf,
  retryAfterInMessage,
} from '../../functions/core/ingest/embedding-rate-limit';

describe("OpenAI's rate-limit headers", () => {
  it('reads the reset durations as OpenAI writes them', () => {
    expect(parseResetDuration('6m0s')).toBe(360_000);
    expect(parseResetDuration('1s')).toBe(1_000);
    expect(parseResetDuration('20ms')).toBe(20);
    expect(parseResetDuration('1.2s')).toBe(1_200);
    expect(parseResetDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseResetDuration('2')).toBe(2_000);
    expect(parseResetDuration('soon')).toBeUndefined();
    expect(parseResetDuration('5s later')).toBeUndefined();
  });

  it('reads both budgets and the wait of a 429 from a response', () => {
    const headers = new Headers({
      'x-ratelimit-limit-requests': '3000',
      'x-ratelimit-remaining-requests': '2999',
      'x-ratelimit-reset-requests': '20ms',
      'x-ratelimit-limit-tokens': '1000000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '6m0s',
      'retry-after-ms': '1500',
      'retry-after': '2',
    });

    expect(rateLimitStateOf(headers)).toEqual({
      requests: { limit: 3000, remaining: 2999, resetMs: 20 },
      tokens: { limit: 1_000_000, remaining: 0, resetMs: 360_000 },
      retryAfterMs: 1500,
    });
    expect(rateLimitStateOf(new Headers({ 'retry-after': '3' }))).toEqual({ retryAfterMs: 3_000 });
  });

  it("reads the wait from a 429's message when no header says it", () => {
    const message =
      'Rate limit reached for text-embedding-3-small in organization org-x on tokens per min (TPM): Limit 1000000, ' +
      'Used 999000, Requested 5000. Please try again in 240ms. Visit https://platform.openai.com/account/rate-limits';

    expect(retryAfterInMessage(message)).toBe(240);
    expect(retryAfterInMessage('Please try again in 1m30s.')).toBe(90_000);
    expect(retryAfterInMessage('Something else went wrong.')).toBeUndefined();
  });
});

describe('which 429 is a rate limit', () => {
  it('waits out a rate limit, but not an exhausted quota, which OpenAI also answers with 429', () => {
    const rateLimit = { status: 429, error: { code: 'rate_limit_exceeded' } };
    const quota = { status: 429, code: 'insufficient_quota', error: { code: 'insufficient_quota' } };

    expect(isRateLimited(rateLimit)).toBe(true);
    expect(isRateLimited(quota)).toBe(false);
    expect(isQuotaExhausted(quota)).toBe(true);
    expect(isRateLimited({ status: 500 })).toBe(false);
  });

  it("waits out Bedrock's ThrottlingException, whose status is in the SDK's metadata", () => {
    const throttled = { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 429 } };

    expect(isRateLimited(throttled)).toBe(true);
    expect(isRateLimited({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } })).toBe(false);
  });
});

describe('the rate limiter a batch consults', () => {
  let now: number;
  const limiter = () => new EmbeddingRateLimiter(() => now);
  beforeEach(() => {
    now = 1_000_000;
  });

  it('sends at once until a response says the budget is short, then waits for the tokens it needs', () => {
    const rateLimiter = limiter();
    expect(rateLimiter.delayBeforeMs(400)).toBe(0);

    // 900 tokens missing, full again in 54 s: 900 tokens come back in 54 s, 300 in 18 s.
    rateLimiter.observe(
      new Headers({
        'x-ratelimit-limit-tokens': '1000',
        'x-ratelimit-remaining-tokens': '100',
        'x-ratelimit-reset-tokens': '54s',
      }),
    );

    expect(rateLimiter.delayBeforeMs(400)).toBe(18_000);
    now += 18_000;
    expect(rateLimiter.delayBeforeMs(400)).toBe(0);
    expect(rateLimiter.tokensPerMinute()).toBe(1000);
  });

  it('counts what it sends before the next answer, so requests sent together do not overdraw', () => {
    const rateLimiter = limiter();
    rateLimiter.observe(
      new Headers({
        'x-ratelimit-limit-tokens': '1000',
        'x-ratelimit-remaining-tokens': '1000',
        'x-ratelimit-reset-tokens': '0s',
      }),
    );

    rateLimiter.spend(800);

    expect(rateLimiter.delayBeforeMs(100)).toBe(0);
    expect(rateLimiter.delayBeforeMs(400)).toBeGreaterThan(0);
  });

  it('waits out a 429 for its retry-after-ms, else its message, else a second', () => {
    const withHeader = limiter();
    withHeader.observeRateLimited({ status: 429, headers: new Headers({ 'retry-after-ms': '1500' }) });
    const withMessage = limiter();
    withMessage.observeRateLimited({ status: 429, message: '429 … Please try again in 2.5s. Visit …' });
    const bare = limiter();
    bare.observeRateLimited({ status: 429 });

    expect(withHeader.delayBeforeMs(1)).toBe(1500);
    expect(withMessage.delayBeforeMs(1)).toBe(2500);
    expect(bare.delayBeforeMs(1)).toBe(1000);
  });

  it('backs off 1, 2, 4 … 20 s from 429s that name no wait, once per round of requests, and resets on a success', () => {
    const throttled = {
      $metadata: { httpStatusCode: 429 },
      message: 'Too many requests, please wait before trying again.',
    };
    const rateLimiter = limiter();
    const waits: number[] = [];
    // Each round: a request sent once the wait is over, refused again.
    for (let round = 0; round < 7; round++) {
      const sentAt = now;
      now += 100;
      rateLimiter.observeRateLimited(throttled, sentAt);
      waits.push(rateLimiter.delayBeforeMs(1));
      now += rateLimiter.delayBeforeMs(1);
    }
    // Seven requests sent together before the last 429 was seen, refused as well: no further step.
    for (let i = 0; i < 7; i++) rateLimiter.observeRateLimited(throttled, now - 50);
    const together = rateLimiter.delayBeforeMs(1);
    now += together;
    rateLimiter.observeSucceeded(now);
    const sentAt = now;
    now += 100;
    rateLimiter.observeRateLimited(throttled, sentAt);

    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
    expect(together).toBe(20_000);
    expect(rateLimiter.delayBeforeMs(1)).toBe(1_000);
  });
});

describe('the throughput a sync reports', () => {
  it('divides chunks and tokens by the span from the first request to the last answer', () => {
    expect(
      embeddingThroughputOf({
        requests: 4,
        chunks: 100,
        tokens: 30_000,
        rateLimited: 2,
        waitedMs: 1234.4,
        startedAt: 10_000,
        endedAt: 14_000,
      }),
    ).toEqual({
      chunks: 100,
      tokens: 30_000,
      requests: 4,
      rateLimited: 2,
      waitedMs: 1234,
      ms: 4_000,
      chunksPerSecond: 25,
      tokensPerSecond: 7_500,
    });
  });
});
