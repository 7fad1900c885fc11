import { execFile } from 'node:child_process';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { conversationFunctions } from '../../functions/conversation-functions';
import { loadConfig } from '../../functions/core/config';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import type { RecordedTableVersion } from '../../functions/core/stores/table-version-store';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { openDocumentTable } from '../../functions/core/vector-store/document-table';
import { fuseByRank, searchPassages } from '../../functions/core/vector-store/search-passages';
import { type LambdaRuntimeApi, startLambdaRuntimeApi } from '../../stand-ins/aws/lambda-runtime-api';
import { LOCAL_CREDENTIALS } from '../../stand-ins/aws/s3-local';
import { startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { startLocalIngest } from '../local/ingest-local';
import { REPO_ROOT } from '../local/stack';
import type { BenchContext } from './context';
import { LAMBDA_INIT_SHARE, lambdaCpuShare, type QuotaMethod, spawnWithCpuShare } from './cpu-quota';
import {
  type CorpusDocument,
  chunkCounter,
  collectSources,
  corpusDocuments,
  distinctTerms,
  personQuestions,
  writeUntil,
} from './real-corpus';
import type { Figure, SectionResult } from './report';
import { bundleRetrieve, retrieveHandlerFile } from './retrieval-s3';
import {
  dependentDepth,
  LAMBDA_S3_MODEL,
  LAMBDA_S3_SPREAD_MODEL,
  type ModeledS3,
  startModeledS3,
} from './s3-model';
import { mean, percentile, summary } from './stats';
import { DIMENSIONS, EMBEDDER_NAME, generateCorpus, writeCorpusTable } from './vector-corpus';

const run = promisify(execFile);
const MB = 1_000_000;
export const BUCKET = 'bench-real';
export const TABLE = 'documents';
export const EMBEDDING_MODEL = 'text-embedding-3-small';
const RECALL_K = 10;
/** Questions come this often on a busy warm container after a re-sync, until one sees the new version (legacy mode). */
const BUSY_PACE_MS = 2_000;

/**
 * `BENCH_REAL_LEGACY=1`: the Retrieve path before issue 23 point 2, for comparison: no `tableVersion` in the input
 * (the container follows the latest version, a LIST once the read-consistency interval has passed) and no preload
 * at module load. Without it, each question carries the version the ingest recorded, read per question as Load
 * history reads it, and the container preloads its table (`RETRIEVE_PRELOAD=1`), as in Lambda.
 */
export function legacyMode(env: NodeJS.ProcessEnv): boolean {
  return env.BENCH_REAL_LEGACY === '1';
}

/**
 * Table sizes, in chunks: the table grows by syncs from one size to the next, as an organisation's does.
 * `BENCH_REAL_SIZES=10000,30000` sets others (ascending).
 */
export function realSizes(quick: boolean, env: NodeJS.ProcessEnv = process.env): number[] {
  const raw = env.BENCH_REAL_SIZES?.trim();
  if (raw === undefined || raw === '') return quick ? [2_000, 5_000] : [10_000, 50_000, 100_000];
  const sizes = raw.split(',').map((n) => Number(n.trim()));
  if (sizes.some((n, i) => !Number.isInteger(n) || n < 500 || (i > 0 && n <= (sizes[i - 1] as number))))
    throw new Error(`BENCH_REAL_SIZES must be ascending whole numbers of chunks from 500; got "${raw}"`);
  return sizes;
}

/**
 * A new Lambda container: a fresh Node process that loads the Retrieve production bundle (its init, which starts the
 * table's preload when `RETRIEVE_PRELOAD=1`), says so, then answers each question it is sent over IPC with the
 * handler (with the message's `tableVersion`, as the state machine passes Load history's, when there is one),
 * reporting the call's window (epoch ms, to attribute the S3 requests the proxy saw), its CPU time (every thread of
 * the process: `process.cpuUsage`), the CPU time since the process started, and the peak RSS.
 */
const CHILD = `
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const now = () => performance.timeOrigin + performance.now();
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const peak = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
let handler;
(async () => {
const loadStart = now();
// Lambda's handler: the init module beside the bundle (init.mjs, imported: its top-level await waits for the
// table's preload as Lambda's init does), or the bundle itself where there is none.
const file = process.argv[1];
const loaded = file.endsWith('.mjs') ? await import(require('node:url').pathToFileURL(file).href) : require(file);
handler = loaded.handler;
const loadEnd = now();
process.send({ ready: true, timeOrigin: performance.timeOrigin, loadStart, loadEnd, cpuMs: cpu() });
})();
let n = 0;
process.on('message', async ({ question, tableVersion, tableVersionBeforeFold, requestId, deadlineMs }) => {
  const i = n++;
  const turn = { intent: 'question', eventId: 'EvReal' + i, teamId: 'T0LOCAL001', channel: 'C0BENCH0023',
    threadTs: '1.000001', messageTs: '1.000001', user: 'U0HUMAN001', question, placeholderTs: '1.000002' };
  const input = { turn, question, executionName: 'retrieval-real-' + i };
  if (tableVersion !== undefined) input.tableVersion = tableVersion;
  if (tableVersionBeforeFold !== undefined) input.tableVersionBeforeFold = tableVersionBeforeFold;
  const start = now();
  const cpu0 = cpu();
  try {
    // Lambda's context: the time left, and the request id the extension's INVOKE event carries too.
    const context = deadlineMs === undefined ? undefined
      : { getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()), awsRequestId: requestId };
    const result = await handler(input, context);
    const end = now();
    process.send({ start, end, cpuMs: cpu() - cpu0, totalCpuMs: cpu(), peak: peak(), status: result.status,
      search: result.search, passages: result.passages.length });
  } catch (error) {
    process.send({ error: String((error && error.stack) || error) });
  }
});
`;

interface Ready {
  timeOrigin: number;
  loadStart: number;
  loadEnd: number;
  cpuMs: number;
}

interface Answer {
  /** The version the question carried (null: none recorded; absent: legacy mode, none passed). */
  tableVersion?: number | null;
  start: number;
  end: number;
  /**
   * When the invocation ended: its extension (after-response.ts) called Next again, so Lambda would freeze the
   * environment. `end` where no extension runs.
   */
  invocationEnd: number;
  cpuMs: number;
  totalCpuMs: number;
  peak: number;
  status: string;
  search: string;
  passages: number;
}

/** What the S3 proxy saw during one question. */
export interface QuestionReads {
  /** The `tableVersion` the question carried (see {@link Answer}). */
  tableVersion?: number | null;
  ms: number;
  cpuMs: number;
  gets: number;
  lists: number;
  /** The prefix each LIST asked for, in order: which call listed what. */
  listPrefixes: string[];
  bytes: number;
  /** The longest chain of requests each sent after the previous one's response ended: round trips waited in turn. */
  depth: number;
  /** Connections the question opened (client ports the proxy had not seen before). */
  newConnections: number;
  /** Requests under the full-text index's folder. */
  fullText: { gets: number; bytes: number; depth: number };
  vectorIndexBytes: number;
}

export interface IndexFolders {
  fullText: string[];
  vector: string[];
}

/**
 * A Retrieve container under Lambda's CPU share, its table on the modelled S3. `tableVersion`, when given, is read
 * before each question (as Load history reads the record for each execution; not timed) and sent with it.
 */
export async function startContainer(
  bundle: string,
  env: Record<string, string>,
  share: number,
  tableVersion?: () => Promise<number | RecordedTableVersion | null>,
  options: { freezeBetween?: boolean; initShare?: number; afterResponse?: boolean } = {},
): Promise<{
  /** Whether the container's extension took part (Lambda's Runtime API given, the extension registered). */
  extension: boolean;
  spawnedAt: number;
  ready: Ready;
  method: QuotaMethod;
  ask(question: string): Promise<Answer>;
  close(): Promise<void>;
}> {
  // Lambda's Runtime API for the container's extension (after-response.ts), as a frozen-between-questions container
  // runs in Lambda; `afterResponse: false` or BENCH_AFTER_RESPONSE=0 leaves it out, as before the extension.
  const api: LambdaRuntimeApi | undefined =
    options.freezeBetween === true && (options.afterResponse ?? process.env.BENCH_AFTER_RESPONSE !== '0')
      ? await startLambdaRuntimeApi({ functionName: 'Retrieve' })
      : undefined;
  const spawnedAt = performance.timeOrigin + performance.now();
  const quota = await spawnWithCpuShare(
    process.execPath,
    ['-e', CHILD, bundle],
    {
      env: api === undefined ? env : { ...env, AWS_LAMBDA_RUNTIME_API: api.address },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    },
    share,
    // A function whose share is above a vCPU (over 1,769 MB) keeps it in its init too.
    options.initShare === undefined ? {} : { initShare: Math.max(options.initShare, share) },
  );
  const { child } = quota;
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the container exited (${code}): ${stderr.join('')}`));
      child.once('exit', onExit);
      child.once('message', (message: Record<string, unknown>) => {
        child.off('exit', onExit);
        resolve(message);
      });
    });
  // A container that fails its init is ended here, its cgroup removed: the caller gets no handle to close.
  const ready = (await next().catch(async (error: unknown) => {
    await quota.release();
    await api?.close();
    throw error;
  })) as unknown as Ready;
  // Lambda's init ends when the runtime and every extension have asked for their next event.
  await api?.initDone();
  // The init is over (the bundle has loaded): from here on, the function's own share.
  if (options.initShare !== undefined) await quota.setShare?.(share);
  // Lambda freezes the environment between invocations: with `freezeBetween`, the process is stopped from the end of
  // its init (and of each answer) until the next question is sent, so work left running behind an answer (an index
  // load) goes on only while a question runs, as there. Not with the duty-cycle fallback, whose own SIGCONTs would
  // thaw it.
  const freezes = options.freezeBetween === true && quota.method !== 'duty-cycle SIGSTOP/SIGCONT';
  const freeze = (signal: 'SIGSTOP' | 'SIGCONT') => {
    if (freezes && child.pid !== undefined && child.exitCode === null) child.kill(signal);
  };
  freeze('SIGSTOP');
  const timeoutMs = conversationFunctions.RetrieveFunctionArn.timeoutSeconds * 1000;
  let invocations = 0;
  return {
    extension: api !== undefined && api.extensions.length > 0,
    spawnedAt,
    ready,
    method: quota.method,
    async ask(question) {
      const recorded = tableVersion === undefined ? undefined : await tableVersion();
      const version = typeof recorded === 'object' && recorded !== null ? recorded.version : recorded;
      const beforeFold = typeof recorded === 'object' ? recorded?.beforeFold : undefined;
      const requestId = `bench-${++invocations}`;
      const deadlineMs = Date.now() + timeoutMs;
      const invocation = api?.invoke(requestId, deadlineMs);
      const reply = next();
      freeze('SIGCONT');
      child.send({
        question,
        ...(version === undefined ? {} : { tableVersion: version }),
        ...(beforeFold === undefined ? {} : { tableVersionBeforeFold: beforeFold }),
        ...(api === undefined ? {} : { requestId, deadlineMs }),
      });
      const answer = await reply;
      // The work after the answer (an index load), until the extension lets Lambda freeze the environment.
      if (invocation !== undefined) await invocation.ended;
      answer.invocationEnd = performance.timeOrigin + performance.now();
      freeze('SIGSTOP');
      if (typeof answer.error === 'string') throw new Error(`Retrieve failed: ${answer.error}`);
      if (answer.status !== 'ok') throw new Error(`Retrieve found no table: ${String(answer.status)}`);
      return {
        ...(answer as unknown as Answer),
        ...(version === undefined ? {} : { tableVersion: version }),
      };
    },
    close: async () => {
      freeze('SIGCONT');
      await quota.release();
      await api?.close();
    },
  };
}

/**
 * The requests of one question: those that arrived from `from` (the question's start, or, for a new container's
 * first question, the process's spawn, so that the preload's reads during init count) to its answer.
 */
export function readsOf(
  s3: ModeledS3,
  answer: Answer,
  folders: IndexFolders,
  seenPorts: Set<number>,
  from: number = answer.start,
): QuestionReads {
  const inside = s3.log.filter((r) => r.at >= from && r.at <= answer.end);
  const fullText = inside.filter((r) => folders.fullText.some((f) => r.key.includes(f)));
  const ports = new Set(inside.map((r) => r.port));
  let newConnections = 0;
  for (const port of ports) if (!seenPorts.has(port)) newConnections += 1;
  for (const port of ports) seenPorts.add(port);
  const lists = inside.filter((r) => r.kind === 'list');
  return {
    ...(answer.tableVersion === undefined ? {} : { tableVersion: answer.tableVersion }),
    ms: answer.end - answer.start,
    cpuMs: answer.cpuMs,
    gets: inside.filter((r) => r.kind === 'get').length,
    lists: lists.length,
    listPrefixes: lists.map((r) => r.prefix ?? `(${r.key})`),
    bytes: inside.reduce((n, r) => n + r.bytes, 0),
    depth: dependentDepth(inside),
    newConnections,
    fullText: {
      gets: fullText.length,
      bytes: fullText.reduce((n, r) => n + r.bytes, 0),
      depth: dependentDepth(fullText),
    },
    vectorIndexBytes: inside
      .filter((r) => folders.vector.some((f) => r.key.includes(f)))
      .reduce((n, r) => n + r.bytes, 0),
  };
}

/**
 * The requests that arrived from `from` to `to` (epoch ms), one JSON line each: when each was sent and ended in ms
 * from `from`, its kind, key (below the table's folder) and bytes; to see which reads wait on which.
 */
export function requestLines(s3: ModeledS3, from: number, to: number): string[] {
  const rel = (t: number) => Math.round(t - from);
  return s3.log
    .filter((r) => r.at >= from && r.at <= to)
    .map((r) =>
      JSON.stringify({
        at: rel(r.at),
        end: r.end === undefined ? null : rel(r.end),
        kind: r.kind,
        key: r.key.replace(/^.*?real\//, ''),
        bytes: r.bytes,
        port: r.port,
      }),
    );
}

/** `BENCH_TRACE_RESYNC=<file>`: appends each question asked after the re-sync, with its requests, to `file`. */
async function traceRequests(file: string, s3: ModeledS3, answer: Answer, label: string): Promise<void> {
  const lines = [
    JSON.stringify({ label, ms: Math.round(answer.end - answer.start) }),
    ...requestLines(s3, answer.start, answer.end),
  ];
  await appendFile(file, `${lines.join('\n')}\n`);
}

/** The index folders (`_indices/<uuid>/`) and facts of the table's current version, read from the writer's disk. */
export async function tableFacts(dir: string, embedderName: string) {
  const connection = await connectVectorStore(dir);
  try {
    const handle = await openDocumentTable(connection, {
      table: TABLE,
      embedderName,
      dimensions: DIMENSIONS,
      embeddings: new LocalHashEmbeddings({ dimensions: DIMENSIONS }),
    });
    if (handle === undefined) throw new Error(`no table at ${dir}`);
    const indexes = await handle.table.listIndices();
    const folder = (uuid: string | undefined) => `_indices/${uuid ?? 'none'}/`;
    const facts = {
      rows: await handle.table.countRows(),
      version: await handle.table.version(),
      versions: (await handle.table.listVersions()).length,
      indexes: await Promise.all(
        indexes.map(async (i) => {
          // Rows the index does not cover yet, and the parts (deltas) it is made of, as the ingest left it.
          const stats = await handle.table.indexStats(i.name);
          return {
            name: i.name,
            type: i.indexType,
            bytes: i.sizeBytes ?? 0,
            unindexedRows: stats?.numUnindexedRows ?? 0,
            parts: stats?.numIndices ?? 1,
          };
        }),
      ),
      folders: {
        fullText: indexes.filter((i) => i.indexType === 'FTS').map((i) => folder(i.indexUuid)),
        vector: indexes.filter((i) => i.columns.includes('vector')).map((i) => folder(i.indexUuid)),
      },
      stats: await handle.table.stats(),
    };
    handle.close();
    return facts;
  } finally {
    connection.close();
  }
}

/**
 * Recall@10 of the product's vector and hybrid searches against exact ones (the vector index bypassed). With
 * `inMemory`, searched as a container holding the indexes in memory searches them (more partitions probed).
 */
export async function recallOf(
  dir: string,
  questions: readonly string[],
  options: { inMemory?: boolean } = {},
): Promise<{ vector: number; hybrid: number }> {
  const connection = await connectVectorStore(dir);
  const embeddings = new LocalHashEmbeddings({ dimensions: DIMENSIONS });
  try {
    const handle = await openDocumentTable(connection, {
      table: TABLE,
      embedderName: EMBEDDING_MODEL,
      dimensions: DIMENSIONS,
      embeddings,
    });
    if (handle === undefined) throw new Error(`no table at ${dir}`);
    const searched = options.inMemory ? { ...handle, indexesInMemory: () => true } : handle;
    const columns = ['text', 'source', 'title', 'heading'];
    type Row = { text: string; source: string; heading: string };
    const key = (r: Row) => `${r.source}\u0000${r.heading}\u0000${r.text}`;
    let vectorHits = 0;
    let hybridHits = 0;
    for (const question of questions) {
      const vector = await embeddings.embedQuery(question);
      const exact: Row[] = await handle.table
        .query()
        .nearestTo(vector)
        .distanceType('cosine')
        .bypassVectorIndex()
        .limit(RECALL_K)
        .select([...columns, '_distance'])
        .toArray();
      const matched: Row[] = await handle.table
        .query()
        .fullTextSearch(question, { columns: 'text' })
        .limit(RECALL_K)
        .select([...columns, '_score'])
        .toArray();
      const exactHybrid = new Set(fuseByRank([exact, matched], RECALL_K, key).map(({ row }) => key(row)));
      const exactVector = new Set(exact.map(key));
      const asKey = (p: { source: string; heading: string; text: string }) => key(p);
      const found = await searchPassages(searched, {
        queryText: '',
        queryVector: vector,
        k: RECALL_K,
        maxPassageChars: 1e9,
      });
      vectorHits += found.passages.filter((p) => exactVector.has(asKey(p))).length;
      const hybrid = await searchPassages(searched, {
        queryText: question,
        queryVector: vector,
        k: RECALL_K,
        maxPassageChars: 1e9,
      });
      hybridHits += hybrid.passages.filter((p) => exactHybrid.has(asKey(p))).length;
    }
    handle.close();
    return {
      vector: vectorHits / (questions.length * RECALL_K),
      hybrid: hybridHits / (questions.length * RECALL_K),
    };
  } finally {
    connection.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ColdRun {
  method: QuotaMethod;
  /** Process start (spawn) to the first answer. */
  firstFromStartMs: number;
  /** CPU time of the process from its start to the first answer. */
  firstFromStartCpuMs: number;
  loadMs: number;
  /** From the process's spawn to the first answer: the preload's reads during init included. */
  first: QuestionReads;
  /** Of `first`, the requests that arrived before the question was sent (the preload's, during init). */
  beforeFirst: { gets: number; lists: number; bytes: number };
  warm: QuestionReads[];
  peakRss: number;
}

export interface LiveRun extends ColdRun {
  resync?: {
    syncMs: number;
    changed: number;
    uploaded: number;
    deleted: number;
    uploadedBytes: number;
    /** The version the ingest recorded after the re-sync (what the next question carries), and its table's latest. */
    recordedVersion: number | null;
    tableVersion: number;
  };
  /**
   * The questions after the re-sync: the first one, when versions are passed; in legacy mode, questions every 2 s
   * until one read the new version.
   */
  busyAfterResync: QuestionReads[];
  firstAfterResync?: QuestionReads;
  /** The next question after each further re-sync (`BENCH_RESYNCS`). */
  moreResyncs: QuestionReads[];
  /** With `BENCH_EMBED_MS`: those questions' times, and a warm question's after each, all with that embedding call. */
  embedDelayed?: { ms: number; resynced: number[]; warm: number[] };
  /** Questions each more than the read-consistency interval after the one before. */
  spaced: QuestionReads[];
}

async function coldAndWarm(
  s3: ModeledS3,
  container: Awaited<ReturnType<typeof startContainer>>,
  questions: readonly string[],
  folders: IndexFolders,
  seenPorts: Set<number>,
): Promise<ColdRun> {
  const [firstQuestion, ...rest] = questions;
  const firstAnswer = await container.ask(firstQuestion as string);
  const first = readsOf(s3, firstAnswer, folders, seenPorts, container.spawnedAt);
  const early = s3.log.filter((r) => r.at >= container.spawnedAt && r.at < firstAnswer.start);
  const beforeFirst = {
    gets: early.filter((r) => r.kind === 'get').length,
    lists: early.filter((r) => r.kind === 'list').length,
    bytes: early.reduce((n, r) => n + r.bytes, 0),
  };
  const warm: QuestionReads[] = [];
  let peak = firstAnswer.peak;
  for (const question of rest) {
    const answer = await container.ask(question);
    warm.push(readsOf(s3, answer, folders, seenPorts));
    peak = Math.max(peak, answer.peak);
  }
  return {
    method: container.method,
    firstFromStartMs: firstAnswer.end - container.spawnedAt,
    firstFromStartCpuMs: firstAnswer.totalCpuMs,
    loadMs: container.ready.loadEnd - container.ready.loadStart,
    first,
    beforeFirst,
    warm,
    peakRss: peak,
  };
}

/**
 * How a container is run like Lambda's: frozen between questions, and its init (the handler module's load, the
 * table's preload included) at a full vCPU ({@link LAMBDA_INIT_SHARE}), then the function's share.
 * `BENCH_INIT_SHARE=function` holds the init to the function's share too (the pessimistic reading).
 */
export function lambdaLike(env: NodeJS.ProcessEnv = process.env): {
  freezeBetween: true;
  initShare?: number;
} {
  return env.BENCH_INIT_SHARE === 'function'
    ? { freezeBetween: true }
    : { freezeBetween: true, initShare: LAMBDA_INIT_SHARE };
}

/**
 * The Retrieve function's memory the bench measures: `BENCH_RETRIEVE_MEMORY_MB` (as `bot:retrieveMemoryMb` deploys it),
 * else the function's own. It sets the container's CPU share and, through `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` as Lambda
 * sets it, LanceDB's caches.
 */
export function benchRetrieveMemoryMb(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BENCH_RETRIEVE_MEMORY_MB;
  if (raw === undefined || raw.trim() === '') return conversationFunctions.RetrieveFunctionArn.memoryMb;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 128 || value > 10_240)
    throw new Error(`BENCH_RETRIEVE_MEMORY_MB must be a whole number of MB from 128 to 10240; got "${raw}"`);
  return value;
}

export function containerEnv(
  s3: ModeledS3,
  prefix: string,
  openaiUrl: string,
  model: string,
  preload: boolean,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    // Lambda's init preloads the table (AWS_LAMBDA_FUNCTION_NAME is set there); a fresh Node process is told to.
    RETRIEVE_PRELOAD: preload ? '1' : '0',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(benchRetrieveMemoryMb()),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    LOG_LEVEL: 'silent',
    POWERTOOLS_METRICS_DISABLED: 'true',
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-bench-not-a-key',
    OPENAI_BASE_URL: openaiUrl,
    OPENAI_EMBEDDING_MODEL: model,
    LANCEDB_URI: `s3://${BUCKET}/${prefix}`,
    LANCEDB_TABLE: TABLE,
    S3_ENDPOINT: s3.endpoint,
    // When the container loads its indexes: its own default unless the bench is run with RETRIEVE_PREWARM set.
    ...(process.env.RETRIEVE_PREWARM ? { RETRIEVE_PREWARM: process.env.RETRIEVE_PREWARM } : {}),
    // LanceDB's thread settings, as every process of the product gets them.
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => e[0].startsWith('LANCE') && e[1] !== undefined,
      ),
    ),
  };
}

