import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IngestProgress } from '../local/ingest-local';
import type { BenchContext } from './context';
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
  /** Peak RSS of this process (the local executor runs every step in it) during Commit and during Optimize. */
  peakRss: { before: number; commit: number; optimize: number; whole: number };
  /** Tokens the fake OpenAI was asked to embed (its count: 4 characters a token). */
  tokens: number;
  optimize: unknown;
}

/**
 * Syncs the rig's corpus, timing the ingest's phases from its progress events and sampling this process's RSS every
 * 200 ms (Commit and Optimize run in it, on the local executor). The fake OpenAI's request log is counted and
 * emptied as the sync goes, so a million chunks' texts are not kept.
 */
async function timedSync(rig: RealRig, label: string): Promise<SyncTimeline> {
  const started = performance.now();
  const marks: Partial<
    Record<'planned' | 'commitStart' | 'commitEnd' | 'optimizeStart' | 'optimizeEnd', number>
  > = {};
  let phase: 'other' | 'commit' | 'optimize' = 'other';
  const before = process.memoryUsage.rss();
  const peak = { before, commit: 0, optimize: 0, whole: before };
  let tokens = 0;
  const drain = () => {
    tokens += fakeTokens(rig.openai.requests);
    rig.openai.requests.length = 0;
  };
  const sample = setInterval(() => {
    const rss = process.memoryUsage.rss();
    peak.whole = Math.max(peak.whole, rss);
    if (phase === 'commit') peak.commit = Math.max(peak.commit, rss);
    if (phase === 'optimize') peak.optimize = Math.max(peak.optimize, rss);
  }, 200);
  const draining = setInterval(drain, 2_000);
  const onProgress = (event: IngestProgress) => {
    const now = performance.now();
    if (event.type === 'planned') marks.planned = now;
    if (event.type !== 'step') return;
    if (event.step === 'Commit' && event.phase === 'started') {
      marks.commitStart ??= now;
      phase = 'commit';
    }
    if (event.step === 'Commit' && event.phase === 'done') marks.commitEnd = now;
    if (event.step === 'Optimize' && event.phase === 'started') {
      marks.optimizeStart = now;
      phase = 'optimize';
    }
    if (event.step === 'Optimize' && event.phase === 'done') {
      marks.optimizeEnd = now;
      phase = 'other';
    }
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
      peakRss: peak,
      tokens,
      optimize: synced.report.optimize,
    };
  } finally {
    clearInterval(sample);
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

interface ScaleResult extends SizeResult {
  sync: SyncTimeline;
  tableBytes: number;
}

/**
 * Section `scale` (issue 23 point 6): the retrievalReal harness (real text, the product's ingest, the Retrieve bundle
 * under Lambda's CPU share, S3's latency spread, a re-sync, spaced questions, recall) at 100,000 and 1,000,000 chunks
 * (`--quick`: 20,000 and 200,000), each table grown by one sync, with what that sync cost: wall time, chunks per
 * second, each phase's time, the peak memory of Commit and Optimize, the table's size on disk. Then a slice of the
 * corpus synced again under a modelled rate limit: the share of the provider's limit the batches used, from which
 * the time a million chunks take at a given limit follows. The smaller size is the baseline column.
 *
 * Not part of a plain `npm run bench` (an hour on 2 cores): `npm run bench -- --only scale`.
 */
export async function benchScale(ctx: BenchContext): Promise<SectionResult> {
  const sizes = scaleSizes(ctx.quick);
  const counts = askCounts(ctx.quick);
  const rig = await startRealRig(ctx, 'scale', { manPages: ctx.quick ? 60 : 150 });
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
      const sync = await timedSync(rig, `sync to ${target.toLocaleString('en')} chunks`);
      const tableBytes = await directoryBytes(rig.lancedbDir);
      ctx.log(
        `${label}: synced in ${Math.round(sync.ms / 1000)} s (plan ${Math.round(sync.phases.planMs / 1000)} s, embed ${Math.round(sync.phases.embedMs / 1000)} s, commit ${Math.round(sync.phases.commitMs / 1000)} s, optimize ${Math.round(sync.phases.optimizeMs / 1000)} s), ` +
          `${sync.chunks.toLocaleString('en')} chunks, peak RSS commit ${(sync.peakRss.commit / MB).toFixed(0)} MB, optimize ${(sync.peakRss.optimize / MB).toFixed(0)} MB; table ${(tableBytes / MB).toFixed(0)} MB`,
      );
      const measured = await measureSize(ctx, rig, { label, seed: 2000 + sizeIndex, counts });
      results.push({
        target,
        recordedVersion: await rig.recordedVersion(),
        chunks: measured.facts.rows,
        documents: rig.written.written.length,
        distinctTerms: distinctTerms(rig.written.written.map((d) => d.markdown)),
        syncMs: sync.ms,
        ...measured,
        sync,
        tableBytes,
      });
    }
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
  }
  return report(ctx, rig, results, counts.warm, limited, sliceChunks);
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
        name: `${size}: … peak RSS during Commit (the bench process)`,
        value: mb(s.sync.peakRss.commit),
        unit: 'MB',
        ...withBase((r) => mb(r.sync.peakRss.commit)),
      },
      {
        name: `${size}: … peak RSS during Optimize (the bench process)`,
        value: mb(s.sync.peakRss.optimize),
        unit: 'MB',
        ...withBase((r) => mb(r.sync.peakRss.optimize)),
        target: { max: 10_240, text: "≤ 10,240 MB (a Lambda's most)" },
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
    figures.push(...sizeFigures(size, s, base?.live, rig.memoryMb, spacing));
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
      'Sync phases are timed from the ingest’s progress (plan: until the plan is staged; embedding: until Commit starts; Commit: every part; Optimize: the index step). Commit and Optimize run in the bench process on the local executor, so their memory is that process’s peak RSS while they ran (it also holds the corpus’s documents and the in-memory DynamoDB); on 2 cores. A Lambda of 10,240 MB gets 6 vCPUs.',
      `Retrieval figures as in retrievalReal: a new Retrieve container (production bundle, ${rig.share.toFixed(2)} vCPU for ${rig.memoryMb} MB), ${warmCount} warm questions, a re-sync of 5 documents, spaced questions ${spacing / 1000} s apart, recall@10 against exact search.`,
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
        live: { ...s.live, warm: s.live.warm.length },
        recall: s.recall,
      })),
      limited,
      sliceChunks,
      quick: ctx.quick,
    },
  };
}
