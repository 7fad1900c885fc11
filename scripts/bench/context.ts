import type { SectionReport } from './report';

/** What every section gets: the mode, a scratch directory, a progress log, and the sections run before it. */
export interface BenchContext {
  /** `--quick`: smaller workloads, the whole run in about 6 minutes on 2 cores (retrievalReal waits out LanceDB's 30-s consistency interval). */
  quick: boolean;
  /** A temporary directory, removed when the run ends. */
  workDir: string;
  /** Progress, on stderr, so that `--json` keeps stdout to the one JSON object. */
  log(message: string): void;
  /** Reports of the sections already run, by key: the cost section reads the measured durations from them. */
  reports: Partial<Record<SectionReport['key'], SectionReport>>;
  /** Values sections share (a vector table one built and another reuses), by name. */
  shared: Map<string, unknown>;
}

/** Memoises a value shared between sections, so that whichever runs first builds it. */
export async function shared<T>(ctx: BenchContext, name: string, make: () => Promise<T>): Promise<T> {
  if (!ctx.shared.has(name)) ctx.shared.set(name, make());
  return (await ctx.shared.get(name)) as T;
}
