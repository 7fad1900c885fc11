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

  async release(owner: string): Promise<boolean> {
    if (this.held?.owner !== owner) return false;
    this.held = undefined;
    return true;
  }
}
