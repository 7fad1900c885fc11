import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { conversationFunctions } from '../../functions/conversation-functions';
import { loadConfig } from '../../functions/core/config';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { openDocumentTable, VECTOR_INDEX } from '../../functions/core/vector-store/document-table';
import { REFINE_CANDIDATES, searchPassages } from '../../functions/core/vector-store/search-passages';
import { INIT_MODULE_FILE } from '../../infra/lambda-bundling';
import { LOCAL_CREDENTIALS } from '../../stand-ins/aws/s3-local';
import { REPO_ROOT } from '../local/stack';
import { placeInitModule, productionBundleOptions } from './bundle-settings';
import type { BenchContext } from './context';
import { type Figure, formatNumber, type SectionResult } from './report';
import { corpusFor } from './retrieval';
import { LAMBDA_S3_MODEL, type ModeledS3, type S3Traffic, startModeledS3 } from './s3-model';
import { mean, percentile, sum, summary } from './stats';
import {
  bruteForceTopK,
  collectionOf,
  DIMENSIONS,
  EMBEDDER_NAME,
  type VectorCorpus,
  writeCorpusTable,
} from './vector-corpus';

const run = promisify(execFile);
const MB = 1_000_000;
const RECALL_K = 10;
const BUCKET = 'bench-retrieval';
const QUERY_SEED = 23;

/** Table sizes of the section: from the smallest a team starts with to the largest the issue asks for. */
export function s3Sizes(quick: boolean): number[] {
  return quick ? [1_000, 5_000] : [1_000, 10_000, 50_000, 100_000];
}

/** The channel the child's questions come from. */
const CHILD_CHANNEL = 'C0BENCH0009';

/**
 * Runs in a fresh Node process, as a new Lambda container: loads the Retrieve production bundle, then calls its
 * handler once per question, in order, and reports each call's wall-clock window (epoch ms, so that the parent can
 * attribute the S3 requests it saw to a question), its result, and the process's peak RSS. The first call is the
 * cold one: it connects, opens the table and loads what the indexes need.
 */
const CHILD = `
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const [bundle, questionsFile] = process.argv.slice(2);
const highWaterMark = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const now = () => performance.timeOrigin + performance.now();
(async () => {
  const loadStarted = performance.now();
  const { handler } = require(bundle);
  const loadMs = performance.now() - loadStarted;
  const afterLoad = highWaterMark();
  const questions = JSON.parse(readFileSync(questionsFile, 'utf8'));
  const calls = [];
  for (const [i, question] of questions.entries()) {
    const turn = { intent: 'question', eventId: 'EvS3' + i, teamId: 'T0LOCAL001', channel: ${JSON.stringify(CHILD_CHANNEL)},
      threadTs: '1.000001', messageTs: '1.000001', user: 'U0HUMAN001', question, placeholderTs: '1.000002' };
    const start = now();
    const result = await handler({ turn, question, executionName: 'retrieval-s3-' + i });
    const end = now();
    if (result.status !== 'ok') throw new Error('Retrieve found no table: ' + result.status);
    calls.push({ start, end, search: result.search, sources: result.passages.map((p) => p.source) });
  }
  process.stdout.write(JSON.stringify({ loadMs, afterLoad, peak: highWaterMark(), calls }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
`;

interface ChildCall {
  start: number;
  end: number;
  search: string;
  sources: string[];
}

interface ChildResult {
  loadMs: number;
  afterLoad: number;
  peak: number;
  calls: ChildCall[];
}

/**
 * The OpenAI embeddings endpoint, on loopback, answering each question with the vector drawn for it from the
 * corpus's mixture: the Retrieve handler embeds with the real OpenAI client and searches with a realistic query
 * vector (near a cluster, as a real question's embedding is near its documents').
 */