export interface SizeResult {
  target: number;
  /** The version the ingest recorded last (null: none), and the table's latest, for the record. */
  recordedVersion: number | null;
  chunks: number;
  documents: number;
  distinctTerms: number;
  syncMs: number;
  facts: Awaited<ReturnType<typeof tableFacts>>;
  live: LiveRun;
  constant: ColdRun;
  recall: { vector: number; hybrid: number };
}

/**
 * Section: retrieval on S3 over real text. The corpus is the documentation shipped on this machine (real-corpus.ts),
 * synced by the ingest state machine (statemachine/ingest.asl.json on the local executor, the fake OpenAI
 * embedding), growing from one size to the next by syncs, its table left as the ingest leaves it (versions kept,
 * deltas, the Optimize step's indexes) and mirrored file for file onto the modelled S3. At each size a new Retrieve
 * container (the production bundle in a fresh Node process, under Lambda's CPU share for its memory) answers a first
 * question, warm ones, then, after a re-sync of a few edited documents, the next question (in legacy mode, questions
 * every 2 s until one reads the new version), then questions spaced beyond the read-consistency interval. Each
 * question carries the table version the ingest recorded and the container preloads its table at init, as in Lambda
 * (`legacyMode` turns both off); S3's time to first byte drawn from a
 * lognormal spread. A second container answers the first and warm questions with the constant latency. Baseline: the
 * bench's generated corpus, built as the retrievalS3 section builds it, at one size.
 */
