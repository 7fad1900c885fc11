import { dirname, join } from 'node:path';
import { PLACEHOLDER_TEXT } from '../../functions/core/ack/ack-app';
import type { Env } from '../../functions/core/config';
import {
  type BundledFunction as RunningBundle,
  startBundledFunction,
} from '../../stand-ins/aws/bundled-function';
import { ACK_ENTRY, type LocalStack, startLocalStack } from '../local/stack';
import {
  AWS_API_CALL,
  COLD_START_PLATFORM,
  EXPRESS_START,
  FUNCTION_URL_INVOKE,
  TASK_INVOKE,
} from './aws-latency';
import { type BundledFunction, bundleFunctions } from './cold-start';
import { type BenchContext, shared } from './context';
import type { Figure, SectionResult } from './report';
import { median, summary } from './stats';
import { CONVERSATIONS, indexSamples } from './workflow';

const CHANNEL = 'C0BENCH0004';
const ENV: Env = { LLM_PROVIDER: 'local' };

/**
 * The states before the first answer token, by the function behind them, in the order a follow-up runs them
 * (Condense question only for a follow-up). Persist turn runs after the answer.
 */
const PATH = [
  { state: 'Load history', entry: 'functions/load-history.ts' },
  { state: 'Condense question', entry: 'functions/condense-question.ts' },
  { state: 'Retrieve', entry: 'functions/retrieve.ts' },
  { state: 'Generate and stream', entry: 'functions/generate-answer.ts' },
] as const;

/**
 * The AWS calls on the path to the first token: the ack claims the event and starts the execution (its other
 * calls, marking the event started and setting the thread's status, run beside the execution), Load history
 * queries the thread, Generate and stream claims the answer, checks the thread's history and sets the thread's
 * status ("writing the answer…") before it calls the model.
 */
const API_CALLS_TO_FIRST_TOKEN = 6;
const API_CALLS_IN_ACK = 3;
/** The functions on the path that read a secret on their first invocation in AWS (the OpenAI key, Slack's). */
const COLD_SECRET_READS = { first: 3, followUp: 4 };

interface QuestionRun {
  /** Slack's request to the ack's 200. */
  ackMs: number;
  /** Slack's request to the answer's first text in the thread (the placeholder's first edit). */
  firstTextMs: number;
  /** Each Task's duration, by state, as the executor timed it. */
  states: Record<string, number>;
  threadTs: string;
}

/** Sends one signed mention, waits for its execution, and reads when the first answer text reached Slack. */
async function ask(stack: LocalStack, question: string, threadTs: string | undefined): Promise<QuestionRun> {
  const sentAt = Date.now();
  const started = performance.now();
  const sent = await stack.mention({ text: question, threadTs, channel: CHANNEL });
  const ackMs = performance.now() - started;
  if (sent.status !== 200) throw new Error(`the ack answered ${sent.status}: ${sent.body}`);
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
  );
  if (execution === undefined) throw new Error('no execution started');
  await execution.done;
  if (execution.status !== 'SUCCEEDED')
    throw new Error(`the execution ${execution.status}: ${execution.cause}`);
  const placeholderTs = (execution.input as { turn: { placeholderTs: string } }).turn.placeholderTs;
  const message = stack.slack.threadReplies(sent.channel, sent.threadTs).find((m) => m.ts === placeholderTs);
  const firstText = message?.updates.find((u) => u.text !== PLACEHOLDER_TEXT);
  if (firstText === undefined) throw new Error('the answer never reached the placeholder');
  const states: Record<string, number> = {};
  for (const entry of execution.trace) states[entry.state] = entry.ms;
  return { ackMs, firstTextMs: firstText.at - sentAt, states, threadTs: sent.threadTs };
}

interface Runs {
  ack: number[];
  first: number[];
  followUp: number[];
  states: Record<string, number[]>;
}

const emptyRuns = (): Runs => ({ ack: [], first: [], followUp: [], states: {} });

