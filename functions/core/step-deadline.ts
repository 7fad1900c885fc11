import { TransientError } from './errors';
import type { InvocationContext } from './step-handler';

/**
 * A step's own deadline: a little before its Lambda times out (the time it has left, less a fifth of it and at
 * most 3 s), so that a hung model call is ended by the step itself, its half-streamed answer stopped, and the
 * step fails with a `TransientError` the state machine may retry, instead of being killed mid-edit. Without a
 * context (a script, a unit test) there is no deadline.
 */
export interface StepDeadline {
  /** Aborted at the deadline. */
  signal?: AbortSignal;
  /** Ends the timer (the step finished). */
  dispose(): void;
}

const MAX_MARGIN_MS = 3_000;

export function stepDeadline(context: InvocationContext | undefined): StepDeadline {
  if (context === undefined) return { dispose: () => undefined };
  const remaining = context.getRemainingTimeInMillis();
  const ms = Math.max(0, remaining - Math.min(MAX_MARGIN_MS, remaining / 5));
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new TransientError(`the step ran out of time (${Math.round(ms)} ms)`)),
    ms,
  );
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}

/**
 * Settles with `work`, or rejects with a `TransientError` once `signal` aborts, whichever comes first (the work
 * then runs on unobserved; its failure is not left unhandled).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return work;
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TransientError(`${what} did not finish within the step's time`));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