/** The run's shared parts: the corpus being written, the ingest that syncs it, the Retrieve bundle, the modelled S3. */
export interface RealRig {
  root: string;
  corpusDir: string;
  lancedbDir: string;
  written: { chunks: number; written: CorpusDocument[] };
  generator: AsyncIterator<CorpusDocument>;
  sources: number;
  openai: Awaited<ReturnType<typeof startFakeOpenAI>>;
  ingest: Awaited<ReturnType<typeof startLocalIngest>>;
  bundle: string;
  s3: ModeledS3;
  share: number;
  memoryMb: number;
  consistencyMs: number;
  legacy: boolean;
  /** Syncs the corpus directory through the ingest state machine; fails unless it committed. */
  sync(
    label: string,
    onProgress?: Parameters<typeof startLocalIngest>[0]['onProgress'],
  ): Promise<{ ms: number; report: NonNullable<Awaited<ReturnType<RealRig['ingest']['sync']>>['report']> }>;
  /** The version the ingest recorded last, as Load history reads it (null: none). */
  recordedVersion(): Promise<number | null>;
  /**
   * What each question carries: the recorded version, and the version its fold started from (undefined in legacy
   * mode: none passed; `BENCH_BEFORE_FOLD=0`: never the version before a fold, as before the reader served it).
   */
  versionsForReal: (() => Promise<RecordedTableVersion>) | undefined;
  close(): Promise<void>;
}