function record(runs: Runs, run: QuestionRun, followUp: boolean): void {
  runs.ack.push(run.ackMs);
  (followUp ? runs.followUp : runs.first).push(run.firstTextMs);
  for (const [state, ms] of Object.entries(run.states)) {
    const times = runs.states[state] ?? [];
    times.push(ms);
    runs.states[state] = times;
  }
}

const medianOf = (values: number[] | undefined) => (values === undefined ? 0 : median(values));

/**
 * Section: one question end to end, in AWS terms. Measured here: Slack's signed request to the ack's 200, and to
 * the answer's first text in the thread, with every function run from its production bundle in its own Node
 * process (as its Lambda runs it: stand-ins/aws/bundled-function.ts), warm and with every function on the path
 * cold, and the local provider, whose model answers at once, so that the model's own time is left out. Then what
 * AWS adds that the stand-ins do not have (scripts/bench/aws-latency.ts, each figure with its source) gives the
 * totals in AWS terms.
 */
export async function benchEndToEnd(ctx: BenchContext): Promise<SectionResult> {
  const warmConversations = ctx.quick ? 2 : 6;
  const coldConversations = ctx.quick ? 1 : 4;
  const bundles = await shared<BundledFunction[]>(ctx, 'bundles', () => bundleFunctions(ctx.workDir));
  const lancedbUri = join(ctx.workDir, 'end-to-end-lancedb');
  ctx.log('endToEnd: indexing the sample documents');
  await indexSamples(lancedbUri);

  const running = new Map<string, RunningBundle>();
  const processes = await startLocalStack({
    lancedbUri,
    env: ENV,
    runFunction: (entry, env) => {
      const bundle = bundles.find((b) => b.entry === entry);
      if (bundle === undefined) throw new Error(`no bundle for ${entry}`);
      const fn = startBundledFunction(bundle.handlerFile, env, { cwd: dirname(bundle.file) });
      running.set(entry, fn);
      return fn.invoke;
    },
  });
  const inProcess = await startLocalStack({ lancedbUri, env: ENV });
  /** Ends every function's process: the next invocation of each is a cold start. */
  const recycle = () => Promise.all([...running.values()].map((fn) => fn.close()));

  const warm = emptyRuns();
  const baseline = emptyRuns();
  const cold = emptyRuns();
  try {
    for (const measured of [false, true]) {
      const count = measured ? warmConversations : 1;
      ctx.log(`endToEnd: ${measured ? `${count} warm conversations each way` : 'warm-up'}`);
      for (let t = 0; t < count; t++) {
        const [first, followUp] = CONVERSATIONS[t % CONVERSATIONS.length] as [string, string];
        const threads = new Map<LocalStack, string>();
        for (const question of [first, followUp]) {
          const order =
            (t + (question === first ? 0 : 1)) % 2 === 0 ? [processes, inProcess] : [inProcess, processes];
          for (const stack of order) {
            const run = await ask(stack, question, threads.get(stack));
            threads.set(stack, run.threadTs);
            if (measured) record(stack === processes ? warm : baseline, run, question === followUp);
          }
        }
      }
    }
    ctx.log(`endToEnd: ${coldConversations} conversations with every function cold for each question`);
    for (let t = 0; t < coldConversations; t++) {
      const [first, followUp] = CONVERSATIONS[(t + 1) % CONVERSATIONS.length] as [string, string];
      await recycle();
      const run = await ask(processes, first, undefined);
      record(cold, run, false);
      await recycle();
      record(cold, await ask(processes, followUp, run.threadTs), true);
    }
  } finally {
    await processes.close();
    await inProcess.close();
    await recycle();
  }

  const firstTasks = PATH.filter((p) => p.state !== 'Condense question').length;
  const awsWarm = (tasks: number) =>
    FUNCTION_URL_INVOKE.ms +
    API_CALLS_TO_FIRST_TOKEN * AWS_API_CALL.ms +
    EXPRESS_START.ms +
    tasks * TASK_INVOKE.ms;
  const awsCold = (functions: number, secretReads: number) =>
    functions * COLD_START_PLATFORM.ms + secretReads * AWS_API_CALL.ms;
  const totals = {
    firstWarm: medianOf(warm.first) + awsWarm(firstTasks),
    followUpWarm: medianOf(warm.followUp) + awsWarm(firstTasks + 1),
    firstCold: medianOf(cold.first) + awsWarm(firstTasks) + awsCold(firstTasks + 1, COLD_SECRET_READS.first),
    followUpCold:
      medianOf(cold.followUp) + awsWarm(firstTasks + 1) + awsCold(firstTasks + 2, COLD_SECRET_READS.followUp),
    ackWarm: medianOf(warm.ack) + FUNCTION_URL_INVOKE.ms + API_CALLS_IN_ACK * AWS_API_CALL.ms,
    ackCold: medianOf(cold.ack) + FUNCTION_URL_INVOKE.ms + API_CALLS_IN_ACK * AWS_API_CALL.ms + awsCold(1, 1),
  };

  const figures: Figure[] = [
    {
      name: 'measured: ack, request → 200, warm (median)',
      value: medianOf(warm.ack),
      unit: 'ms',
      baseline: medianOf(baseline.ack),
    },
    {
      name: 'measured: first question, request → first answer text, warm (median)',
      value: medianOf(warm.first),
      unit: 'ms',
      baseline: medianOf(baseline.first),
    },
    {
      name: 'measured: follow-up, request → first answer text, warm (median)',
      value: medianOf(warm.followUp),
      unit: 'ms',
      baseline: medianOf(baseline.followUp),
    },
    { name: 'measured: ack, request → 200, cold (median)', value: medianOf(cold.ack), unit: 'ms' },
    {
      name: 'measured: first question, every function cold (median)',
      value: medianOf(cold.first),
      unit: 'ms',
    },
    { name: 'measured: follow-up, every function cold (median)', value: medianOf(cold.followUp), unit: 'ms' },
    {
      name: 'AWS: Function URL and the ack’s invoke (assumed)',
      value: FUNCTION_URL_INVOKE.ms,
      unit: 'ms',
    },
    {
      name: `AWS: ${API_CALLS_TO_FIRST_TOKEN} API calls before the first token, ${AWS_API_CALL.ms} ms each`,
      value: API_CALLS_TO_FIRST_TOKEN * AWS_API_CALL.ms,
      unit: 'ms',
    },
    { name: 'AWS: Express execution start (assumed)', value: EXPRESS_START.ms, unit: 'ms' },
    {
      name: `AWS: Task invokes, ${firstTasks} (${firstTasks + 1} for a follow-up) × ${TASK_INVOKE.ms} ms (assumed)`,
      value: firstTasks * TASK_INVOKE.ms,
      unit: 'ms',
    },
    {
      name: `AWS cold: Lambda’s part, ${firstTasks + 1} functions (${firstTasks + 2} for a follow-up) × ${COLD_START_PLATFORM.ms} ms`,
      value: (firstTasks + 1) * COLD_START_PLATFORM.ms,
      unit: 'ms',
    },
    {
      name: `AWS cold: first secret reads, ${COLD_SECRET_READS.first} (${COLD_SECRET_READS.followUp}) × ${AWS_API_CALL.ms} ms`,
      value: COLD_SECRET_READS.first * AWS_API_CALL.ms,
      unit: 'ms',
    },
    { name: 'first question, warm: to the first token, in AWS terms', value: totals.firstWarm, unit: 'ms' },
    { name: 'follow-up, warm: to the first token, in AWS terms', value: totals.followUpWarm, unit: 'ms' },
    {
      name: 'first question, every function cold: to the first token, in AWS terms',
      value: totals.firstCold,
      unit: 'ms',
    },
    {
      name: 'follow-up, every function cold: to the first token, in AWS terms',
      value: totals.followUpCold,
      unit: 'ms',
    },
    {
      name: 'ack, warm: Slack’s request to the 200, in AWS terms',
      value: totals.ackWarm,
      unit: 'ms',
      target: { max: 3000, text: '≤ 3,000 ms (Slack’s limit)' },
    },
    {
      name: 'ack, cold: Slack’s request to the 200, in AWS terms',
      value: totals.ackCold,
      unit: 'ms',
      target: { max: 3000, text: '≤ 3,000 ms (Slack’s limit)' },
    },
  ];

  const perState = (runs: Runs) =>
    PATH.map(({ state }) => `${state} ${medianOf(runs.states[state]).toFixed(0)} ms`).join(', ');
  const coldExtra = [
    `ack ${(medianOf(cold.ack) - medianOf(warm.ack)).toFixed(0)} ms`,
    ...PATH.map(
      ({ state }) =>
        `${state} ${(medianOf(cold.states[state]) - medianOf(warm.states[state])).toFixed(0)} ms`,
    ),
  ].join(', ');
  const generate = medianOf(warm.states['Generate and stream']);
  return {
    key: 'endToEnd',
    title: 'One question end to end, in AWS terms',
    workload:
      `${warmConversations} conversations of two turns warm (after one unmeasured), then ${coldConversations} with every function's process ended before each turn (a cold start of each function on the path); ` +
      'signed app_mention deliveries to the ack, the conversation ASL on the local executor, every function from its production bundle in its own Node process (stand-ins/aws/bundled-function.ts), local provider (the model answers at once, so its own time is left out), the sample documents on local disk; ' +
      'first answer text = the placeholder’s first edit in the fake Slack. The AWS rows come from scripts/bench/aws-latency.ts',
    baseline:
      'the same questions with the ack and every step imported into this process (the local stack as npm run dev runs them), warm, turn by turn with the bundles',
    figures,
    notes: [
      `Per Task, warm (median): ${perState(warm)}; every function cold: ${perState(cold)}. A cold start adds (median, cold − warm): ${coldExtra}: Node's boot, the bundle's load and the first invocation's extra work, on this machine.`,
      'The ack’s 200 here also waits behind the first states of the execution it started, which the local executor runs in this same process (in AWS they run elsewhere): the ack section measures the ack alone. Its AWS-terms figures are on the safe side.',
      `Totals in AWS terms: what was measured here, plus the AWS rows (a follow-up adds a Task invoke, a cold function and a secret read). Generate and stream lasts ${generate.toFixed(0)} ms warm because it waits at least 1 s before its final edit; only its part before the model's first token is on this path.`,
      `Sources: ${AWS_API_CALL.source}; Function URL: ${FUNCTION_URL_INVOKE.source}; Express start: ${EXPRESS_START.source}; Task invoke: ${TASK_INVOKE.source}; cold start: ${COLD_START_PLATFORM.source}. Every Lambda and the state machine have X-Ray active tracing: a deployed stack's trace timeline replaces the assumptions.`,
      'Left out: the model’s own time (time to its first token), Slack’s API latency (the placeholder post in the ack, the first edit; Slack publishes none), and Retrieve reading LanceDB from S3 instead of local disk: add the retrievalS3 section’s warm figure for the table size at hand.',
    ],
    details: {
      warm: { ack: summary(warm.ack), first: summary(warm.first), followUp: summary(warm.followUp) },
      inProcess: {
        ack: summary(baseline.ack),
        first: summary(baseline.first),
        followUp: summary(baseline.followUp),
      },
      cold: { ack: summary(cold.ack), first: summary(cold.first), followUp: summary(cold.followUp) },
      statesMs: {
        warm: Object.fromEntries(Object.entries(warm.states).map(([k, v]) => [k, summary(v)])),
        cold: Object.fromEntries(Object.entries(cold.states).map(([k, v]) => [k, summary(v)])),
      },
      aws: { AWS_API_CALL, FUNCTION_URL_INVOKE, EXPRESS_START, TASK_INVOKE, COLD_START_PLATFORM },
      totalsMs: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, Math.round(v)])),
      ackEntry: ACK_ENTRY,
    },
  };
}
