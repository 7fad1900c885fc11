import { BatchBudget } from '../../functions/core/ingest/batch-budget';
import { describeBatchFailure, isOutage } from '../../functions/core/ingest/sync-types';

/** A Catch's error as Step Functions records a Lambda error: its Cause is the Lambda error's JSON. */
function lambdaError(errorType: string, errorMessage: string) {
  return { Error: errorType, Cause: JSON.stringify({ errorType, errorMessage }) };
}

describe('the reason a batch, or a document run alone, was not embedded', () => {
  it.each([
    [
      'the state timing out',
      { Error: 'States.Timeout', Cause: 'States.Timeout' },
      /^timed out \(States\.Timeout\)/,
    ],
    [
      'Lambda timing out',
      lambdaError('Sandbox.Timedout', 'RequestId: 1f0e Error: Task timed out after 590.00 seconds'),
      /^timed out \(Task timed out after 590\.00 seconds\)/,
    ],
    [
      'Lambda timing out, as older runtimes report it',
      {
        Error: 'States.TaskFailed',
        Cause: '{"errorMessage":"2026-01-01T00:00:00Z 1f0e Task timed out after 3.00 seconds"}',
      },
      /^timed out \(Task timed out after 3\.00 seconds\)/,
    ],
    [
      'Lambda running out of memory',
      lambdaError('Runtime.OutOfMemory', 'RequestId: 1f0e Error: Runtime exited with error: signal: killed'),
      /^ran out of memory \(Runtime\.OutOfMemory\)/,
    ],
    [
      'a crashed function, as Step Functions reports one that returned no error type',
      {
        Error: 'Lambda.Unknown',
        Cause:
          'The cause could not be determined because Lambda did not return an error type. Returned payload: ' +
          '{"errorMessage":"RequestId: 1f0e Error: Runtime exited with error: signal: killed"}',
      },
      /^ran out of memory \(.*signal: killed/,
    ],
    [
      'the error itself',
      lambdaError('PermanentError', 'Load, split and embed: the embedder returned 3 vectors for 4 chunks'),
      /^Load, split and embed: the embedder returned 3 vectors for 4 chunks$/,
    ],
  ])('names %s', (_what, error, reason) => {
    expect(describeBatchFailure(error)).toMatch(reason);
  });

  it('tells an outage, where running each document alone cannot help, from a failure a document may cause', () => {
    expect(isOutage(lambdaError('TransientError', 'the embedder is unreachable'))).toBe(true);
    expect(isOutage(lambdaError('EmbedderRefusedError', 'HTTP 401'))).toBe(true);
    expect(isOutage({ Error: 'Lambda.TooManyRequestsException', Cause: 'Rate exceeded' })).toBe(true);
    expect(isOutage({ Error: 'States.Timeout' })).toBe(false);
    expect(isOutage({ Error: 'Lambda.Unknown', Cause: 'Runtime exited with error: signal: killed' })).toBe(
      false,
    );
    expect(isOutage(lambdaError('Runtime.OutOfMemory', 'signal: killed'))).toBe(false);
    expect(isOutage(lambdaError('PermanentError', 'the embedder refused one input'))).toBe(false);
  });
});

describe('a batch budget', () => {
  function clock(totalMs: number) {
    let elapsed = 0;
    const budget = new BatchBudget({ remainingMs: () => totalMs - elapsed, memoryUsedBytes: () => 0 });
    return { budget, advance: (ms: number) => (elapsed += ms) };
  }

  it('loads documents for half the time, then sends a request only if the time left holds it and the reserve', () => {
    const { budget, advance } = clock(600_000);
    advance(299_000);
    expect(budget.stopLoading()).toBeUndefined();
    advance(1_000);
    expect(budget.stopLoading()).toBe('time');
    expect(budget.mayEmbedMore()).toBe(true);
    advance(150_000);
    // 150 s left: the reserve is 30 s, and the last request took 150 s.
    expect(budget.mayEmbedMore()).toBe(false);
  });

  it('never stops an invocation without a deadline', () => {
    const budget = new BatchBudget({
      remainingMs: () => Number.POSITIVE_INFINITY,
      memoryUsedBytes: () => 0,
    });
    expect(budget.stopLoading()).toBeUndefined();
    expect(budget.mayEmbedMore()).toBe(true);
    expect(budget.mayEmbedMore()).toBe(true);
    expect(budget.expired()).toBe(false);
  });
});