async function startQueryEmbedder(vectors: Map<string, Float32Array>) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      raw += chunk;
    });
    req.on('end', () => {
      const body = JSON.parse(raw) as { input: string | string[]; encoding_format?: string; model?: string };
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      const data = inputs.map((input, index) => {
        const vector = vectors.get(input);
        if (vector === undefined) throw new Error(`no vector for question "${input}"`);
        return {
          object: 'embedding',
          index,
          embedding:
            body.encoding_format === 'base64'
              ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
              : Array.from(vector),
        };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data,
          model: body.model,
          usage: { prompt_tokens: 8, total_tokens: 8 },
        }),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** The Retrieve function bundled as CDK bundles it, under a directory whose node_modules stands for its layer. */
export async function bundleRetrieve(workDir: string): Promise<string> {
  const outdir = join(workDir, 'bundle-retrieve-s3');
  await mkdir(outdir, { recursive: true });
  const { symlink } = await import('node:fs/promises');
  await symlink(resolve(REPO_ROOT, 'node_modules'), join(outdir, 'node_modules'), 'dir').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
  const entry = resolve(REPO_ROOT, conversationFunctions.RetrieveFunctionArn.entry);
  await build({
    ...productionBundleOptions({ 'Retrieve/index': entry }, outdir, true),
    absWorkingDir: REPO_ROOT,
  });
  await placeInitModule(conversationFunctions.RetrieveFunctionArn.initModule, join(outdir, 'Retrieve'));
  return join(outdir, 'Retrieve', 'index.js');
}

/** What Lambda loads as Retrieve's handler: its init module beside the bundle {@link bundleRetrieve} made. */
export function retrieveHandlerFile(bundle: string): string {
  return join(dirname(bundle), INIT_MODULE_FILE);
}

interface BuiltTable {
  rows: number;
  dir: string;
  table: string;
  writeMs: number;
  build: {
    vectorIndexMinRows: number;
    vector: string;
    fullText: string;
    indexes: { name: string; type: string; columns: string[]; bytes?: number }[];
    indexMs: number;
    ms: number;
  };
}

/** The collections of the bench tables; the filtered questions may read two of them. */
const COLLECTIONS = ['team-a', 'team-b', 'team-c', 'team-d'];
const ALLOWED = ['team-b', 'team-c'];
/**
 * A person's reach without a channel list: COLLECTION_AUDIENCES opens these two to a user group the asker is not in,
 * so the search leaves them out (a deny-list kept inside the query) and keeps the other two.
 */
const CLOSED = ['team-a', 'team-d'];
const PERSONAL_ACCESS = {
  COLLECTION_AUDIENCES: JSON.stringify(Object.fromEntries(CLOSED.map((c) => [c, ['S0OTHERS01']]))),
};

/** Writes the first `rows` chunks and finishes the table as the ingest Optimize step does, in a child process. */
async function buildTable(ctx: BenchContext, corpus: VectorCorpus, rows: number): Promise<BuiltTable> {
  const dir = join(ctx.workDir, 'retrieval-s3', String(rows));
  const table = 'documents';
  const connection = await connectVectorStore(dir);
  const started = performance.now();
  try {
    (await writeCorpusTable(connection, table, corpus, rows, { collections: COLLECTIONS })).close();
  } finally {
    connection.close();
  }
  const writeMs = performance.now() - started;
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'scripts/bench/build-indexes.ts'), dir, table, '--as-ingest'],
    { cwd: REPO_ROOT, maxBuffer: 1 << 20, env: { ...process.env, LLM_PROVIDER: 'local' } },
  );
  return { rows, dir, table, writeMs, build: JSON.parse(stdout) as BuiltTable['build'] };
}

/** One run of the child: its questions' S3 traffic, from the proxy's log, by the windows the child reported. */
interface Run {
  child: ChildResult;
  first: S3Traffic;
  warm: S3Traffic[];
  /** Requests that arrived outside every question (none expected: nothing runs between them). */
  outside: number;
}

interface SizeResult {
  rows: number;
  table: BuiltTable;
  tableBytes: number;
  local: ChildResult;
  s3: Run;
  filtered: Run;
  /** The same questions from a person to whom two collections are closed (COLLECTION_AUDIENCES). */
  personal: Run;
  recall: number;
  vectorIndexed: boolean;
}