/**
 * Starts the rig under `<workDir>/<name>`: reads the documentation on this machine (`manPages` man pages), the fake
 * OpenAI, the ingest state machine on loopback (dynalite, rows staged on disk, LanceDB on local disk), the Retrieve
 * bundle and the modelled S3 (latency spread).
 */
export async function startRealRig(
  ctx: BenchContext,
  name: string,
  options: {
    manPages: number;
    ingestEnv?: Record<string, string>;
    /**
     * Runs some ingest steps elsewhere than in this process (startLocalIngest's option); a process of its own must
     * work in the rig's directory (`<workDir>/<name>`), which local sources are named relative to.
     */
    runFunction?: Parameters<typeof startLocalIngest>[0]['runFunction'];
  },
): Promise<RealRig> {
  const memoryMb = benchRetrieveMemoryMb();
  const config = loadConfig({ LLM_PROVIDER: 'local' });
  const root = join(ctx.workDir, name);
  const corpusDir = join(root, 'corpus');
  const lancedbDir = join(root, 'lancedb');
  await mkdir(corpusDir, { recursive: true });
  ctx.log(`${name}: reading the documentation on this machine`);
  const sources = await collectSources({ manPages: options.manPages });
  const generator = corpusDocuments(
    sources,
    await chunkCounter(config.ingest.chunkSize, config.ingest.chunkOverlap),
  )[Symbol.asyncIterator]();
  const openai = await startFakeOpenAI();
  const env = {
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-bench-not-a-key',
    OPENAI_BASE_URL: openai.url,
    OPENAI_EMBEDDING_MODEL: EMBEDDING_MODEL,
    ...options.ingestEnv,
  };
  let progress: Parameters<typeof startLocalIngest>[0]['onProgress'];
  const ingest = await startLocalIngest({
    lancedbUri: lancedbDir,
    stagingUri: join(root, 'staging'),
    baseDir: root,
    env,
    store: 'dynalite',
    onProgress: (event) => progress?.(event),
    ...(options.runFunction === undefined ? {} : { runFunction: options.runFunction }),
  });
  ctx.log(`${name}: bundling the Retrieve function`);
  const bundle = await bundleRetrieve(ctx.workDir);
  const s3 = await startModeledS3(BUCKET, LAMBDA_S3_SPREAD_MODEL);
  const legacy = legacyMode(process.env);
  // The version the ingest's Commit and Optimize recorded (TABLEVERSION# in the conversation table, dynalite here),
  // read as Load history reads it for each execution: the ingest's runtime names the same item (its LanceDB URI is
  // the writer's directory, whose files the modelled S3 mirrors, versions included). In legacy mode, none is passed.
  const recordedVersion = async (): Promise<number | null> =>
    (await ingest.runtime.tableVersions()?.read())?.version ?? null;
  return {
    root,
    corpusDir,
    lancedbDir,
    written: { chunks: 0, written: [] },
    generator,
    sources: sources.length,
    openai,
    ingest,
    bundle,
    s3,
    share: lambdaCpuShare(memoryMb),
    memoryMb,
    consistencyMs: config.vectorStore.readConsistencySeconds * 1000,
    legacy,
    async sync(label, onProgress) {
      const started = performance.now();
      progress = onProgress;
      try {
        const result = await ingest.sync({ origins: ['corpus'], prune: true });
        if (result.status !== 'committed' || result.report === undefined)
          throw new Error(`the ${label} did not commit: ${result.error ?? result.status}`);
        return { ms: performance.now() - started, report: result.report };
      } finally {
        progress = undefined;
      }
    },
    recordedVersion,
    versionsForReal: legacy
      ? undefined
      : async () => {
          const recorded = await ingest.runtime.tableVersions()?.read();
          if (recorded === undefined)
            throw new Error('the ingest recorded no table version: nothing to pass to Retrieve');
          return process.env.BENCH_BEFORE_FOLD === '0' ? { version: recorded.version } : recorded;
        },
    async close() {
      await s3.close();
      await ingest.close();
      await openai.close();
    },
  };
}

