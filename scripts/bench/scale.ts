import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IngestProgress } from '../local/ingest-local';
import type { BenchContext } from './context';
import { type FunctionFigures, type FunctionProcesses, startFunctionProcesses } from './function-processes';
import { fakeTokens, rateLimitFigures, syncUnderRateLimit } from './ingest';
import { distinctTerms, writeUntil } from './real-corpus';
import type { Figure, SectionResult } from './report';
import {
  askCounts,
  EMBEDDING_MODEL,
  measureSize,
  type RealRig,
  type SizeResult,
  sizeFigures,
  startRealRig,
  tableFacts,
} from './retrieval-real';

const MB = 1_000_000;

/**
 * Sizes of the scale section, in chunks: the full run 100,000 then 1,000,000 (the table grows by one sync from one to
 * the other, as an organisation's first big sync would), `--quick` 20,000 then 200,000. `BENCH_SCALE_SIZES`
 * (comma-separated chunks) replaces either, e.g. to try the harness at small sizes.
 */
export function scaleSizes(quick: boolean, env: NodeJS.ProcessEnv = process.env): number[] {
  const given = env.BENCH_SCALE_SIZES?.split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  if (given !== undefined && given.length > 0) return given;
  return quick ? [20_000, 200_000] : [100_000, 1_000_000];
}

/** Where the time and the memory of one sync went, from the ingest's progress and the process's RSS. */
export interface SyncTimeline {
  ms: number;
  /** Chunks this sync embedded and wrote, and the documents they came from (added or changed). */
  chunks: number;
  documents: number;
  /** Plan, the embedding batches (the Distributed Map), Commit (all its parts), Optimize. */
  phases: { planMs: number; embedMs: number; commitMs: number; optimizeMs: number };
  /**
   * Plan's, Commit's and Optimize's own processes (their production bundles, each under the CPU share of its memory): peak
   * RSS, each invocation's time, cold starts.
   */
  functions: FunctionFigures[];
  /** Tokens the fake OpenAI was asked to embed (its count: 4 characters a token). */
  tokens: number;
  optimize: unknown;
}

/**
 * Syncs the rig's corpus, timing the ingest's phases from its progress events; Plan's, Commit's and Optimize's processes
 * are measured by `functions` (started cold for this sync). The fake OpenAI's request log is counted and emptied as
 * the sync goes, so a million chunks' texts are not kept.
 */
