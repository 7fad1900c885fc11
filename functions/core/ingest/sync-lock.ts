import { PermanentError } from '../errors';

/**
 * The one-writer rule of the vector store. LanceDB commits through conditional writes, but two writers racing
 * on the same table (two syncs) could still interleave a sync's deletes with another's adds; so a sync takes
 * this lock in Plan, Commit and Optimize confirm they still hold it before writing, and Report releases it. A
 * lock whose owner died without releasing it expires after its TTL.
 */
export type LockClaim =
  | { acquired: true }
  | {
      acquired: false;
      /** The execution holding the lock. */
      owner: string;
      /** When it took the lock, epoch milliseconds. */
      acquiredAt: number;
      /** When the lock expires if never released, epoch milliseconds. */
      expiresAt: number;
    };

export interface SyncLock {
  /** Takes the lock for `owner` (again, if it already holds it), unless another owner holds an unexpired one. */
  acquire(owner: string, now: number, ttlSeconds: number): Promise<LockClaim>;
  /**
   * Confirms that `owner` still holds an unexpired lock, right before a write.
   *
   * @throws {LockLostError} otherwise: the write must not happen.
   */
  confirm(owner: string, now: number): Promise<void>;
  /**
   * Confirms that `owner` still holds an unexpired lock and extends it to `now + ttlSeconds`: a step that writes
   * for long (Commit, Optimize) keeps the lock for as long as it runs.
   *
   * @throws {LockLostError} when the lock expired or another owner holds it: nothing must be written.
   */
  renew(owner: string, now: number, ttlSeconds: number): Promise<void>;
  /** Releases the lock if `owner` holds it; returns whether it did. Never releases another owner's lock. */
  release(owner: string): Promise<boolean>;
}

/** The sync no longer holds the lock (it expired, and maybe another sync took it): it must not write. */
export class LockLostError extends PermanentError {
  override name = 'LockLostError';

  constructor(owner: string, holder?: string) {
    super(
      `the sync ${owner} no longer holds the sync lock${holder ? ` (${holder} does)` : ''}, so it wrote ` +
        'nothing; raise INGEST_LOCK_TTL_SECONDS if syncs take longer than the lock lasts',
    );
  }
}

/** A lock in memory: for tests and in-process runs. */
export class MemorySyncLock implements SyncLock {
  private held: { owner: string; acquiredAt: number; expiresAt: number } | undefined;

  async acquire(owner: string, now: number, ttlSeconds: number): Promise<LockClaim> {
    if (this.held && this.held.owner !== owner && this.held.expiresAt >= now) {
      return { acquired: false, ...this.held };
    }
    this.held = { owner, acquiredAt: now, expiresAt: now + ttlSeconds * 1000 };
    return { acquired: true };
  }

  async confirm(owner: string, now: number): Promise<void> {
    if (this.held?.owner !== owner || this.held.expiresAt < now) {
      throw new LockLostError(owner, this.held?.owner !== owner ? this.held?.owner : undefined);
    }
  }

  async renew(owner: string, now: number, ttlSeconds: number): Promise<void> {
    await this.confirm(owner, now);
    if (this.held !== undefined) this.held.expiresAt = now + ttlSeconds * 1000;
  }

  async release(owner: string): Promise<boolean> {
    if (this.held?.owner !== owner) return false;
    this.held = undefined;
    return true;
  }
}

/** A lock held for the time a step writes, renewed in the background. */
export interface LockLease {
  /**
   * Throws the `LockLostError` a renewal met, if any: call it right before each write.
   *
   * @throws {LockLostError} when the lock was lost since the step began.
   */
  check(): void;
  /** Stops renewing and waits for a renewal in flight. */
  stop(): Promise<void>;
}

/** Options of {@link holdLock}. */
export interface HoldLockOptions {
  /** The step's start, epoch milliseconds (the time the step's input carries). */
  now: number;
  /** How long each renewal extends the lock. */
  ttlSeconds: number;
  /** Time between renewals. @default a third of the TTL */
  renewEveryMs?: number;
  /** The current time; @default `now` plus the real time elapsed since the call */
  clock?: () => number;
}

/**
 * Renews `owner`'s lock at once (so a step that starts late in the lock's life gets a whole TTL) and then every
 * `renewEveryMs` while the step runs: however long a Commit or an Optimize takes, a second sync cannot take the
 * lock from under it. A renewal failing for a passing reason (a throttled request) is tried again at the next
 * tick; a lost lock is kept for `check()` to throw before the next write.
 *
 * @throws {LockLostError} when `owner` no longer holds the lock at the start: the step must write nothing.
 */
export async function holdLock(lock: SyncLock, owner: string, options: HoldLockOptions): Promise<LockLease> {
  const startedAt = Date.now();
  const clock = options.clock ?? (() => options.now + (Date.now() - startedAt));
  await lock.renew(owner, options.now, options.ttlSeconds);
  const every = options.renewEveryMs ?? Math.max(1_000, (options.ttlSeconds * 1000) / 3);
  let lost: LockLostError | undefined;
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight !== undefined || lost !== undefined) return;
    inFlight = lock
      .renew(owner, clock(), options.ttlSeconds)
      .catch((error: unknown) => {
        if (error instanceof LockLostError) lost = error;
      })
      .finally(() => {
        inFlight = undefined;
      });
  }, every);
  timer.unref();
  return {
    check() {
      if (lost !== undefined) throw lost;
    },
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