/** How much each size is asked. */
export interface AskCounts {
  warm: number;
  spaced: number;
  recall: number;
  changedDocuments: number;
}

export function askCounts(quick: boolean): AskCounts {
  return { warm: quick ? 15 : 40, spaced: quick ? 1 : 3, recall: quick ? 20 : 50, changedDocuments: 5 };
}

/**
 * Everything measured at one size, once the table holds it (synced, mirrored): a new container with the latency
 * spread (first, warm, a re-sync, the next question, spaced ones), a second with the constant latency, and recall.
 */
export async function measureSize(
  ctx: BenchContext,
  rig: RealRig,
  at: { label: string; seed: number; counts: AskCounts },
): Promise<Pick<SizeResult, 'facts' | 'live' | 'constant' | 'recall'>> {
  const { label, counts } = at;
  const { s3, written, corpusDir, lancedbDir, legacy } = rig;
  const spacing = rig.consistencyMs + 5_000;
  await s3.mirrorDirectory(lancedbDir, 'real');
  const facts = await tableFacts(lancedbDir, EMBEDDING_MODEL);
  const questions = personQuestions(
    written.written,
    2 * (1 + counts.warm) + 40 + counts.spaced + counts.recall,
    at.seed,
  );
  const take = (n: number) => questions.splice(0, n);
  const seenPorts = new Set<number>();
  const prefix = label;
  // A new container on the table, its S3 requests logged afresh under `model`.
  const newContainer = (model: typeof LAMBDA_S3_MODEL) => {
    s3.setModel(model);
    s3.reset();
    return startContainer(
      retrieveHandlerFile(rig.bundle),
      containerEnv(s3, 'real', rig.openai.url, EMBEDDING_MODEL, !legacy),
      rig.share,
      rig.versionsForReal,
      lambdaLike(),
    );
  };
  ctx.log(`${prefix}: a new container, S3 latency spread, first and ${counts.warm} warm questions`);
  const container = await newContainer(LAMBDA_S3_SPREAD_MODEL);
  let live: LiveRun;
  try {
    const cold = await coldAndWarm(s3, container, take(1 + counts.warm), facts.folders, seenPorts);
    ctx.log(
      `${prefix}: re-sync of ${counts.changedDocuments} edited documents, then ${legacy ? 'questions every 2 s' : 'the next question'}`,
    );
    const lastWarmEnd = performance.timeOrigin + performance.now();
    // The documents every re-sync edits: the same ones each time.
    const edited = (i: number) =>
      written.written[Math.floor((i * written.written.length) / counts.changedDocuments)] as CorpusDocument;
    for (let i = 0; i < counts.changedDocuments; i++) {
      const doc = edited(i);
      const other = written.written[(i * 7919) % written.written.length] as CorpusDocument;
      const addition =
        other.markdown
          .split('\n---\n')[1]
          ?.split('\n\n')
          .find((p) => p.length > 200) ?? other.title;
      await writeFile(join(corpusDir, doc.name), `${doc.markdown}\n## Update ${i + 1}\n\n${addition}\n`);
    }
    const resynced = await rig.sync('re-sync');
    const mirrored = await s3.mirrorDirectory(lancedbDir, 'real');
    // The proxy logs path-style keys, under the bucket.
    const newKeys = new Set(mirrored.uploaded.map((key) => `${BUCKET}/${key}`));
    const after = await tableFacts(lancedbDir, EMBEDDING_MODEL);
    const recordedAfter = await rig.recordedVersion();
    const busy: QuestionReads[] = [];
    let firstAfterResync: QuestionReads | undefined;
    // The same questions are drawn in both modes, so the later ones do not change with it.
    const busyQuestions = take(40);
    // With versions passed, the very next question carries the new one: it is the one measured, whether or
    // not it read the new version's files (if not, the report says none did). In legacy mode, LanceDB looks
    // for a new version once the read-consistency interval has passed: questions every 2 s until one reads it.
    const busyLimit = legacy ? busyQuestions.length : 1;
    while (firstAfterResync === undefined && busy.length < busyLimit) {
      const started = performance.now();
      const answer = await container.ask(busyQuestions.shift() as string);
      const reads = readsOf(s3, answer, after.folders, seenPorts);
      busy.push(reads);
      const sawNew = s3.log.some((r) => r.at >= answer.start && r.at <= answer.end && newKeys.has(r.key));
      if (process.env.BENCH_TRACE_RESYNC)
        await traceRequests(process.env.BENCH_TRACE_RESYNC, s3, answer, prefix);
      if (sawNew) firstAfterResync = reads;
      else if (answer.end - lastWarmEnd > rig.consistencyMs + 20_000) break;
      else if (busy.length < busyLimit)
        await sleep(Math.max(0, BUSY_PACE_MS - (performance.now() - started)));
    }
    // BENCH_RESYNCS=n: n re-syncs in all, each of the same documents edited again (so the unindexed tail keeps its
    // size and no Optimize folds it in, unless BENCH_RESYNC_FOLDS=1), each followed by one question: the next
    // question's spread, not one draw.
    const moreResyncs: QuestionReads[] = [];
    const resyncs = legacy ? 1 : Math.max(1, Number.parseInt(process.env.BENCH_RESYNCS ?? '1', 10) || 1);
    // BENCH_EMBED_MS=n: the further re-syncs' questions wait n ms for their embedding call, as OpenAI's or Bedrock's
    // takes (the fake answers at once otherwise), each followed by a warm question waiting as long: what a sync adds
    // when the table's new version is read during that call.
    const embedMs = Number.parseInt(process.env.BENCH_EMBED_MS ?? '0', 10) || 0;
    const embedDelayed = embedMs > 0 ? { resynced: [] as number[], warm: [] as number[] } : undefined;
    const askEmbedding = async (question: string) => {
      if (embedMs > 0) rig.openai.delayNext({ ms: embedMs, path: '/v1/embeddings' });
      return container.ask(question);
    };
    for (let r = 1; r < resyncs && busyQuestions.length > 0; r++) {
      for (let i = 0; i < counts.changedDocuments; i++) {
        const doc = edited(i);
        await writeFile(
          join(corpusDir, doc.name),
          `${doc.markdown}\n## Update ${i + 1}.${r}\n\n${doc.title}\n`,
        );
      }
      await rig.sync(`re-sync ${r + 1}`);
      await s3.mirrorDirectory(lancedbDir, 'real');
      const folders = (await tableFacts(lancedbDir, EMBEDDING_MODEL)).folders;
      const answer = await askEmbedding(busyQuestions.shift() as string);
      if (process.env.BENCH_TRACE_RESYNC)
        await traceRequests(process.env.BENCH_TRACE_RESYNC, s3, answer, `${prefix} re-sync ${r + 1}`);
      moreResyncs.push(readsOf(s3, answer, folders, seenPorts));
      if (embedDelayed !== undefined && busyQuestions.length > 0) {
        embedDelayed.resynced.push(moreResyncs.at(-1)?.ms as number);
        const warm = await askEmbedding(busyQuestions.shift() as string);
        if (process.env.BENCH_TRACE_RESYNC)
          await traceRequests(process.env.BENCH_TRACE_RESYNC, s3, warm, `${prefix} after re-sync ${r + 1}`);
        embedDelayed.warm.push(readsOf(s3, warm, folders, seenPorts).ms);
      }
    }
    ctx.log(`${prefix}: ${counts.spaced} question(s) ${spacing / 1000} s apart`);
    const spaced: QuestionReads[] = [];
    for (const question of take(counts.spaced)) {
      await sleep(spacing);
      spaced.push(readsOf(s3, await container.ask(question), after.folders, seenPorts));
    }
    live = {
      ...cold,
      resync: {
        syncMs: resynced.ms,
        changed: counts.changedDocuments,
        uploaded: mirrored.uploaded.length,
        deleted: mirrored.deleted,
        uploadedBytes: mirrored.bytes,
        recordedVersion: recordedAfter,
        tableVersion: after.version,
      },
      busyAfterResync: busy,
      ...(firstAfterResync === undefined ? {} : { firstAfterResync }),
      moreResyncs,
      ...(embedDelayed === undefined ? {} : { embedDelayed: { ms: embedMs, ...embedDelayed } }),
      spaced,
    };
  } finally {
    await container.close();
  }
  const afterFacts = await tableFacts(lancedbDir, EMBEDDING_MODEL);
  ctx.log(`${prefix}: a new container, constant S3 latency`);
  const constantContainer = await newContainer(LAMBDA_S3_MODEL);
  let constant: ColdRun;
  try {
    constant = await coldAndWarm(s3, constantContainer, take(1 + counts.warm), afterFacts.folders, new Set());
  } finally {
    await constantContainer.close();
  }
  ctx.log(`${prefix}: recall@${RECALL_K} of vector and hybrid search against exact`);
  const recall = await recallOf(lancedbDir, take(counts.recall));
  ctx.log(
    `${prefix}: first question ${Math.round(live.firstFromStartMs)} ms from process start ` +
      `(${Math.round(live.firstFromStartCpuMs)} ms CPU, load ${Math.round(live.loadMs)} ms), ` +
      `${(live.first.bytes / MB).toFixed(1)} MB in ${live.first.gets} GETs and ${live.first.lists} LISTs, depth ${live.first.depth}; ` +
      `full text ${(live.first.fullText.bytes / MB).toFixed(1)} MB in ${live.first.fullText.gets} GETs; ` +
      `warm p50 ${Math.round(
        percentile(
          live.warm.map((w) => w.ms),
          50,
        ),
      )} ms; ` +
      `after re-sync ${live.firstAfterResync ? `${Math.round(live.firstAfterResync.ms)} ms, ${(live.firstAfterResync.bytes / MB).toFixed(1)} MB, ${live.firstAfterResync.lists} LISTs` : 'not seen'} ` +
      `(question ${live.busyAfterResync.length} after it); ` +
      `spaced ${live.spaced.map((q) => `${Math.round(q.ms)} ms, ${q.lists} LISTs`).join('; ')}; ` +
      `recall vector ${recall.vector.toFixed(3)}, hybrid ${recall.hybrid.toFixed(3)}`,
  );
  return { facts: afterFacts, live, constant, recall };
}