async function timedSync(rig: RealRig, label: string, functions: FunctionProcesses): Promise<SyncTimeline> {
  // What an earlier sync (a re-sync of the retrieval measurements) left in the figures, and warm processes.
  await functions.take();
  const started = performance.now();
  const marks: Partial<
    Record<'planned' | 'commitStart' | 'commitEnd' | 'optimizeStart' | 'optimizeEnd', number>
  > = {};
  let tokens = 0;
  const drain = () => {
    tokens += fakeTokens(rig.openai.requests);
    rig.openai.requests.length = 0;
  };
  const draining = setInterval(drain, 2_000);
  const onProgress = (event: IngestProgress) => {
    const now = performance.now();
    if (event.type === 'planned') marks.planned = now;
    if (event.type !== 'step') return;
    if (event.step === 'Commit' && event.phase === 'started') marks.commitStart ??= now;
    if (event.step === 'Commit' && event.phase === 'done') marks.commitEnd = now;
    if (event.step === 'Optimize' && event.phase === 'started') marks.optimizeStart = now;
    if (event.step === 'Optimize' && event.phase === 'done') marks.optimizeEnd = now;
  };
  try {
    const synced = await rig.sync(label, onProgress);
    drain();
    const at = (mark: number | undefined) => mark ?? performance.now();
    return {
      ms: synced.ms,
      chunks: synced.report.embeddedChunks,
      documents: synced.report.added + synced.report.updated,
      phases: {
        planMs: at(marks.planned) - started,
        embedMs: at(marks.commitStart) - at(marks.planned),
        commitMs: at(marks.commitEnd) - at(marks.commitStart),
        optimizeMs: at(marks.optimizeEnd) - at(marks.optimizeStart),
      },
      functions: await functions.take(),
      tokens,
      optimize: synced.report.optimize,
    };
  } finally {
    clearInterval(draining);
  }
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/**
 * The functions whose processes the section measures: Plan, which lists every document and reads the manifest of
 * all of them, and the two that hold a table's rows and indexes in memory. The embedding batches run here, in the
 * bench's process.
 */
const INGEST_MEASURED = ['IngestPlan', 'IngestCommit', 'IngestOptimize'] as const;

/** One size: its sync, and (unless `BENCH_SCALE_SYNC_ONLY=1`) the retrieval figures. */
type ScaleResult = Omit<SizeResult, 'live' | 'constant' | 'recall'> &
  Partial<Pick<SizeResult, 'live' | 'constant' | 'recall'>> & {
    sync: SyncTimeline;
    tableBytes: number;
  };

/**
 * Section `scale` (issue 23 point 6): the retrievalReal harness (real text, the product's ingest, the Retrieve bundle
 * under Lambda's CPU share, S3's latency spread, a re-sync, spaced questions, recall) at 100,000 and 1,000,000 chunks
 * (`--quick`: 20,000 and 200,000), each table grown by one sync, with what that sync cost: wall time, chunks per
 * second, each phase's time, the peak memory and longest invocation of Plan, Commit and Optimize, the table's size on disk. Then a slice of the
 * corpus synced again under a modelled rate limit: the share of the provider's limit the batches used, from which
 * the time a million chunks take at a given limit follows. The smaller size is the baseline column.
 *
 * Plan, Commit and Optimize run in processes of their own (function-processes.ts), so that their memory and time are a
 * Lambda's, not this process's. `BENCH_SCALE_SYNC_ONLY=1` measures the syncs alone (no retrieval, no rate-limited
 * slice).
 *
 * Not part of a plain `npm run bench` (an hour on 2 cores): `npm run bench -- --only scale`.
 */
export async function benchScale(ctx: BenchContext): Promise<SectionResult> {
  const sizes = scaleSizes(ctx.quick);
  const counts = askCounts(ctx.quick);
  const syncOnly = process.env.BENCH_SCALE_SYNC_ONLY === '1';
  ctx.log('scale: bundling Plan, Commit and Optimize, to run in processes of their own');
  const functions = await startFunctionProcesses(ctx.workDir, INGEST_MEASURED, {
    cwd: join(ctx.workDir, 'scale'),
  });
  const rig = await startRealRig(ctx, 'scale', {
    manPages: ctx.quick ? 60 : 150,
    runFunction: functions.runFunction,
  });
  const results: ScaleResult[] = [];
  let limited: Awaited<ReturnType<typeof syncUnderRateLimit>> | undefined;
  let sliceChunks = 0;
  try {
    for (const [sizeIndex, target] of sizes.entries()) {
      const label = `scale: ${target.toLocaleString('en')} chunks`;
      ctx.log(`${label}: writing documents`);
      const writeStarted = performance.now();
      await writeUntil(rig.corpusDir, rig.generator, target, rig.written);
      ctx.log(
        `${label}: ${rig.written.written.length.toLocaleString('en')} documents written in ${Math.round((performance.now() - writeStarted) / 1000)} s; syncing them`,
      );
      const sync = await timedSync(rig, `sync to ${target.toLocaleString('en')} chunks`, functions);
      const tableBytes = await directoryBytes(rig.lancedbDir);
      const fn = (name: string) => sync.functions.find((f) => f.name === name);
      const longest = (f: FunctionFigures | undefined) => Math.max(0, ...(f?.invocationsMs ?? []));
      ctx.log(
        `${label}: synced in ${Math.round(sync.ms / 1000)} s (plan ${Math.round(sync.phases.planMs / 1000)} s, embed ${Math.round(sync.phases.embedMs / 1000)} s, commit ${Math.round(sync.phases.commitMs / 1000)} s, optimize ${Math.round(sync.phases.optimizeMs / 1000)} s), ` +
          `${sync.chunks.toLocaleString('en')} chunks; Commit peak RSS ${((fn('IngestCommit')?.peakRss ?? 0) / MB).toFixed(0)} MB in ${fn('IngestCommit')?.invocationsMs.length ?? 0} part(s), longest ${Math.round(longest(fn('IngestCommit')) / 1000)} s; ` +
          `Optimize peak RSS ${((fn('IngestOptimize')?.peakRss ?? 0) / MB).toFixed(0)} MB, longest ${Math.round(longest(fn('IngestOptimize')) / 1000)} s; table ${(tableBytes / MB).toFixed(0)} MB`,
      );
      const base = {
        target,
        recordedVersion: await rig.recordedVersion(),
        documents: rig.written.written.length,
        distinctTerms: distinctTerms(rig.written.written.map((d) => d.markdown)),
        syncMs: sync.ms,
        sync,
        tableBytes,
      };
      if (syncOnly) {
        const facts = await tableFacts(rig.lancedbDir, EMBEDDING_MODEL);
        results.push({ ...base, chunks: facts.rows, facts });
        continue;
      }
      const measured = await measureSize(ctx, rig, { label, seed: 2000 + sizeIndex, counts });
      results.push({ ...base, chunks: measured.facts.rows, ...measured });
    }
    if (syncOnly) return report(ctx, rig, results, counts.warm, undefined, 0);
    // The rate-limited slice: the first documents of the corpus (about 2 % of the largest size, at least 2,000
    // chunks) in a directory of their own, synced into a new table by a new ingest against a limited fake OpenAI.
    const sliceTarget = Math.max(2_000, Math.round((sizes.at(-1) as number) * 0.02));
    const sliceDir = join(rig.root, 'slice', 'corpus');
    await mkdir(sliceDir, { recursive: true });
    for (const doc of rig.written.written) {
      if (sliceChunks >= sliceTarget) break;
      await writeFile(join(sliceDir, doc.name), doc.markdown);
      sliceChunks += doc.chunks;
    }
    // The slice's tokens as the fake counts them, from the tokens per chunk the syncs above were charged.
    const charged = results.reduce((n, r) => n + r.sync.tokens, 0);
    const chunked = results.reduce((n, r) => n + r.sync.chunks, 0);
    const sliceTokens = Math.round((sliceChunks * charged) / Math.max(1, chunked));
    ctx.log(`scale: a slice of ${sliceChunks.toLocaleString('en')} chunks under a modelled rate limit`);
    limited = await syncUnderRateLimit(ctx, {
      env: {
        LLM_PROVIDER: 'openai',
        OPENAI_API_KEY: 'sk-bench-not-a-key',
        OPENAI_EMBEDDING_MODEL: EMBEDDING_MODEL,
      },
      corpusTokens: sliceTokens,
      baseDir: join(rig.root, 'slice'),
      root: join(rig.root, 'slice-limited'),
    });
  } finally {
    await rig.close();
    await functions.close();
  }
  return report(ctx, rig, results, counts.warm, limited, sliceChunks);
}

/** Lambda's MB, in which a function's memory is configured and its use reported, are mebibytes. */
const LAMBDA_MB = 1_048_576;

/** Plan's, Commit's and Optimize's own processes at one size: peak memory and longest invocation, against their settings. */
function functionFigures(size: string, s: ScaleResult, base: ScaleResult | undefined): Figure[] {
  return s.sync.functions.flatMap((f) => {
    const of = (r: ScaleResult | undefined) => r?.sync.functions.find((x) => x.name === f.name);
    const longest = (x: FunctionFigures) => Math.max(0, ...x.invocationsMs);
    const baseline = of(base);
    return [
      {
        name: `${size}: … ${f.name}, peak RSS of its process (Lambda's MB), ${f.share.toFixed(2)} vCPU`,
        value: f.peakRss / LAMBDA_MB,
        unit: 'MB' as const,
        ...(baseline ? { baseline: baseline.peakRss / LAMBDA_MB } : {}),
        target: { max: f.memoryMb, text: `≤ ${f.memoryMb.toLocaleString('en')} MB (its configured memory)` },
      },
      {
        name: `${size}: … ${f.name}, longest of its ${f.invocationsMs.length} invocation(s)`,
        value: longest(f),
        unit: 'ms' as const,
        ...(baseline ? { baseline: longest(baseline) } : {}),
        target: { max: f.timeoutMs, text: `≤ ${f.timeoutMs / 1000} s (its timeout)` },
      },
      {
        name: `${size}: … ${f.name}, processes killed for going over ${f.memoryLimit === undefined ? 'its memory (no limit could be set here)' : `${f.memoryMb.toLocaleString('en')} MB`}`,
        value: f.oomKills,
        unit: 'count' as const,
        target: { max: 0, text: '0' },
      },
    ];
  });
}

function report(
  ctx: BenchContext,
  rig: RealRig,
  results: readonly ScaleResult[],
  warmCount: number,
  limited: Awaited<ReturnType<typeof syncUnderRateLimit>> | undefined,
  sliceChunks: number,
): SectionResult {
  const mb = (bytes: number) => bytes / MB;
  const spacing = rig.consistencyMs + 5_000;
  const first = results[0];
  const figures: Figure[] = [];
  for (const [i, s] of results.entries()) {
    const size = `${s.target / 1000}k`;
    const base = i > 0 ? first : undefined;
    const withBase = (value: (r: ScaleResult) => number) => (base ? { baseline: value(base) } : {});
    const chunksPerSecond = (r: ScaleResult) => (r.sync.chunks * 1000) / r.sync.ms;
    figures.push(
      {
        name: `${size}: the sync that grew the table to it, time`,
        value: s.sync.ms,
        unit: 'ms',
        ...withBase((r) => r.sync.ms),
      },
      {
        name: `${size}: … chunks embedded and written`,
        value: s.sync.chunks,
        unit: 'count',
        ...withBase((r) => r.sync.chunks),
      },
      {
        name: `${size}: … chunks per second`,
        value: chunksPerSecond(s),
        unit: 'chunks/s',
        ...withBase(chunksPerSecond),
      },
      {
        name: `${size}: … plan`,
        value: s.sync.phases.planMs,
        unit: 'ms',
        ...withBase((r) => r.sync.phases.planMs),
      },
      {
        name: `${size}: … embedding batches (Distributed Map)`,
        value: s.sync.phases.embedMs,
        unit: 'ms',
        ...withBase((r) => r.sync.phases.embedMs),
      },
      {
        name: `${size}: … Commit, all parts`,
        value: s.sync.phases.commitMs,
        unit: 'ms',
        ...withBase((r) => r.sync.phases.commitMs),
      },
      {
        name: `${size}: … Optimize (indexes)`,
        value: s.sync.phases.optimizeMs,
        unit: 'ms',
        ...withBase((r) => r.sync.phases.optimizeMs),
        target: { max: 15 * 60_000, text: "≤ 15 min (a Lambda's limit)" },
      },
      {
        name: `${size}: table on disk (all versions kept)`,
        value: mb(s.tableBytes),
        unit: 'MB',
        ...withBase((r) => mb(r.tableBytes)),
      },
      {
        name: `${size}: indexes`,
        value: mb(s.facts.indexes.reduce((n, x) => n + x.bytes, 0)),
        unit: 'MB',
        ...withBase((r) => mb(r.facts.indexes.reduce((n, x) => n + x.bytes, 0))),
      },
    );
    figures.push(...functionFigures(size, s, base));
    if (s.live !== undefined)
      figures.push(...sizeFigures(size, s as SizeResult, base?.live, rig.memoryMb, spacing));
  }
  const largest = results.at(-1);
  if (limited !== undefined) {
    figures.push(...rateLimitFigures(limited, `a slice of ${sliceChunks.toLocaleString('en')} chunks`));
    if (largest !== undefined) {
      // A million-token-a-minute limit, as an example: the time scales inversely with the limit.
      const perMinute = 1_000_000;
      const tokensPerChunk = largest.sync.tokens / Math.max(1, largest.sync.chunks);
      figures.push({
        name: `${largest.target / 1000}k: embedding alone at ${perMinute.toLocaleString('en')} tokens a minute and the share used (minutes)`,
        value: (largest.target * tokensPerChunk) / (perMinute * limited.share),
        unit: 'count',
      });
    }
  }
  const describe = (s: ScaleResult) =>
    `${s.chunks.toLocaleString('en')} rows from ${s.documents.toLocaleString('en')} documents (${s.distinctTerms.toLocaleString('en')} distinct terms), ${s.facts.versions} versions kept, ${s.facts.stats.fragmentStats.numFragments} fragments, ${s.facts.indexes.map((x) => `${x.name} ${mb(x.bytes).toFixed(1)} MB in ${x.parts} part(s), ${x.unindexedRows} rows unindexed`).join(', ')}`;
  return {
    key: 'scale',
    title: `Scale: real text at ${results.map((s) => s.target.toLocaleString('en')).join(' and ')} chunks, ingest and retrieval`,
    workload: `${results.map((s) => s.chunks.toLocaleString('en')).join(' and ')} chunks of real documentation (1,536 dimensions), each size reached by one sync of the ingest state machine on the local executor (embeddings instant, from the fake OpenAI); then the retrievalReal measurements at each size; then a slice synced under a modelled rate limit`,
    baseline:
      results.length > 1
        ? `the smaller size (${results[0]?.target.toLocaleString('en')} chunks), same run`
        : 'none',
    figures,
    notes: [
      `Tables: ${results.map(describe).join('; ')}.`,
      `Sync phases are timed from the ingest’s progress (plan: until the plan is staged; embedding: until Commit starts; Commit: every part; Optimize: the index step). Plan, Commit and Optimize run as their production bundles, each in a Node process of its own started cold for each sync and kept warm between its invocations, each held to the CPU Lambda gives their configured memory (${results[0]?.sync.functions.map((f) => `${f.name} ${f.share.toFixed(2)} vCPU by ${f.method}`).join(', ') ?? 'none'}) and to that memory by a memory cgroup where one can be set (Node sizes its heap from it, as in a Lambda environment of that size, and the kernel kills a process over it); their peak RSS is the process's VmHWM, read every 250 ms and after each invocation. The timeout is not enforced: an invocation over it is what Lambda would have stopped. The table and the documents are on local disk (Lambda's are on S3). The other steps run in the bench process, on 2 cores.`,
      results.some((s) => s.live === undefined)
        ? 'Retrieval was not measured (BENCH_SCALE_SYNC_ONLY=1): the syncs alone.'
        : `Retrieval figures as in retrievalReal: a new Retrieve container (production bundle, ${rig.share.toFixed(2)} vCPU for ${rig.memoryMb} MB), ${warmCount} warm questions, a re-sync of 5 documents, spaced questions ${spacing / 1000} s apart, recall@10 against exact search.`,
      limited === undefined
        ? 'The rate-limited slice did not run.'
        : `Rate limit: the first ${sliceChunks.toLocaleString('en')} chunks’ documents synced into a new table against a fake OpenAI limited to ${limited.tokensPerWindow.toLocaleString('en')} tokens per ${limited.windowMs / 1000} s (a third of the slice’s tokens; OpenAI’s window is a minute), ${limited.concurrency} batches at once; baseline of its time: the floor the limit sets. The last row is the embedding time of the largest size at a limit of 1,000,000 tokens a minute, from its measured tokens per chunk and the share of the limit used (it scales inversely with the limit).`,
    ],
    details: {
      sizes: results.map((s) => ({
        target: s.target,
        chunks: s.chunks,
        documents: s.documents,
        distinctTerms: s.distinctTerms,
        sync: s.sync,
        tableBytes: s.tableBytes,
        table: s.facts,
        ...(s.live === undefined ? {} : { live: { ...s.live, warm: s.live.warm.length } }),
        recall: s.recall,
      })),
      limited,
      sliceChunks,
      quick: ctx.quick,
    },
  };
}
