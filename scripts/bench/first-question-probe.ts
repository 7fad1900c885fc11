/**
 * Probe (issue 23, point 2): when a new Retrieve container should load the table's indexes. Real text synced by the
 * product's ingest (section 16's rig) to each size in SIZES, mirrored to the modelled S3 (latency spread); for each
 * `RETRIEVE_PREWARM` mode in MODES (`before`, `behind`, `off`), REPEAT new containers (the production bundle, a fresh
 * Node process at Lambda's CPU share for 1,024 MB, frozen between questions as Lambda freezes an environment), each
 * asked a first question and WARM warm ones. Prints, per mode, the first question from process start and what it
 * read, and the warm questions' p50 / p90 and the most one read. A mode's flags: `+burst` (the init at a full vCPU),
 * `+init` (the handler is the init module, whose init waits for the preload), `+provisioned` (the container sits
 * initialised for PROVISIONED_IDLE_MS, 10 s, before its first question: an environment of provisioned concurrency;
 * `firstAskMs` is then that question's own time), `+noext` (no Lambda Runtime API for the container's extension, so
 * what loads behind the answers runs during the next questions, as before functions/core/after-response.ts; with it,
 * `firstAfterMs`/`warmAfterMs` are how long each invocation went on after its answer). Not a bench section.
 * Run: SIZES=10000,100000 MODES=before,behind,off REPEAT=2 WARM=15 npx tsx scripts/bench/first-question-probe.ts
 *
 * `PLANS=<dir>`: after the last size, the probe keeps its table and serves plans, so that one table built in half an
 * hour (a million chunks) is measured under many settings: it runs each `<name>.json` put in the directory (`label`;
 * `modes`, `repeat`, `warm` as above; `memoryMb`, the Retrieve function's memory, which sets its CPU share and
 * `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`; `env`, more of the container's environment; `rebundle`, bundle the Retrieve
 * function again from the working tree first; `noVersion`, ask without the recorded table version;
 * `recallInMemory`, recall@10 against exact search as a container holding the indexes searches; `trace`, each first
 * question's S3 requests from process start to `<name>.trace.jsonl`), writes its lines to
 * `<name>.out.jsonl` and renames it `<name>.done`, and stops when a file `stop` appears.
 */

import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import type { RecordedTableVersion } from '../../functions/core/stores/table-version-store';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { ensureIndexes, openDocumentTable } from '../../functions/core/vector-store/document-table';
import type { BenchContext } from './context';
import { LAMBDA_INIT_SHARE, lambdaCpuShare } from './cpu-quota';
import { personQuestions, writeUntil } from './real-corpus';
import {
  containerEnv,
  EMBEDDING_MODEL,
  type RealRig,
  readsOf,
  recallOf,
  requestLines,
  startContainer,
  startRealRig,
  tableFacts,
} from './retrieval-real';
import { bundleRetrieve, retrieveHandlerFile } from './retrieval-s3';
import { LAMBDA_S3_SPREAD_MODEL } from './s3-model';
import { percentile } from './stats';

const MB = 1_000_000;
const SIZES = (process.env.SIZES ?? '10000,100000').split(',').map(Number);
const MODES = (process.env.MODES ?? 'before,behind,off').split(',');
const REPEAT = Number(process.env.REPEAT ?? 2);
const WARM = Number(process.env.WARM ?? 15);
/** How long a `+provisioned` container sits initialised before its first question. */
const PROVISIONED_IDLE_MS = Number(process.env.PROVISIONED_IDLE_MS ?? 10_000);
/** At the last size, the vector index is trained again with each of these rows per partition, and measured. */
const PARTITION_ROWS = (process.env.PARTITION_ROWS ?? '').split(',').filter(Boolean).map(Number);

