/**
 * The CPU time this process spends while `work` runs (every thread: `process.cpuUsage`), with its result. Tests that
 * guard against runaway work on hostile input (a quadratic parse, a decompression bomb) bound this instead of the wall
 * clock: a busy machine stretches the wall clock of the same work several times over, and not its CPU time.
 */
export async function withCpuTime<T>(work: () => Promise<T>): Promise<{ result: T; cpuMs: number }> {
  const before = process.cpuUsage();
  const result = await work();
  const { user, system } = process.cpuUsage(before);
  return { result, cpuMs: (user + system) / 1000 };
}