export async function benchRetrievalReal(ctx: BenchContext): Promise<SectionResult> {
  const sizes = realSizes(ctx.quick);
  const counts = askCounts(ctx.quick);
  const rig = await startRealRig(ctx, 'retrievalReal', {
    manPages: ctx.quick ? 20 : 120,
    // BENCH_RESYNC_FOLDS=1: every sync folds its rows into the indexes (INGEST_INDEX_TAIL_ROWS=0), so each re-sync's
    // next question is the one after a fold, and the warm question after it (BENCH_EMBED_MS) the one after that.
    ...(process.env.BENCH_RESYNC_FOLDS === '1' ? { ingestEnv: { INGEST_INDEX_TAIL_ROWS: '0' } } : {}),
  });
  const { s3, openai, bundle, share, memoryMb, legacy } = rig;
  const results: SizeResult[] = [];
  let baseline:
    | { rows: number; distinctTerms: number; facts: Awaited<ReturnType<typeof tableFacts>>; run: ColdRun }
    | undefined;
  try {
    for (const [sizeIndex, target] of sizes.entries()) {
      const label = `retrievalReal: ${target.toLocaleString('en')} chunks`;
      ctx.log(`${label}: writing documents and syncing them`);
      await writeUntil(rig.corpusDir, rig.generator, target, rig.written);
      const synced = await rig.sync(`sync to ${target.toLocaleString('en')} chunks`);
      const measured = await measureSize(ctx, rig, { label, seed: 1000 + sizeIndex, counts });
      results.push({
        target,
        recordedVersion: await rig.recordedVersion(),
        chunks: synced.report.chunks,
        documents: rig.written.written.length,
        distinctTerms: distinctTerms(rig.written.written.map((d) => d.markdown)),
        syncMs: synced.ms,
        ...measured,
      });
    }

    const baselineRows = ctx.quick ? (sizes[0] as number) : 50_000;
    ctx.log(`retrievalReal: baseline, the generated corpus at ${baselineRows.toLocaleString('en')} chunks`);
    const generated = generateCorpus(baselineRows);
    const generatedDir = join(rig.root, 'generated');
    const connection = await connectVectorStore(generatedDir);
    try {
      (
        await writeCorpusTable(connection, TABLE, generated, baselineRows, {
          collections: ['team-a', 'team-b', 'team-c', 'team-d'],
        })
      ).close();
    } finally {
      connection.close();
    }
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'scripts/bench/build-indexes.ts'),
        generatedDir,
        TABLE,
        '--as-ingest',
      ],
      { cwd: REPO_ROOT, maxBuffer: 1 << 20, env: { ...process.env, LLM_PROVIDER: 'local' } },
    );
    await s3.mirrorDirectory(generatedDir, 'generated');
    const facts = await tableFacts(generatedDir, EMBEDDER_NAME);
    s3.setModel(LAMBDA_S3_SPREAD_MODEL);
    s3.reset();
    const texts = generated.queries(1 + counts.warm, 23).texts.map((t, i) => `What about ${t} (${i})?`);
    // Not written by the ingest, so nothing recorded its version: the container is given the table's latest, the
    // one an ingest would have recorded, so that the baseline runs the same path.
    const container = await startContainer(
      retrieveHandlerFile(bundle),
      containerEnv(s3, 'generated', openai.url, EMBEDDER_NAME, !legacy),
      share,
      legacy ? undefined : async () => facts.version,
      lambdaLike(),
    );
    try {
      baseline = {
        rows: baselineRows,
        distinctTerms: distinctTerms(generated.texts),
        facts,
        run: await coldAndWarm(s3, container, texts, facts.folders, new Set()),
      };
    } finally {
      await container.close();
    }
  } finally {
    await rig.close();
  }
  const method = results[0]?.live.method ?? 'none';
  return report(ctx, {
    legacy,
    results,
    baseline,
    method,
    share,
    memoryMb,
    warmCount: counts.warm,
    spacing: rig.consistencyMs + 5_000,
    changedDocuments: counts.changedDocuments,
    sources: rig.sources,
  });
}

