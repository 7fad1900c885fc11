import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { conversationFunctions } from '../../functions/conversation-functions';
import { type BundledFunction, bundleFunctions } from './cold-start';
import { type BenchContext, shared } from './context';
import type { SectionResult } from './report';
import { largestTable } from './retrieval';
import { percentile, summary } from './stats';
import { generateCorpus } from './vector-corpus';

const run = promisify(execFile);
const MB = 1_000_000;

/** Runs in a fresh Node process: loads the Retrieve bundle, calls its `handler` as Lambda would, reports memory. */
const CHILD = `
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const [bundle, calls, questionsJson] = process.argv.slice(2);
const highWaterMark = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
(async () => {
  const { handler } = require(bundle);
  const afterLoad = highWaterMark();
  const questions = JSON.parse(questionsJson);
  const ms = [];
  let passages = 0;
  for (let i = 0; i < Number(calls); i++) {
    const turn = { intent: 'question', eventId: 'EvMEM' + i, teamId: 'T0LOCAL001', channel: 'C0BENCH0004',
      threadTs: '1.000001', messageTs: '1.000001', user: 'U0HUMAN001', question: questions[i % questions.length],
      placeholderTs: '1.000002' };
    const started = performance.now();
    const result = await handler({ turn, question: turn.question, executionName: 'memory-' + i });
    ms.push(performance.now() - started);
    passages += result.passages.length;
    if (result.status !== 'ok') throw new Error('Retrieve found no table: ' + result.status);
  }
  process.stdout.write(JSON.stringify({ afterLoad, peak: highWaterMark(), ms, passages }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
`;

/**
 * Peak RSS is read from VmHWM, which exec resets: getrusage's maxRSS is not, and a child forked from this large
 * process would report the parent's size.
 */
interface ChildResult {
  afterLoad: number;
  peak: number;
  ms: number[];
  passages: number;
}

/**
 * Section 7: the peak resident memory of the Retrieve Lambda's production bundle, in a fresh Node process,
 * answering questions (hybrid search, as the product runs it) against the largest table of the run, with its
 * indexes. Baseline: the same bundle loaded in a fresh process, no call made.
 */
export async function benchMemory(ctx: BenchContext): Promise<SectionResult> {
  const table = await largestTable(ctx);
  const bundles = await shared<BundledFunction[]>(ctx, 'bundles', () => bundleFunctions(ctx.workDir));
  const retrieve = bundles.find((b) => b.name === 'Retrieve');
  if (retrieve === undefined) throw new Error('no Retrieve bundle');
  const calls = ctx.quick ? 20 : 50;
  // Questions in the corpus's own words, so that the full-text half of the hybrid search finds passages.
  const questions = generateCorpus(1)
    .queries(calls, 11)
    .texts.map((t) => `What about ${t}?`);
  const childFile = join(ctx.workDir, 'retrieve-memory-child.js');
  await writeFile(childFile, CHILD);
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    LOG_LEVEL: 'silent',
    // The step's EMF metric lines would share stdout with the child's one JSON result.
    POWERTOOLS_METRICS_DISABLED: 'true',
    LLM_PROVIDER: 'local',
    OPENAI_EMBEDDING_MODEL: 'local-hash-1536',
    LANCEDB_URI: table.uri,
    LANCEDB_TABLE: table.table,
  };
  const child = async (count: number): Promise<ChildResult> => {
    const { stdout } = await run(
      process.execPath,
      [childFile, retrieve.file, String(count), JSON.stringify(questions)],
      {
        env,
        maxBuffer: 1 << 20,
      },
    );
    return JSON.parse(stdout) as ChildResult;
  };
  ctx.log(
    `memory: the Retrieve bundle in a fresh process, ${calls} questions against ${table.rows.toLocaleString('en')} chunks`,
  );
  const loaded = await child(0);
  const answering = await child(calls);
  const limit = conversationFunctions.RetrieveFunctionArn.memoryMb;
  return {
    key: 'memory',
    title: 'Memory: the Retrieve Lambda',
    workload:
      `the Retrieve production bundle (functions/retrieve.ts handler) in a fresh Node process, ${calls} questions (hybrid search, k=6) against ` +
      `the ${table.rows.toLocaleString('en')}-chunk, 1,536-dimension table with its indexes as ensureIndexes builds them (full text, collection, IVF-RQ vector), LanceDB on local disk; peak RSS from /proc/self/status VmHWM`,
    baseline: 'the same bundle loaded in a fresh process, no question asked',
    figures: [
      {
        name: `peak RSS at ${table.rows / 1000}k chunks`,
        value: answering.peak / MB,
        unit: 'MB',
        baseline: loaded.peak / MB,
        target: { max: limit, text: `≤ ${limit} MB (its memoryMb)` },
      },
      {
        name: 'first question (opens the table and its indexes)',
        value: answering.ms[0] ?? Number.NaN,
        unit: 'ms',
      },
      { name: 'later questions: p50', value: percentile(answering.ms.slice(1), 50), unit: 'ms' },
      { name: 'later questions: p99', value: percentile(answering.ms.slice(1), 99), unit: 'ms' },
    ],
    notes: [
      'MB = 10^6 bytes. Lambda counts the same resident memory against the function’s memory size; the native module’s pages count only once touched.',
    ],
    details: {
      rows: table.rows,
      calls,
      memoryMb: limit,
      loadedOnly: { peakBytes: loaded.peak },
      answering: {
        afterLoadBytes: answering.afterLoad,
        peakBytes: answering.peak,
        passagesReturned: answering.passages,
        ms: summary(answering.ms),
      },
    },
  };
}
