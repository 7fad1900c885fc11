import type { InvocationContext } from '../step-handler';

/** How much of one invocation is left: its time, and the memory the process may use. */
export interface InvocationBudget {
  /** Milliseconds before the invocation is stopped; `Infinity` when nothing stops it. */
  remainingMs(): number;
  /** The memory the process may use, in bytes; undefined when no limit is known (locally). */
  memoryLimitBytes?: number;
  /** The memory the process uses now, in bytes. */
  memoryUsedBytes(): number;
}

/**
 * The budget of a Lambda invocation from its context: the time Lambda says is left and the function's memory
 * against the process's resident set. Without a context (a direct call), nothing is limited.
 */
export function invocationBudget(
  context: InvocationContext | undefined,
  memoryUsedBytes: () => number = () => process.memoryUsage.rss(),
): InvocationBudget {
  const megabytes = Number(context?.memoryLimitInMB);
  return {
    remainingMs: () => context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY,
    ...(Number.isFinite(megabytes) && megabytes > 0 ? { memoryLimitBytes: megabytes * 1024 * 1024 } : {}),
    memoryUsedBytes,
  };
}

/** Loading and splitting may use this share of the invocation's time; embedding what was loaded gets the rest. */
const LOADING_SHARE_OF_TIME = 0.5;
/**
 * Documents are loaded until the process uses this share of its memory: what is loaded is held until it is
 * embedded and staged, its vectors add to it, and staging writes the rows as one JSON text, which roughly
 * doubles what is held at that moment.
 */
const LOADING_SHARE_OF_MEMORY = 0.5;
/** Time kept for staging the finished documents: 5 % of the invocation, between 1 and 30 seconds. */
const RESERVE_SHARE = 0.05;
const MIN_RESERVE_MS = 1_000;
const MAX_RESERVE_MS = 30_000;
/** An embedding request is sent only if the time left holds this many times the longest one so far. */
const REQUEST_MARGIN = 1.5;

/**
 * When a batch stops taking on work so that it ends, with what it finished staged, before Lambda stops it: a
 * batch that runs long (a slow origin, a slow embedder, a document that takes long to split) then loses nothing
 * it finished, and its other documents run one per invocation, each with a whole invocation to itself. Without a
 * check, the time-out would discard every finished document and send all of them to run alone.
 *
 * The rules are deliberately coarse, because the cost of what comes next is unknown: loading stops once half the
 * time (or half the memory) is used, and each embedding request is sent only if the time left holds it (judged by
 * the longest one so far) and the staging reserve. The first documents are always taken, so every invocation
 * makes progress.
 */
export class BatchBudget {
  private readonly totalMs: number;
  private readonly reserveMs: number;
  private longestRequestMs = 0;
  private lastRequestAt: number | undefined;

  constructor(private readonly invocation: InvocationBudget) {
    this.totalMs = invocation.remainingMs();
    this.reserveMs = Number.isFinite(this.totalMs)
      ? Math.min(MAX_RESERVE_MS, Math.max(MIN_RESERVE_MS, this.totalMs * RESERVE_SHARE))
      : 0;
  }

  /** Why not to load more documents now, if that is so: half the time or half the memory is used. */
  stopLoading(): 'time' | 'memory' | undefined {
    if (Number.isFinite(this.totalMs) && this.elapsedMs() >= this.totalMs * LOADING_SHARE_OF_TIME)
      return 'time';
    const limit = this.invocation.memoryLimitBytes;
    if (limit !== undefined && this.invocation.memoryUsedBytes() >= limit * LOADING_SHARE_OF_MEMORY) {
      return 'memory';
    }
    return undefined;
  }

  /**
   * Whether one more embedding request fits in the time left. Called before each request, it times the one
   * before from the call before, leaving out `waitedMs`, the time this request waited for the rate limit.
   */
  mayEmbedMore(waitedMs = 0): boolean {
    if (!Number.isFinite(this.totalMs)) return true;
    const now = this.elapsedMs();
    if (this.lastRequestAt !== undefined) {
      this.longestRequestMs = Math.max(this.longestRequestMs, now - this.lastRequestAt - waitedMs);
    }
    this.lastRequestAt = now;
    return this.invocation.remainingMs() > this.reserveMs + this.longestRequestMs * REQUEST_MARGIN;
  }

  /**
   * How long the next embedding request may wait for the provider's rate limit: the time left, less the
   * staging reserve and the request itself (judged as in {@link mayEmbedMore}).
   */
  maxWaitMs(): number {
    if (!Number.isFinite(this.totalMs)) return Number.POSITIVE_INFINITY;
    return this.invocation.remainingMs() - this.reserveMs - this.longestRequestMs * REQUEST_MARGIN;
  }

  /** True once the invocation's time is up. */
  expired(): boolean {
    return this.invocation.remainingMs() <= 0;
  }

  private elapsedMs(): number {
    return this.totalMs - this.invocation.remainingMs();
  }
}
