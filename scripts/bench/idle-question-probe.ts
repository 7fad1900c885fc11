/**
 * Probe (issue 23, point 2): what the Retrieve production bundle reads from S3 (the bench's S3 model) for a new
 * container's first question, a warm question right after it, and a warm question after the container sat idle
 * longer than LanceDB's read-consistency interval (35 s against 30 s), with and without the preload at module load
 * and with and without the table version the ingest recorded (the execution input's `tableVersion`). Not a bench
 * section: one table, a few questions, about a minute per mode. The questions are embedded by the local hashing
 * embedder (instant, in-process), so the first question's open is not hidden behind an embedding call here.
 * Modes (RUNS, comma-separated): `plain`, `preload` (RETRIEVE_PRELOAD=1), `+version` (the input carries the table's
 * version), `+gap` (GAP_MS between the load and the first event, as an init that waited for the preload would).
 * Run: ROWS=10000 IDLE_MS=35000 RUNS=plain,preload,preload+gap npx tsx scripts/bench/idle-question-probe.ts [--json]
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@lancedb/lancedb';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { LOCAL_CREDENTIALS } from '../../stand-ins/aws/s3-local';
import { REPO_ROOT } from '../local/stack';
import { bundleRetrieve } from './retrieval-s3';
import { type S3RequestRecord, type S3Traffic, startModeledS3 } from './s3-model';
import { EMBEDDER_NAME, generateCorpus, writeCorpusTable } from './vector-corpus';

const run = promisify(execFile);
const ROWS = Number(process.env.ROWS ?? 10_000);
const IDLE_MS = Number(process.env.IDLE_MS ?? 35_000);
const RUNS = (process.env.RUNS ?? 'plain,preload,preload+version').split(',');
const BUCKET = 'probe-idle';
/** For a mode named with `gap`: the wait between the bundle's load and the first event. */
const GAP_MS = Number(process.env.GAP_MS ?? 3_000);

/** A fresh Node process as a new container: the bundle's load, then three questions (the third after idle). */
const CHILD = `
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const [bundle, questionsFile, idleMs, version, gapMs] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const started = now();
  const { handler } = require(bundle);
  const loaded = now();
  // A gap before the first event: the time an init that waited for the preload would have given it.
  await sleep(Number(gapMs));
  const questions = JSON.parse(readFileSync(questionsFile, 'utf8'));
  const calls = [];
  for (const [i, question] of questions.entries()) {
    if (i === 2) await sleep(Number(idleMs));
    const turn = { intent: 'question', eventId: 'EvIdle' + i, teamId: 'T0LOCAL001', channel: 'C0PROBE001',
      threadTs: '1.000001', messageTs: '1.000001', user: 'U0HUMAN001', question, placeholderTs: '1.000002' };
    const input = { turn, question, executionName: 'idle-probe-' + i };
    if (version !== '') input.tableVersion = Number(version);
    const start = now();
    const result = await handler(input);
    const end = now();
    if (result.status !== 'ok') throw new Error('no table: ' + result.status);
    calls.push({ start, end });
  }
  process.stdout.write('\\n' + JSON.stringify({ started, loaded, calls }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
`;

interface Window {
  ms: number;
  traffic: S3Traffic;
  /** Connections (client ports) first seen in this window. */
  newConnections: number;
}

async function main() {
  const json = process.argv.includes('--json');
  const work = join(tmpdir(), `idle-probe-${process.pid}`);
  await mkdir(work, { recursive: true });
  const dir = join(work, 'db');
  const corpus = generateCorpus(ROWS);
  const connection = await connectVectorStore(dir);
  (await writeCorpusTable(connection, 'documents', corpus, ROWS, { collections: ['a', 'b'] })).close();
  connection.close();
  await run(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'scripts/bench/build-indexes.ts'), dir, 'documents', '--as-ingest'],
    { cwd: REPO_ROOT, env: { ...process.env, LLM_PROVIDER: 'local' } },
  );
  const local = await connect(dir);
  const version = await (await local.openTable('documents')).version();
  local.close();
  const drawn = corpus.queries(3, 77);
  const questions = drawn.texts.map((t, i) => `What about ${t} (${i})?`);
  const questionsFile = join(work, 'questions.json');
  await writeFile(questionsFile, JSON.stringify(questions));
  await writeFile(join(work, 'child.js'), CHILD);
  const bundle = await bundleRetrieve(work);
  const s3 = await startModeledS3(BUCKET);
  await s3.uploadDirectory(dir, 'db');
  const results: Record<string, unknown> = {};
  try {
    for (const mode of RUNS) {
      s3.reset();
      const { stdout, stderr } = await run(
        process.execPath,
        [
          join(work, 'child.js'),
          bundle,
          questionsFile,
          String(IDLE_MS),
          mode.includes('version') ? String(version) : '',
          mode.includes('gap') ? String(GAP_MS) : '0',
        ],
        {
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
            LOG_LEVEL: process.env.PROBE_LOG_LEVEL ?? 'silent',
            POWERTOOLS_METRICS_DISABLED: 'true',
            // The local hashing embedder of the table's dimension: its dimension is known before a call, as for
            // OpenAI's and Bedrock's models (the preload needs it), and it embeds in-process, instantly.
            LLM_PROVIDER: 'local',
            OPENAI_EMBEDDING_MODEL: EMBEDDER_NAME,
            LANCEDB_URI: `s3://${BUCKET}/db`,
            LANCEDB_TABLE: 'documents',
            S3_ENDPOINT: s3.endpoint,
            RETRIEVE_PRELOAD: mode.startsWith('preload') ? '1' : '0',
          },
          maxBuffer: 1 << 24,
        },
      );
      // With PROBE_LOG_LEVEL the function's log lines come first on stdout; the child's result is its last line.
      const lines = stdout.trimEnd().split('\n');
      if (process.env.PROBE_LOG_LEVEL !== undefined) console.error(stderr, lines.slice(0, -1).join('\n'));
      const child = JSON.parse(lines.at(-1) ?? '') as {
        started: number;
        loaded: number;
        calls: { start: number; end: number }[];
      };
      const seen = new Set<number>();
      const windowOf = (from: number, to: number): Window => {
        const records = s3.log.filter((r: S3RequestRecord) => r.at >= from && r.at <= to);
        const fresh = new Set(records.map((r) => r.port).filter((p) => !seen.has(p)));
        for (const p of fresh) seen.add(p);
        return { ms: Math.round(to - from), traffic: s3.traffic(from, to), newConnections: fresh.size };
      };
      const [first, warm, idle] = child.calls as [
        { start: number; end: number },
        { start: number; end: number },
        { start: number; end: number },
      ];
      results[mode] = {
        loadMs: Math.round(child.loaded - child.started),
        beforeFirstCall: windowOf(child.started, first.start),
        first: windowOf(first.start, first.end),
        loadToFirstAnswerMs: Math.round(first.end - child.started),
        warm: windowOf(warm.start, warm.end),
        afterIdle: windowOf(idle.start, idle.end),
        betweenCalls: s3.log.filter(
          (r) => !child.calls.some((c) => r.at >= c.start && r.at <= c.end) && r.at >= first.start,
        ).length,
      };
      if (!json) console.error(mode, JSON.stringify(results[mode]));
    }
  } finally {
    await s3.close();
    await rm(work, { recursive: true, force: true });
  }
  const out = { rows: ROWS, idleMs: IDLE_MS, tableVersion: version, runs: results };
  process.stdout.write(`${JSON.stringify(out, null, json ? 0 : 2)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
