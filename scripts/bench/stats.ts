/** Small statistics over samples of milliseconds (or anything else). */

/** The nearest-rank percentile: the smallest sample with at least p% of the samples at or below it. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  return samples.reduce((sum, x) => sum + x, 0) / samples.length;
}

export function sum(samples: readonly number[]): number {
  return samples.reduce((total, x) => total + x, 0);
}

export function max(samples: readonly number[]): number {
  return samples.reduce((m, x) => Math.max(m, x), Number.NEGATIVE_INFINITY);
}

/** p50, p90, p99 and max, rounded to 0.01. */
export function summary(samples: readonly number[]) {
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    n: samples.length,
    p50: r(percentile(samples, 50)),
    p90: r(percentile(samples, 90)),
    p99: r(percentile(samples, 99)),
    max: r(max(samples)),
    mean: r(mean(samples)),
  };
}

/** Runs `fn` and returns its result with the milliseconds it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - started };
}

/**
 * A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence on every machine, so every
 * generated workload (vectors, documents, questions) is the same from run to run.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample from a uniform source (Box–Muller). */
export function gaussian(random: () => number): number {
  let u = 0;
  while (u === 0) u = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * This thread's CPU time for `work`, in ms: what the work costs, whatever else the machine runs (other processes and
 * test workers do not add to it). It can be counted in scheduler ticks: too coarse for work of a millisecond or two.
 */
export async function cpuMs(work: () => unknown): Promise<number> {
  const started = process.threadCpuUsage();
  await work();
  const used = process.threadCpuUsage(started);
  return (used.user + used.system) / 1000;
}
