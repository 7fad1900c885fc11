import { PermanentError } from '../errors';

/**
 * An index build or optimize that stopped making progress. Not retried: a deadlocked LanceDB keeps its threads
 * parked for the life of the process, so a retry in the same process would stall the same way.
 */
export class IndexBuildStalledError extends PermanentError {
  override name = 'IndexBuildStalledError';
}

/** Options for {@link watchProgress}. */
export interface WatchdogOptions {
  /**
   * How long the operation may go without progress before it is ended. Well under the Optimize state's 900 s
   * timeout, and far above any pause of a working build: an S3 request that stalls is retried by LanceDB's own
   * client within 30 s or so.
   * @default 120_000
   */
  stallMs?: number;
  /** How often progress is sampled. @default 5_000 */
  sampleMs?: number;
  /**
   * CPU time that counts as progress. A deadlocked LanceDB uses none (every thread parked in a futex wait), while
   * a working build tokenises, encodes, compresses or decrypts TLS: hundreds of milliseconds a second.
   * @default 200
   */
  minCpuMs?: number;
  /** The process's CPU time in microseconds (user + system), for tests. */
  cpuMicros?: () => number;
}

let stalledOperation: string | undefined;

function processCpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * Runs `work` (a LanceDB index build or optimize) and ends it with an {@link IndexBuildStalledError} naming the
 * cause when the process's CPU time stops advancing for `stallMs`: the signature of LanceDB's index builder
 * deadlock (lancedb/lancedb#3568), which otherwise hangs until the state's timeout with nothing in the logs.
 * Progress is measured on the whole process because the work runs on LanceDB's native threads, which report
 * nothing else. Once a build has stalled, every later one in the same process fails at once: the parked threads
 * hold LanceDB's pool for good.
 */
export async function watchProgress<T>(
  operation: string,
  work: () => Promise<T>,
  { stallMs = 120_000, sampleMs = 5_000, minCpuMs = 200, cpuMicros = processCpuMicros }: WatchdogOptions = {},
): Promise<T> {
  if (stalledOperation !== undefined) {
    throw new IndexBuildStalledError(
      `${operation} was not started: ${stalledOperation} stalled earlier in this process and LanceDB's threads ` +
        'are still parked. A new process (the next sync) starts clean.',
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    let markCpu = cpuMicros();
    let markAt = Date.now();
    timer = setInterval(
      () => {
        const cpu = cpuMicros();
        const now = Date.now();
        if (cpu - markCpu >= minCpuMs * 1000) {
          markCpu = cpu;
          markAt = now;
          return;
        }
        if (now - markAt < stallMs) return;
        stalledOperation = operation;
        reject(
          new IndexBuildStalledError(
            `${operation} made no progress for ${Math.round((now - markAt) / 1000)} s ` +
              `(${((cpu - markCpu) / 1000).toFixed(0)} ms of CPU in that time): LanceDB's index builder is ` +
              `deadlocked (lancedb/lancedb#3568), with LANCE_CPU_THREADS=${process.env.LANCE_CPU_THREADS ?? 'unset'} ` +
              `and LANCE_FTS_NUM_SHARDS=${process.env.LANCE_FTS_NUM_SHARDS ?? 'unset'} in this process. ` +
              'The rows already committed are kept and searched without the new index; the next sync, in a new ' +
              'process, builds it again.',
          ),
        );
      },
      Math.min(sampleMs, stallMs),
    );
  });
  try {
    return await Promise.race([work(), stalled]);
  } finally {
    clearInterval(timer);
  }
}