const rowOf = (source: string) => Number(/chunk-(\d+)/.exec(source)?.[1] ?? Number.NaN);

async function measureSize(
  ctx: BenchContext,
  corpus: VectorCorpus,
  rows: number,
  setup: {
    bundle: string;
    s3: ModeledS3;
    questionsFile: string;
    embedderUrl: string;
    recallVectors: Float32Array[];
  },
): Promise<SizeResult> {
  const { s3 } = setup;
  const label = rows.toLocaleString('en');
  ctx.log(`retrievalS3: ${label} chunks: writing the table and finishing it as ingest does`);
  const table = await buildTable(ctx, corpus, rows);
  const prefix = `t${rows}`;
  const uploaded = await s3.uploadDirectory(table.dir, prefix);

  const child = async (lancedbUri: string, access: Record<string, string> = {}): Promise<ChildResult> => {
    const { stdout } = await run(
      process.execPath,
      [join(ctx.workDir, 'retrieval-s3-child.js'), setup.bundle, setup.questionsFile],
      {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          LOG_LEVEL: 'silent',
          // The step's EMF metric lines would share stdout with the child's one JSON result.
          POWERTOOLS_METRICS_DISABLED: 'true',
          LLM_PROVIDER: 'openai',
          OPENAI_API_KEY: 'sk-bench-not-a-key',
          OPENAI_BASE_URL: setup.embedderUrl,
          OPENAI_EMBEDDING_MODEL: EMBEDDER_NAME,
          LANCEDB_URI: lancedbUri,
          LANCEDB_TABLE: table.table,
          S3_ENDPOINT: s3.endpoint,
          ...access,
        },
        maxBuffer: 1 << 24,
      },
    );
    return JSON.parse(stdout) as ChildResult;
  };
  const onS3 = async (access?: Record<string, string>): Promise<Run> => {
    s3.reset();
    const result = await child(`s3://${BUCKET}/${prefix}`, access);
    const [first, ...warm] = result.calls;
    if (first === undefined) throw new Error('no question asked');
    const inside = result.calls.reduce(
      (n, c) => n + s3.log.filter((r) => r.at >= c.start && r.at <= c.end).length,
      0,
    );
    return {
      child: result,
      first: s3.traffic(first.start, first.end),
      warm: warm.map((c) => s3.traffic(c.start, c.end)),
      outside: s3.log.length - inside,
    };
  };

  ctx.log(`retrievalS3: ${label} chunks: Retrieve in a fresh process, local disk`);
  const local = await child(table.dir);
  ctx.log(`retrievalS3: ${label} chunks: Retrieve in a fresh process, S3 model`);
  const unfiltered = await onS3();
  ctx.log(`retrievalS3: ${label} chunks: the same, for a channel that may read 2 of the 4 collections`);
  const filtered = await onS3({ CHANNEL_COLLECTIONS: JSON.stringify({ [CHILD_CHANNEL]: ALLOWED }) });
  const leaked = filtered.child.calls
    .flatMap((c) => c.sources)
    .filter((source) => !ALLOWED.includes(collectionOf(rowOf(source), COLLECTIONS)));
  if (leaked.length > 0)
    throw new Error(`a filtered question returned ${leaked[0]}, outside ${ALLOWED.join(', ')}`);
  ctx.log(`retrievalS3: ${label} chunks: the same, for a person to whom 2 of the 4 collections are closed`);
  // The child's Retrieve gets no reach from Load history, so it works one out itself, without the asker's user
  // groups: the two collections open only to a group are closed, as for a person outside it.
  const personal = await onS3(PERSONAL_ACCESS);
  const shown = personal.child.calls
    .flatMap((c) => c.sources)
    .filter((source) => CLOSED.includes(collectionOf(rowOf(source), COLLECTIONS)));
  if (shown.length > 0) throw new Error(`a person's question returned ${shown[0]}, closed to them`);

  ctx.log(`retrievalS3: ${label} chunks: recall@${RECALL_K} of the vector search against exact`);
  const connection = await connectVectorStore(table.dir);
  let recall = Number.NaN;
  let vectorIndexed = false;
  try {
    const handle = await openDocumentTable(connection, {
      table: table.table,
      embedderName: EMBEDDER_NAME,
      dimensions: DIMENSIONS,
      embeddings: new LocalHashEmbeddings({ dimensions: DIMENSIONS }),
    });
    if (handle === undefined) throw new Error('no table');
    vectorIndexed = (await handle.table.listIndices()).some((i) => i.columns.includes('vector'));
    let hits = 0;
    for (const vector of setup.recallVectors) {
      const truth = new Set(bruteForceTopK(corpus, rows, vector, RECALL_K));
      const found = await searchPassages(handle, {
        queryText: '',
        queryVector: Array.from(vector),
        k: RECALL_K,
      });
      hits += found.passages.filter((p) => truth.has(rowOf(p.source))).length;
    }
    recall = hits / (setup.recallVectors.length * RECALL_K);
    handle.close();
  } finally {
    connection.close();
  }
  return {
    rows,
    table,
    tableBytes: uploaded.bytes,
    local,
    s3: unfiltered,
    filtered,
    personal,
    recall,
    vectorIndexed,
  };
}

