import { availableParallelism } from 'node:os';

/**
 * The one place that sizes LanceDB's CPU thread pool and its full-text index builders, for every process that
 * builds indexes: the ingest Lambdas, `npm run ingest`, the local stack, the bench and the tests. It is applied
 * by {@link connectVectorStore}, before any LanceDB operation of the process runs.
 *
 * Why: LanceDB's full-text index builder runs each of its workers' posting-list producers on the CPU pool and
 * has the consumer that writes their output also need a pool thread (`spawn_cpu` inside the file writer). When
 * every pool thread is held by a producer blocked on its full channel, nothing can drain it: a permanent hang at
 * 0 % CPU (lancedb/lancedb#3568, lance-format/lance#7350). LanceDB sizes the pool at the CPU count minus 2
 * (at least 1) and the builders at about half the CPU count plus one, so a host with 2 CPUs gets 1 thread for
 * 1 builder, and `LANCE_CPU_THREADS=2` alone gets 2 threads for 2 builders: both can hang, and did here on
 * 19,599 chunks of real READMEs. The invariant that cannot hang is "more pool threads than builders", so the
 * builders are set to the pool size minus one. The values depend on the CPU count only through the pool size,
 * which is never below 2: the 1-, 2- and 4-CPU cases are tested in `test/integration/index-build.test.ts`.
 */
export interface LanceDbThreadSettings {
  /** Threads of LanceDB's CPU pool (`LANCE_CPU_THREADS`): the CPU count, at least 2. */
  LANCE_CPU_THREADS: string;
  /** Full-text index builders (`LANCE_FTS_NUM_SHARDS`): always one fewer than the pool's threads. */
  LANCE_FTS_NUM_SHARDS: string;
}

/** The settings for a host with `cpus` CPUs, or for a pool size a person chose with `LANCE_CPU_THREADS`. */
export function lanceDbThreadSettings(cpus: number, requestedThreads?: string): LanceDbThreadSettings {
  const requested = Number.parseInt(requestedThreads ?? '', 10);
  const threads = Math.max(2, Number.isInteger(requested) && requested > 0 ? requested : Math.floor(cpus));
  return { LANCE_CPU_THREADS: String(threads), LANCE_FTS_NUM_SHARDS: String(threads - 1) };
}

/**
 * Sets LanceDB's thread variables in `env` (the process environment, which the native module reads when it
 * first needs its pool). A `LANCE_CPU_THREADS` given by a person is kept when it is 2 or more; the number of
 * full-text builders is always derived from it, since a larger value is the hang. Returns what is in force.
 */
export function applyLanceDbThreadSettings(
  env: NodeJS.ProcessEnv = process.env,
  cpus: number = availableParallelism(),
): LanceDbThreadSettings {
  const settings = lanceDbThreadSettings(cpus, env.LANCE_CPU_THREADS);
  env.LANCE_CPU_THREADS = settings.LANCE_CPU_THREADS;
  env.LANCE_FTS_NUM_SHARDS = settings.LANCE_FTS_NUM_SHARDS;
  return settings;
}