/** A fresh vector index with `rowsPerPartition`, by the product's ensureIndexes; returns the table's new version. */
async function retrain(dir: string, rowsPerPartition: number): Promise<number> {
  const connection = await connectVectorStore(dir);
  try {
    const handle = await openDocumentTable(connection, {
      table: 'documents',
      embedderName: EMBEDDING_MODEL,
      dimensions: 1536,
      embeddings: new LocalHashEmbeddings({ dimensions: 1536 }),
    });
    if (handle === undefined) throw new Error('no table');
    for (const i of await handle.table.listIndices())
      if (i.columns.includes('vector')) await handle.table.dropIndex(i.name);
    await ensureIndexes(handle, { rowsPerPartition });
    const version = await handle.table.version();
    handle.close();
    return version;
  } finally {
    connection.close();
  }
}

async function main() {
  const workDir = await mkdtemp(join(tmpdir(), 'first-question-probe-'));
  const ctx: BenchContext = {
    quick: false,
    workDir,
    log: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
    reports: {},
    shared: new Map(),
  };
  const rig = await startRealRig(ctx, 'probe', { manPages: 150 });
  try {
    for (const [sizeIndex, size] of SIZES.entries()) {
      await writeUntil(rig.corpusDir, rig.generator, size, rig.written);
      const synced = await rig.sync(`sync to ${size}`);
      await rig.s3.mirrorDirectory(rig.lancedbDir, 'real');
      const facts = await tableFacts(rig.lancedbDir, EMBEDDING_MODEL);
      ctx.log(
        `${size}: ${facts.rows} rows synced in ${Math.round(synced.ms / 1000)} s; indexes ${facts.indexes
          .map((i) => `${i.type} ${(i.bytes / MB).toFixed(1)} MB`)
          .join(', ')}`,
      );
      const questions = personQuestions(
        rig.written.written,
        MODES.length * REPEAT * (1 + WARM),
        3000 + sizeIndex,
      );
      await measure(ctx, rig, facts, questions, 'default', rig.versionsForReal);
      if (sizeIndex === SIZES.length - 1 && PARTITION_ROWS.length > 0) {
        const recall = await recallOf(rig.lancedbDir, personQuestions(rig.written.written, 50, 4000));
        ctx.log(`${size}: default partitions, recall@10 vector ${recall.vector}, hybrid ${recall.hybrid}`);
        for (const rpp of PARTITION_ROWS) {
          const version = await retrain(rig.lancedbDir, rpp);
          await rig.s3.mirrorDirectory(rig.lancedbDir, 'real');
          const retrained = await tableFacts(rig.lancedbDir, EMBEDDING_MODEL);
          const recall = await recallOf(rig.lancedbDir, personQuestions(rig.written.written, 50, 4000));
          ctx.log(
            `${size}: ${rpp} rows a partition, recall@10 vector ${recall.vector}, hybrid ${recall.hybrid}`,
          );
          const more = personQuestions(rig.written.written, MODES.length * REPEAT * (1 + WARM), 5000 + rpp);
          await measure(ctx, rig, retrained, more, `rpp ${rpp}`, async () => ({ version }));
        }
      }
    }
    if (process.env.PLANS) await servePlans(ctx, rig, process.env.PLANS);
  } finally {
    await rig.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

interface Plan {
  label?: string;
  modes?: string[];
  repeat?: number;
  warm?: number;
  memoryMb?: number;
  env?: Record<string, string>;
  rebundle?: boolean;
  /** Recall@10 against exact search as a container holding the indexes in memory searches. */
  recallInMemory?: boolean;
  /** Ask without the recorded table version (the container follows the latest, as before versions were recorded). */
  noVersion?: boolean;
  /** Write each first question's S3 requests, from process start, to `<name>.trace.jsonl`. */
  trace?: boolean;
}

/** Runs the plans put in `dir` against the rig's table (see the header) until a file `stop` appears. */
async function servePlans(ctx: BenchContext, rig: RealRig, dir: string) {
  const facts = await tableFacts(rig.lancedbDir, EMBEDDING_MODEL);
  let seed = 9000;
  ctx.log(`serving plans from ${dir}`);
  while (!existsSync(join(dir, 'stop'))) {
    const next = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()[0];
    if (next === undefined) {
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    const name = next.slice(0, -'.json'.length);
    const out = join(dir, `${name}.out.jsonl`);
    try {
      const plan = JSON.parse(await readFile(join(dir, next), 'utf8')) as Plan;
      ctx.log(`plan ${name}: ${JSON.stringify(plan)}`);
      if (plan.rebundle) rig.bundle = await bundleRetrieve(ctx.workDir);
      if (plan.recallInMemory) {
        const questions = personQuestions(rig.written.written, 50, 4000);
        const recall = await recallOf(rig.lancedbDir, questions, { inMemory: true });
        await appendFile(out, `${JSON.stringify({ recallInMemory: recall })}\n`);
      }
      const modes = plan.modes ?? [];
      const repeat = plan.repeat ?? REPEAT;
      const warm = plan.warm ?? WARM;
      const questions = personQuestions(rig.written.written, modes.length * repeat * (1 + warm), seed++);
      await measure(
        ctx,
        rig,
        facts,
        questions,
        plan.label ?? name,
        plan.noVersion ? undefined : rig.versionsForReal,
        {
          modes,
          repeat,
          warm,
          ...(plan.memoryMb === undefined ? {} : { memoryMb: plan.memoryMb }),
          env: plan.env ?? {},
          write: (line) => appendFile(out, `${line}\n`),
          ...(plan.trace
            ? { trace: (line: string) => appendFile(join(dir, `${name}.trace.jsonl`), `${line}\n`) }
            : {}),
        },
      );
    } catch (error) {
      await appendFile(out, `${JSON.stringify({ error: String(error) })}\n`);
    }
    await rename(join(dir, next), join(dir, `${name}.done`));
  }
}

async function measure(
  _ctx: BenchContext,
  rig: RealRig,
  facts: Awaited<ReturnType<typeof tableFacts>>,
  questions: string[],
  variant: string,
  versions: (() => Promise<RecordedTableVersion>) | undefined,
  options: {
    modes?: string[];
    repeat?: number;
    warm?: number;
    memoryMb?: number;
    env?: Record<string, string>;
    write?: (line: string) => Promise<void>;
    trace?: (line: string) => Promise<void>;
  } = {},
) {
  const warmCount = options.warm ?? WARM;
  const share = options.memoryMb === undefined ? rig.share : lambdaCpuShare(options.memoryMb);
  for (let round = 0; round < (options.repeat ?? REPEAT); round++) {
    for (const mode of options.modes ?? MODES) {
      rig.s3.setModel(LAMBDA_S3_SPREAD_MODEL);
      rig.s3.reset();
      // A mode: the prewarm setting, then `+burst` (the init at a full vCPU) and `+init` (Lambda's handler is the init
      // module, init.mjs, whose init waits for the preload; without it, the bundle), e.g. `before+burst+init`.
      const [prewarm, ...flags] = mode.split('+');
      const container = await startContainer(
        flags.includes('init') ? retrieveHandlerFile(rig.bundle) : rig.bundle,
        {
          ...containerEnv(rig.s3, 'real', rig.openai.url, EMBEDDING_MODEL, true),
          RETRIEVE_PREWARM: prewarm as string,
          // As Lambda tells a provisioned environment's init, which then waits for the whole preload (init.mjs).
          ...(flags.includes('provisioned')
            ? { AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' }
            : {}),
          ...(options.memoryMb === undefined
            ? {}
            : { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb) }),
          ...options.env,
        },
        share,
        versions,
        {
          freezeBetween: true,
          ...(flags.includes('burst') ? { initShare: LAMBDA_INIT_SHARE } : {}),
          // `+noext`: no Lambda Runtime API, so no extension: loads behind the answers run during the next questions.
          ...(flags.includes('noext') ? { afterResponse: false } : {}),
        },
      );
      try {
        const seen = new Set<number>();
        // `+provisioned`: an environment initialised ahead (provisioned concurrency) sits idle before its first
        // question, its S3 connections expiring meanwhile, as they do after the modelled keep-alive.
        if (flags.includes('provisioned')) await new Promise((r) => setTimeout(r, PROVISIONED_IDLE_MS));
        const firstAnswer = await container.ask(questions.shift() as string);
        const first = readsOf(rig.s3, firstAnswer, facts.folders, seen, container.spawnedAt);
        if (options.trace) {
          // The first question's requests from process start: when each was sent and ended, relative to the start,
          // with the init's load and the question marked, to see which reads wait on which.
          const t0 = container.spawnedAt;
          const rel = (t: number) => Math.round(t - t0);
          await options.trace(
            JSON.stringify({
              mode,
              round,
              loadStart: rel(container.ready.loadStart),
              loadEnd: rel(container.ready.loadEnd),
              askStart: rel(firstAnswer.start),
              askEnd: rel(firstAnswer.end),
            }),
          );
          for (const line of requestLines(rig.s3, t0, firstAnswer.end)) await options.trace(line);
        }
        const afterFirst = rig.s3.log
          .filter((r) => r.at > firstAnswer.end && r.at <= firstAnswer.invocationEnd)
          .reduce((n, r) => n + r.bytes, 0);
        const warm = [];
        const warmAfter: number[] = [];
        let peak = firstAnswer.peak;
        // A warm question that fails (past Retrieve's step deadline, say) is recorded, and the next one asked.
        const warmFailed: Array<{ i: number; error: string }> = [];
        for (let i = 0; i < warmCount; i++) {
          let answer: Awaited<ReturnType<typeof container.ask>>;
          try {
            answer = await container.ask(questions.shift() as string);
          } catch (error) {
            warmFailed.push({ i, error: String(error).split('\n')[0]?.slice(0, 200) ?? '' });
            continue;
          }
          peak = Math.max(peak, answer.peak);
          warm.push(readsOf(rig.s3, answer, facts.folders, seen));
          warmAfter.push(answer.invocationEnd - answer.end);
        }
        const ms = warm.map((w) => w.ms);
        const line = {
          size: facts.rows,
          mode,
          variant,
          round,
          firstFromStartMs: Math.round(firstAnswer.end - container.spawnedAt),
          firstAskMs: Math.round(firstAnswer.end - firstAnswer.start),
          loadMs: Math.round(container.ready.loadEnd - container.ready.loadStart),
          firstCpuMs: Math.round(firstAnswer.totalCpuMs),
          firstMB: Number((first.bytes / MB).toFixed(1)),
          firstGets: first.gets,
          firstDepth: first.depth,
          firstFullTextMB: Number((first.fullText.bytes / MB).toFixed(1)),
          // The work after the first answer, before the environment could be frozen (the container's extension).
          extension: container.extension,
          firstAfterMs: Math.round(firstAnswer.invocationEnd - firstAnswer.end),
          firstAfterMB: Number((afterFirst / MB).toFixed(1)),
          warmAfterMs: warmAfter.map((ms) => Math.round(ms)),
          warmP50: Math.round(percentile(ms, 50)),
          warmP90: Math.round(percentile(ms, 90)),
          warmMaxMs: Math.round(Math.max(...ms)),
          warmMaxMB: Number((Math.max(...warm.map((w) => w.bytes)) / MB).toFixed(2)),
          warmMB: warm.map((w) => Number((w.bytes / MB).toFixed(2))),
          warmMs: ms.map((m) => Math.round(m)),
          ...(warmFailed.length === 0 ? {} : { warmFailed }),
          peakRssMB: Math.round(firstAnswer.peak / MB),
          peakRssAllMB: Math.round(peak / MB),
          ...(options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb }),
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
        await options.write?.(JSON.stringify(line));
      } finally {
        await container.close();
      }
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