const ms = (c: ChildCall) => c.end - c.start;
const firstMs = (r: ChildResult) => ms(r.calls[0] as ChildCall);
const warmMs = (r: ChildResult) => r.calls.slice(1).map(ms);
const megabytes = (bytes: number) => bytes / MB;

/**
 * Section: retrieval as AWS runs it. The Retrieve Lambda's production bundle answers questions in a fresh process
 * (a new container), its LanceDB table on S3: s3rver behind a proxy that counts requests and bytes and models S3's
 * first-byte latency and per-connection bandwidth. Tables are written and finished by the product's own ingest
 * code (`ensureIndexes` with the configured vector-index threshold, then `optimize`). Baseline: the same bundle,
 * the same questions, the table on local disk.
 */
export async function benchRetrievalS3(ctx: BenchContext): Promise<SectionResult> {
  const sizes = s3Sizes(ctx.quick);
  const largest = Math.max(...sizes);
  const warmCount = ctx.quick ? 30 : 60;
  const recallCount = ctx.quick ? 30 : 50;
  const corpus = await corpusFor(ctx);
  if (corpus.size < largest) throw new Error(`the shared corpus holds ${corpus.size} chunks, not ${largest}`);
  const drawn = corpus.queries(1 + warmCount, QUERY_SEED);
  // Questions as a person asks them, in the corpus's words: the full-text half has terms to match.
  const questions = drawn.texts.map((t, i) => `What about ${t} (${i})?`);
  const vectors = new Map(questions.map((q, i) => [q, drawn.vectors[i] as Float32Array]));
  const recallVectors = corpus.queries(recallCount, QUERY_SEED + 1).vectors;
  const questionsFile = join(ctx.workDir, 'retrieval-s3-questions.json');
  await writeFile(questionsFile, JSON.stringify(questions));
  await writeFile(join(ctx.workDir, 'retrieval-s3-child.js'), CHILD);
  ctx.log('retrievalS3: bundling the Retrieve function');
  const bundle = await bundleRetrieve(ctx.workDir);
  const embedder = await startQueryEmbedder(vectors);
  const s3 = await startModeledS3(BUCKET);
  const results: SizeResult[] = [];
  try {
    for (const rows of sizes) {
      results.push(
        await measureSize(ctx, corpus, rows, {
          bundle,
          s3,
          questionsFile,
          embedderUrl: embedder.url,
          recallVectors,
        }),
      );
    }
  } finally {
    await s3.close();
    await embedder.close();
  }

  const memoryMb = conversationFunctions.RetrieveFunctionArn.memoryMb;
  const figures: Figure[] = [];
  for (const r of results) {
    const size = `${r.rows / 1000}k`;
    const warmBytes = r.s3.warm.map((t) => megabytes(t.bytes));
    const filteredBytes = [...r.filtered.warm, ...r.personal.warm].map((t) => megabytes(t.bytes));
    figures.push(
      {
        name: `${size}: warm question, MB read from S3 (most)`,
        value: Math.max(...warmBytes, ...filteredBytes),
        unit: 'MB',
        target: { max: 2 },
      },
      {
        name: `${size}: warm question, S3 GETs (mean)`,
        value: mean(r.s3.warm.map((t) => t.get)),
        unit: 'count',
      },
      {
        name: `${size}: warm p50, S3 model`,
        value: percentile(warmMs(r.s3.child), 50),
        unit: 'ms',
        baseline: percentile(warmMs(r.local), 50),
        target: { max: 100 },
      },
      {
        name: `${size}: warm p99, S3 model`,
        value: percentile(warmMs(r.s3.child), 99),
        unit: 'ms',
        baseline: percentile(warmMs(r.local), 99),
      },
      {
        name: `${size}: warm p50, filtered to 2 of 4 collections`,
        value: percentile(warmMs(r.filtered.child), 50),
        unit: 'ms',
        baseline: percentile(warmMs(r.local), 50),
        target: { max: 100 },
      },
      {
        name: `${size}: warm p50, a person's reach (2 of 4 collections closed)`,
        value: percentile(warmMs(r.personal.child), 50),
        unit: 'ms',
        baseline: percentile(warmMs(r.s3.child), 50),
        target: { max: 100 },
      },
      {
        name: `${size}: warm question with a person's reach, S3 GETs (mean)`,
        value: mean(r.personal.warm.map((t) => t.get)),
        unit: 'count',
        baseline: mean(r.s3.warm.map((t) => t.get)),
      },
      {
        name: `${size}: first question, a person's reach`,
        value: firstMs(r.personal.child),
        unit: 'ms',
        baseline: firstMs(r.s3.child),
      },
      {
        name: `${size}: first question in a new process, S3 model`,
        value: firstMs(r.s3.child),
        unit: 'ms',
        baseline: firstMs(r.local),
        target: { max: 1500 },
      },
      { name: `${size}: first question, MB read from S3`, value: megabytes(r.s3.first.bytes), unit: 'MB' },
      {
        name: `${size}: peak RSS`,
        value: megabytes(Math.max(r.s3.child.peak, r.filtered.child.peak, r.personal.child.peak)),
        unit: 'MB',
        baseline: megabytes(r.local.peak),
        target: { max: 0.6 * memoryMb, text: `≤ ${Math.round(0.6 * memoryMb)} MB (60 % of ${memoryMb})` },
      },
      {
        name: `${size}: recall@10, vector search vs exact`,
        value: r.recall,
        unit: 'ratio',
        ...(r.vectorIndexed ? { target: { min: 0.95 } } : {}),
      },
    );
  }

  const config = loadConfig({ LLM_PROVIDER: 'local' });
  const describeIndexes = (r: SizeResult) =>
    r.table.build.indexes.map((i) => `${i.name} ${formatNumber(megabytes(i.bytes ?? 0))} MB`).join(', ');
  const lists = results.reduce(
    (n, r) =>
      n +
      sum(r.s3.warm.map((t) => t.list)) +
      sum(r.filtered.warm.map((t) => t.list)) +
      sum(r.personal.warm.map((t) => t.list)),
    0,
  );
  const notes = [
    `S3 model: each response's first byte ${LAMBDA_S3_MODEL.firstByteMs} ms after its request, then ${LAMBDA_S3_MODEL.bytesPerSecond / MB} MB/s per connection, connections in parallel; MB = 10^6 bytes of response bodies. The stand-in's own time counts too: s3rver serves a GET in about 1 ms of CPU, so a question's burst of 30–60 GETs queues behind itself for tens of ms that S3 would not add.`,
    `Tables as ingest leaves them (INGEST_VECTOR_INDEX_MIN_ROWS=${config.ingest.vectorIndexMinRows}): ${results.map((r) => `${r.rows.toLocaleString('en')} chunks, ${megabytes(r.tableBytes).toFixed(0)} MB on S3, ${describeIndexes(r)} (indexes built in ${(r.table.build.indexMs / 1000).toFixed(0)} s)`).join('; ')}.`,
    `What a question reads: the vector index (IVF-RQ, ${VECTOR_INDEX.numBits} bits per dimension) and the full-text index (ICU words) are loaded into LanceDB's cache by the first question and kept; a warm question reads only the ${REFINE_CANDIDATES} candidates it re-ranks on their full vectors (6 KB each) and the 4 columns of each passage it returns, from the table kept open: ${lists} LISTs in all ${results.length * 3 * warmCount} warm questions (LanceDB checks for a new version every ${config.vectorStore.readConsistencySeconds} s).`,
    `Every question is hybrid (vector and full-text searches in parallel, fused by reciprocal rank) at the product's k=${config.vectorStore.topK}; filtered questions come from a channel that may read ${ALLOWED.length} of the table's ${COLLECTIONS.length} collections (an allow-list: \`collection IN (…)\`), and a person's questions from someone to whom ${CLOSED.length} of them are closed by COLLECTION_AUDIENCES (a deny-list that keeps documents without a collection: \`collection IS NULL OR NOT collection IN (…)\`); every passage returned was checked. Both also read each passage's collection (recorded with the turn), one more short column per row. The first question is the handler's first call in a fresh process (the bundle's require before it, ${results.map((r) => `${r.s3.child.loadMs.toFixed(0)} ms`).join(', ')}, is not included); in AWS the question's embedding (OpenAI, 100–300 ms, instant here) overlaps the table's opening.`,
    `Recall@10: the product's vector search (k=10, the same index files) against brute force, ${recallCount} queries.`,
  ];
  return {
    key: 'retrievalS3',
    title: 'Retrieval on S3: the Retrieve Lambda with its table on S3',
    workload: `${sizes.map((s) => s.toLocaleString('en')).join(', ')} chunks of ${DIMENSIONS} dimensions (the retrieval section's corpus, in ${COLLECTIONS.length} collections); the Retrieve production bundle in a fresh Node process per size and run: 1 first question, then ${warmCount} warm ones, each distinct, embedded by the real OpenAI client from a loopback endpoint that returns query vectors drawn from the corpus's mixture`,
    baseline: 'the same bundle, questions and table files on local disk',
    figures,
    notes,
    details: {
      model: LAMBDA_S3_MODEL,
      memoryMb,
      sizes: results.map((r) => ({
        rows: r.rows,
        tableBytesOnS3: r.tableBytes,
        build: r.table.build,
        writeMs: Math.round(r.table.writeMs),
        s3: runDetails(r.s3),
        filteredS3: runDetails(r.filtered),
        local: {
          first: { ms: firstMs(r.local) },
          warm: { ms: summary(warmMs(r.local)) },
          peakRssBytes: r.local.peak,
        },
        recall: r.recall,
        vectorIndexed: r.vectorIndexed,
      })),
    },
  };
}

function runDetails(run: Run) {
  return {
    first: { ms: firstMs(run.child), traffic: run.first },
    warm: {
      ms: summary(warmMs(run.child)),
      bytes: summary(run.warm.map((t) => t.bytes)),
      gets: summary(run.warm.map((t) => t.get)),
      lists: summary(run.warm.map((t) => t.list)),
    },
    requestsOutsideQuestions: run.outside,
    peakRssBytes: run.child.peak,
    afterLoadRssBytes: run.child.afterLoad,
    loadMs: run.child.loadMs,
    search: [...new Set(run.child.calls.map((c) => c.search))],
  };
}