function report(
  ctx: BenchContext,
  r: {
    legacy: boolean;
    results: SizeResult[];
    baseline:
      | { rows: number; distinctTerms: number; facts: Awaited<ReturnType<typeof tableFacts>>; run: ColdRun }
      | undefined;
    method: QuotaMethod;
    share: number;
    memoryMb: number;
    warmCount: number;
    spacing: number;
    changedDocuments: number;
    sources: number;
  },
): SectionResult {
  const figures: Figure[] = [];
  const mb = (bytes: number) => bytes / MB;
  const base = r.baseline?.run;
  const ftsBytes = (facts: SizeResult['facts']) =>
    facts.indexes.filter((i) => i.type === 'FTS').reduce((n, i) => n + i.bytes, 0);
  for (const s of r.results)
    figures.push(...sizeFigures(`${s.target / 1000}k`, s, base, r.memoryMb, r.spacing));
  const describe = (facts: SizeResult['facts']) =>
    `${facts.rows.toLocaleString('en')} rows, ${facts.versions} versions kept, ${facts.stats.fragmentStats.numFragments} fragments, ${facts.indexes.map((i) => `${i.name} ${mb(i.bytes).toFixed(2)} MB in ${i.parts} part(s), ${i.unindexedRows} rows unindexed`).join(', ')}`;
  const notes = [
    `Corpus: ${r.sources.toLocaleString('en')} sources of real prose on this machine (node_modules Markdown, /usr/share/doc READMEs and text files, man pages rendered by man), then variants recombining each source's real sentences; ${r.results.map((s) => `${s.chunks.toLocaleString('en')} chunks from ${s.documents.toLocaleString('en')} documents, ${s.distinctTerms.toLocaleString('en')} distinct terms, full-text index ${mb(ftsBytes(s.facts)).toFixed(1)} MB`).join('; ')}${r.baseline ? `; baseline (generated) ${r.baseline.rows.toLocaleString('en')} chunks, ${r.baseline.distinctTerms.toLocaleString('en')} distinct terms, full-text index ${mb(ftsBytes(r.baseline.facts)).toFixed(2)} MB` : ''}.`,
    `Tables as the ingest leaves them (synced by the state machine, growing by syncs from one size to the next, then a re-sync of ${r.changedDocuments} edited documents): ${r.results.map((s) => describe(s.facts)).join('; ')}.`,
    `CPU: every Retrieve container runs under ${r.share.toFixed(2)} vCPU, Lambda's share at ${r.memoryMb} MB (1 vCPU at 1,769 MB), by ${r.method}; ${lambdaLike().initShare === undefined ? "its whole life is held to it, Node's boot and the init included (BENCH_INIT_SHARE=function)" : `its init (the handler module's load and the preload it waits for) at ${LAMBDA_INIT_SHARE} vCPU, as an on-demand Lambda's init is not throttled, then the share`}; stopped between questions, as Lambda freezes an environment between invocations.`,
    `S3: time to first byte lognormal (median ${LAMBDA_S3_SPREAD_MODEL.firstByteMs} ms, sigma ${LAMBDA_S3_SPREAD_MODEL.firstByteSigma}), ${LAMBDA_S3_MODEL.bytesPerSecond / MB} MB/s per connection; the constant-latency rows are a second new container on the same table. Dependent-read depth: the longest chain of requests each sent after the previous one's response ended.`,
    r.legacy
      ? 'Mode: legacy (BENCH_REAL_LEGACY=1), the path before issue 23 point 2: no tableVersion passed, so the container follows the latest version (a LIST once the read-consistency interval has passed), and no preload at init (RETRIEVE_PRELOAD=0).'
      : "Mode: as in production: each question carries the table version the ingest's Commit and Optimize recorded (read per question as Load history reads it; not timed), so Retrieve checks that version out and makes no LIST for the latest; the container preloads its table at init (RETRIEVE_PRELOAD=1, on in Lambda). Lambda's handler is init.mjs beside the bundle, whose init waits for the preload (at most RETRIEVE_INIT_WAIT_MS from the process's start); the first question is sent when the init ends, and its time and reads are counted from the spawn.",
    `Re-sync: the ingest writes on local disk and its new files are copied to S3 (removed files deleted), so the reader sees the files the writer made; ${r.legacy ? `the warm container then gets a question every ${BUSY_PACE_MS / 1000} s until one reads a file of the new version (LanceDB checks for one every readConsistencySeconds)` : 'the warm container then gets the next question, which carries the new recorded version'}. Spaced questions: real waits of ${r.spacing / 1000} s, no simulated clock.`,
    'Questions: written from the documents’ headings and sentences as a person asks them (“how does … work?”, “can someone explain … to me”), embedded by the real OpenAI client against the fake OpenAI (local hashing embedder, 1,536 dimensions). Recall: the product’s searches (k=10) against the same table with the vector index bypassed, hybrid fused as the product fuses.',
  ];
  return {
    key: 'retrievalReal',
    title: 'Retrieval on S3 over real text: a new container, warm, after a re-sync',
    workload: `${r.results.map((s) => s.chunks.toLocaleString('en')).join(', ')} chunks of real documentation synced by the ingest state machine; per size a new Retrieve container (production bundle, fresh Node, ${r.share.toFixed(2)} vCPU, ${r.legacy ? 'legacy: no tableVersion, no preload' : 'the recorded tableVersion passed, preload at init'}): 1 first question, ${r.warmCount} warm, a re-sync, ${r.legacy ? `questions every ${BUSY_PACE_MS / 1000} s until the new version is read` : 'the next question'}, then spaced ones; a second container with constant S3 latency`,
    baseline: r.baseline
      ? `the bench's generated corpus (${r.baseline.rows.toLocaleString('en')} chunks, invented vocabulary), the same bundle, CPU share and latency spread`
      : 'none',
    figures,
    notes,
    details: {
      mode: r.legacy ? 'legacy' : 'tableVersion',
      cpu: { method: r.method, share: r.share, memoryMb: r.memoryMb },
      sizes: r.results.map((s) => ({
        target: s.target,
        recordedVersion: s.recordedVersion,
        chunks: s.chunks,
        documents: s.documents,
        distinctTerms: s.distinctTerms,
        syncMs: Math.round(s.syncMs),
        table: s.facts,
        live: {
          ...s.live,
          warm: summaryOf(s.live.warm),
        },
        constant: { ...s.constant, warm: summaryOf(s.constant.warm) },
        recall: s.recall,
      })),
      baseline: r.baseline && {
        ...r.baseline,
        run: { ...r.baseline.run, warm: summaryOf(r.baseline.run.warm) },
      },
      quick: ctx.quick,
    },
  };
}

/**
 * The figures of one size: `base` is the baseline column's run (the generated corpus here; the smaller size in the
 * scale section), `spacing` the pause before each spaced question.
 */
export function sizeFigures(
  size: string,
  s: Pick<SizeResult, 'live' | 'constant' | 'recall'>,
  base: ColdRun | undefined,
  memoryMb: number,
  spacing: number,
): Figure[] {
  const figures: Figure[] = [];
  const mb = (bytes: number) => bytes / MB;
  const live = s.live;
  const warmMs = live.warm.map((w) => w.ms);
  const constantWarm = s.constant.warm.map((w) => w.ms);
  figures.push(
    {
      name: `${size}: first question from process start (bundle load included)`,
      value: live.firstFromStartMs,
      unit: 'ms',
      ...(base ? { baseline: base.firstFromStartMs } : {}),
      target: { max: 2000 },
    },
    {
      name: `${size}: … its CPU time from process start`,
      value: live.firstFromStartCpuMs,
      unit: 'ms',
      ...(base ? { baseline: base.firstFromStartCpuMs } : {}),
    },
    {
      name: `${size}: … of which the init (the handler's load, the preload it waits for)`,
      value: live.loadMs,
      unit: 'ms',
      ...(base ? { baseline: base.loadMs } : {}),
    },
    {
      name: `${size}: first question, MB read`,
      value: mb(live.first.bytes),
      unit: 'MB',
      ...(base ? { baseline: mb(base.first.bytes) } : {}),
    },
    {
      name: `${size}: first question, GETs`,
      value: live.first.gets,
      unit: 'count',
      ...(base ? { baseline: base.first.gets } : {}),
    },
    {
      name: `${size}: first question, LISTs`,
      value: live.first.lists,
      unit: 'count',
      ...(base ? { baseline: base.first.lists } : {}),
    },
    {
      name: `${size}: … of which before the question was sent (the preload, during init), MB`,
      value: mb(live.beforeFirst.bytes),
      unit: 'MB',
      ...(base ? { baseline: mb(base.beforeFirst.bytes) } : {}),
    },
    {
      name: `${size}: first question, dependent-read depth`,
      value: live.first.depth,
      unit: 'count',
      ...(base ? { baseline: base.first.depth } : {}),
    },
    {
      name: `${size}: full-text index load, MB`,
      value: mb(live.first.fullText.bytes),
      unit: 'MB',
      ...(base ? { baseline: mb(base.first.fullText.bytes) } : {}),
    },
    {
      name: `${size}: full-text index load, GETs`,
      value: live.first.fullText.gets,
      unit: 'count',
      ...(base ? { baseline: base.first.fullText.gets } : {}),
    },
    {
      name: `${size}: full-text index load, dependent-read depth`,
      value: live.first.fullText.depth,
      unit: 'count',
      ...(base ? { baseline: base.first.fullText.depth } : {}),
    },
    {
      name: `${size}: first question, constant 25 ms latency, from process start`,
      value: s.constant.firstFromStartMs,
      unit: 'ms',
      baseline: live.firstFromStartMs,
    },
    {
      name: `${size}: peak RSS`,
      value: mb(Math.max(live.peakRss, s.constant.peakRss)),
      unit: 'MB',
      ...(base ? { baseline: mb(base.peakRss) } : {}),
      target: {
        max: 0.6 * memoryMb,
        text: `≤ ${Math.round(0.6 * memoryMb)} MB (60 % of ${memoryMb})`,
      },
    },
    {
      name: `${size}: warm question, MB read (most)`,
      value: Math.max(...live.warm.map((w) => mb(w.bytes))),
      unit: 'MB',
      target: { max: 2 },
    },
    {
      name: `${size}: warm p50, latency spread`,
      value: percentile(warmMs, 50),
      unit: 'ms',
      baseline: percentile(constantWarm, 50),
      target: { max: 150 },
    },
    {
      name: `${size}: warm p95, latency spread`,
      value: percentile(warmMs, 95),
      unit: 'ms',
      baseline: percentile(constantWarm, 95),
    },
    {
      name: `${size}: warm questions, LISTs (all ${live.warm.length})`,
      value: live.warm.reduce((n, w) => n + w.lists, 0),
      unit: 'count',
    },
  );
  const after = live.firstAfterResync;
  if (after !== undefined) {
    figures.push(
      {
        name: `${size}: first question after a re-sync (warm container)`,
        value: after.ms,
        unit: 'ms',
        baseline: percentile(warmMs, 50),
        target: { max: 300 },
      },
      {
        name: `${size}: … questions asked after the re-sync up to it (it included)`,
        value: live.busyAfterResync.length,
        unit: 'count',
      },
      { name: `${size}: … its MB read`, value: mb(after.bytes), unit: 'MB' },
      { name: `${size}: … its GETs`, value: after.gets, unit: 'count' },
      { name: `${size}: … its LISTs`, value: after.lists, unit: 'count' },
      { name: `${size}: … its dependent-read depth`, value: after.depth, unit: 'count' },
    );
    if (live.moreResyncs.length > 0 && live.embedDelayed === undefined) {
      const all = [after, ...live.moreResyncs].map((q) => q.ms);
      figures.push(
        {
          name: `${size}: next question after each of ${all.length} re-syncs, p50`,
          value: percentile(all, 50),
          unit: 'ms',
          target: { max: 300 },
        },
        {
          name: `${size}: … the slowest of them (${all.filter((ms) => ms > 300).length} over 300 ms)`,
          value: Math.max(...all),
          unit: 'ms',
        },
      );
    }
    // With the embedding call modelled (from the second re-sync on), that pairing instead.
    const delayed = live.embedDelayed;
    if (delayed !== undefined && delayed.resynced.length > 0) {
      figures.push({
        name: `${size}: with a ${delayed.ms}-ms embedding call, the next question after ${delayed.resynced.length} re-syncs, p50 (slowest ${Math.round(Math.max(...delayed.resynced))} ms; baseline: a warm question's p50 with the same call)`,
        value: percentile(delayed.resynced, 50),
        unit: 'ms',
        baseline: percentile(delayed.warm, 50),
      });
    }
    if (live.moreResyncs.length > 0) {
      figures.push({
        name: `${size}: … their dependent-read depth, most`,
        value: Math.max(after.depth, ...live.moreResyncs.map((q) => q.depth)),
        unit: 'count',
      });
    }
  } else {
    figures.push({
      name: `${size}: first question after a re-sync: none saw the new version`,
      value: live.busyAfterResync.length,
      unit: 'count',
    });
  }
  for (const [i, q] of live.spaced.entries()) {
    figures.push({
      name: `${size}: question ${i + 1} spaced ${spacing / 1000} s after the last (LISTs ${q.lists}, GETs ${q.gets}, new connections ${q.newConnections})`,
      value: q.ms,
      unit: 'ms',
      baseline: percentile(warmMs, 50),
    });
  }
  figures.push({
    name: `${size}: questions spaced ${spacing / 1000} s apart, LISTs (all ${live.spaced.length})`,
    value: live.spaced.reduce((n, q) => n + q.lists, 0),
    unit: 'count',
  });
  figures.push(
    {
      name: `${size}: recall@10, vector vs exact`,
      value: s.recall.vector,
      unit: 'ratio',
      target: { min: 0.95 },
    },
    {
      name: `${size}: recall@10, hybrid vs exact hybrid`,
      value: s.recall.hybrid,
      unit: 'ratio',
      target: { min: 0.95 },
    },
  );
  return figures;
}

function summaryOf(warm: readonly QuestionReads[]) {
  return {
    count: warm.length,
    ms: summary(warm.map((w) => w.ms)),
    bytes: summary(warm.map((w) => w.bytes)),
    gets: mean(warm.map((w) => w.gets)),
    lists: warm.reduce((n, w) => n + w.lists, 0),
    listPrefixes: warm.flatMap((w) => w.listPrefixes),
    depth: summary(warm.map((w) => w.depth)),
  };
}
