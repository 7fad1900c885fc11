import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conversationFunctions } from '../../functions/conversation-functions';
import { chatModelFor } from '../../functions/core/models';
import type { Runtime } from '../../functions/core/runtime';
import type {
  AnswerResult,
  HistoryResult,
  RetrievalResult,
  StandaloneQuestion,
  Turn,
} from '../../functions/core/types';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import { indexSampleDocuments } from '../local/ingest-local';
import type { LocalStack } from '../local/stack';
import { LOCAL_TEAM_ID, REPO_ROOT, startLocalStack } from '../local/stack';
import type { BenchContext } from './context';
import type { Figure, SectionResult } from './report';
import { mean, median, percentile, sum, summary } from './stats';
import { chatTokens, embeddingTokens, PromptTokenRecorder } from './tokens';

const CHANNEL = 'C0BENCH0003';

/** A first question and a follow-up that points back at it, so that every state of the happy path runs. */
export const CONVERSATIONS: [string, string][] = [
  ['How do I rotate my VPN key?', 'How often do I have to do that?'],
  ['What is the meal limit when travelling?', 'Does that include alcohol?'],
  ['When must expenses be submitted?', 'What happens if I miss it?'],
  ['What happens in the first week?', 'Who do I ask about it?'],
  ['休暇はいつまでに申請しますか？', 'それは誰が承認しますか？'],
];

/** The Lambda steps, by ASL state name, in the order a follow-up runs them. */
export const STEPS = {
  'Load history': 'LoadHistoryFunctionArn',
  'Condense question': 'CondenseQuestionFunctionArn',
  Retrieve: 'RetrieveFunctionArn',
  'Generate and stream': 'GenerateAnswerFunctionArn',
  'Persist turn': 'PersistTurnFunctionArn',
} as const satisfies Record<string, keyof typeof conversationFunctions>;
export type StepName = keyof typeof STEPS;

type Handler = (input: unknown) => Promise<unknown>;

/** DynamoDB capacity consumed, by the label current when the request was made. */
export interface CapacityMeter {
  label: string | undefined;
  read: Record<string, number>;
  write: Record<string, number>;
  requests: Record<string, number>;
  /** Model tokens by step: prompt (input) and reply (output) of chat calls, and embedded text. */
  tokens: Record<string, { input: number; output: number }>;
}

function addTokens(meter: CapacityMeter, label: string, input: number, output: number): void {
  const entry = meter.tokens[label] ?? { input: 0, output: 0 };
  entry.input += input;
  entry.output += output;
  meter.tokens[label] = entry;
}

/**
 * Asks DynamoDB (dynalite) for the capacity each request consumes and adds it up under `meter.label`, so that a
 * step's request units are measured rather than estimated. Every request of the client gets the same extra
 * parameter, whichever path makes it.
 */
export function meterCapacity(client: DynamoDBDocumentClient): CapacityMeter {
  const meter: CapacityMeter = { label: undefined, read: {}, write: {}, requests: {}, tokens: {} };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const label = meter.label;
      if (label !== undefined) {
        // dynalite reports the total only (as DynamoDB does for single-item operations): reads are Get and Query.
        const units =
          (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity
            ?.CapacityUnits ?? 0;
        const kind = /^(Get|BatchGet|Query|Scan)/.test(context.commandName ?? '') ? meter.read : meter.write;
        kind[label] = (kind[label] ?? 0) + units;
        meter.requests[label] = (meter.requests[label] ?? 0) + 1;
      }
      return result;
    },
    { step: 'initialize', name: 'benchCapacityMeter' },
  );
  return meter;
}

interface TurnRun {
  /** Milliseconds per state (the local executor's trace for the workflow, the call itself for the baseline). */
  states: Partial<Record<StepName, number>>;
  total: number;
}

/** Indexes the sample documents through the ingest state machine, as `npm run demo` does. */
export function indexSamples(lancedbUri: string): Promise<number> {
  return indexSampleDocuments(lancedbUri, { LLM_PROVIDER: 'local' });
}

/** Binds the step handlers to a runtime, from the same modules the local executor (and CDK) use. */
function stepHandlers(runtime: Runtime): Record<StepName, Handler> {
  return Object.fromEntries(
    Object.entries(STEPS).map(([state, placeholder]) => {
      const module = require(join(REPO_ROOT, conversationFunctions[placeholder].entry)) as {
        createHandler(rt: Runtime): Handler;
      };
      return [state, module.createHandler(runtime)];
    }),
  ) as Record<StepName, Handler>;
}

/**
 * The baseline: the same step handlers called one after another in this process, with the inputs the ASL's
 * `Parameters` would give them; nothing between the calls.
 */
async function runDirectly(
  stack: LocalStack,
  handlers: Record<StepName, Handler>,
  meter: CapacityMeter,
  question: string,
  threadTs: string | undefined,
  index: number,
): Promise<TurnRun & { threadTs: string }> {
  const slack = await stack.runtime.slackClient();
  const mention = stack.slack.addMessage({
    channel: CHANNEL,
    text: `<@U0LOCALBOT> ${question}`,
    user: 'U0HUMAN001',
    thread_ts: threadTs,
  });
  const thread = threadTs ?? mention.ts;
  const placeholder = await slack.chat.postMessage({
    channel: CHANNEL,
    thread_ts: thread,
    text: 'Typing...',
  });
  const eventId = `EvBENCHDIRECT${String(index).padStart(4, '0')}`;
  const turn: Turn = {
    intent: 'question',
    eventId,
    teamId: LOCAL_TEAM_ID,
    channel: CHANNEL,
    threadTs: thread,
    messageTs: mention.ts,
    user: 'U0HUMAN001',
    question,
    placeholderTs: placeholder.ts as string,
  };
  // The ack's own DynamoDB writes, metered here since the baseline path has no ack.
  meter.label = 'Ack';
  const events = stack.runtime.eventStore();
  await events.claimEvent(eventId, Date.now(), 30_000);
  await events.markStarted(eventId, `direct-${index}`, turn.placeholderTs);

  const executionName = `direct-${index}`;
  const runId = `direct-run-${index}`;
  const states: TurnRun['states'] = {};
  const call = async <T>(state: StepName, input: unknown): Promise<T> => {
    meter.label = state;
    const started = performance.now();
    const output = (await handlers[state](input)) as T;
    states[state] = performance.now() - started;
    meter.label = undefined;
    return output;
  };
  const started = performance.now();
  const history = await call<HistoryResult>('Load history', { turn, executionName });
  const standalone: StandaloneQuestion =
    history.turnCount > 0
      ? await call<StandaloneQuestion>('Condense question', { turn, history, executionName })
      : { question: turn.question, condensed: false };
  if (standalone.condensed) addTokens(meter, 'Condense question', 0, chatTokens(standalone.question));
  // Retrieve embeds the standalone question as it is.
  addTokens(meter, 'Retrieve', embeddingTokens(standalone.question), 0);
  const retrieval = await call<RetrievalResult>('Retrieve', {
    turn,
    question: standalone.question,
    executionName,
  });
  const answer = await call<AnswerResult>('Generate and stream', {
    turn,
    question: standalone.question,
    retrieval,
    executionName,
    runId,
  });
  addTokens(meter, 'Generate and stream', 0, chatTokens(answer.text));
  await call('Persist turn', { turn, answer, standalone, executionName });
  if (answer.kind !== 'answer') throw new Error(`the baseline path gave no answer: ${answer.kind}`);
  return { states, total: performance.now() - started, threadTs: thread };
}

async function runThroughWorkflow(
  stack: LocalStack,
  question: string,
  threadTs: string | undefined,
): Promise<TurnRun & { threadTs: string; execution: ExecutionRecord }> {
  const sent = await stack.mention({ text: question, threadTs, channel: CHANNEL });
  if (sent.status !== 200) throw new Error(`the ack answered ${sent.status}`);
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
  );
  if (execution === undefined) throw new Error('no execution started');
  await execution.done;
  if (execution.status !== 'SUCCEEDED')
    throw new Error(`the execution ${execution.status}: ${execution.cause}`);
  const states: TurnRun['states'] = {};
  for (const entry of execution.trace) {
    if (entry.state in STEPS) states[entry.state as StepName] = entry.ms;
  }
  return {
    states,
    total: (execution.stopDate ?? 0) - execution.startDate,
    threadTs: sent.threadTs,
    execution,
  };
}

export interface WorkflowMeasurements {
  questions: number;
  /** Median ms per state: as the workflow ran it (local executor trace) and as called directly. */
  workflow: Record<StepName, number[]>;
  direct: Record<StepName, number[]>;
  workflowTotals: number[];
  directTotals: number[];
  /** DynamoDB capacity and requests per question, by step (the ack included). */
  dynamodb: { read: Record<string, number>; write: Record<string, number>; requests: Record<string, number> };
  /** Model tokens per question, by step (a mean over first questions and follow-ups alike). */
  tokens: Record<string, { input: number; output: number }>;
  /** What the workflow's state carried at the end of a follow-up, in bytes. */
  finalStateBytes: number;
}

/**
 * Section 3: the conversation state machine on the local executor (the same ASL as in AWS) with the `local`
 * provider, against the same step handlers called in sequence in one process. Each conversation is a first
 * question and a follow-up (so Condense runs), through the ack as Slack would send them; the two paths
 * alternate, turn by turn, so that a slow moment of the machine does not land on one side only.
 */
export async function measureWorkflow(ctx: BenchContext): Promise<WorkflowMeasurements> {
  const threads = ctx.quick ? 3 : 15;
  const lancedbUri = join(ctx.workDir, 'workflow-lancedb');
  ctx.log('workflow: indexing the sample documents');
  await indexSamples(lancedbUri);
  const stack = await startLocalStack({ lancedbUri, env: { LLM_PROVIDER: 'local' } });
  const meter = meterCapacity(stack.runtime.documentClient());
  // Prompts are counted where the model receives them, attributed to the step the baseline path is in.
  const model = await chatModelFor(stack.runtime);
  model.callbacks = [
    new PromptTokenRecorder((tokens) => {
      if (meter.label !== undefined) addTokens(meter, meter.label, tokens, 0);
    }),
  ];
  try {
    const handlers = stepHandlers(stack.runtime);
    const empty = () =>
      Object.fromEntries(Object.keys(STEPS).map((s) => [s, [] as number[]])) as Record<StepName, number[]>;
    const workflow = empty();
    const direct = empty();
    const workflowTotals: number[] = [];
    const directTotals: number[] = [];
    let finalStateBytes = 0;
    // One unmeasured conversation each way: connections, LanceDB's first open, JIT.
    for (const measured of [false, true]) {
      const count = measured ? threads : 1;
      ctx.log(`workflow: ${measured ? `${count} conversations of two turns each way` : 'warm-up'}`);
      for (let t = 0; t < count; t++) {
        const [first, followUp] = CONVERSATIONS[t % CONVERSATIONS.length] as [string, string];
        let viaWorkflow: string | undefined;
        let viaDirect: string | undefined;
        for (const question of [first, followUp]) {
          const order =
            (t + (question === first ? 0 : 1)) % 2 === 0 ? ['workflow', 'direct'] : ['direct', 'workflow'];
          for (const path of order) {
            if (path === 'workflow') {
              const run = await runThroughWorkflow(stack, question, viaWorkflow);
              viaWorkflow = run.threadTs;
              if (!measured) continue;
              workflowTotals.push(run.total);
              for (const [state, ms] of Object.entries(run.states)) workflow[state as StepName].push(ms);
              finalStateBytes = Math.max(finalStateBytes, JSON.stringify(run.execution.output ?? {}).length);
            } else {
              const run = await runDirectly(
                stack,
                handlers,
                meter,
                question,
                viaDirect,
                measured ? directTotals.length + 1 : 0,
              );
              viaDirect = run.threadTs;
              if (!measured) continue;
              directTotals.push(run.total);
              for (const [state, ms] of Object.entries(run.states)) direct[state as StepName].push(ms);
            }
          }
        }
        if (!measured) {
          meter.read = {};
          meter.write = {};
          meter.requests = {};
          meter.tokens = {};
        }
      }
    }
    const perQuestion = (values: Record<string, number>) =>
      Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v / directTotals.length]));
    return {
      questions: directTotals.length,
      workflow,
      direct,
      workflowTotals,
      directTotals,
      dynamodb: {
        read: perQuestion(meter.read),
        write: perQuestion(meter.write),
        requests: perQuestion(meter.requests),
      },
      tokens: Object.fromEntries(
        Object.entries(meter.tokens).map(([step, t]) => [
          step,
          { input: t.input / directTotals.length, output: t.output / directTotals.length },
        ]),
      ),
      finalStateBytes,
    };
  } finally {
    await stack.close();
  }
}

export async function benchWorkflow(ctx: BenchContext): Promise<SectionResult> {
  const m = await measureWorkflow(ctx);
  ctx.shared.set('workflow', Promise.resolve(m));
  const overhead = median(m.workflowTotals) - median(m.directTotals);
  const figures: Figure[] = [
    ...(Object.keys(STEPS) as StepName[]).map((state) => ({
      name: `${state}${state === 'Condense question' ? ' (follow-ups)' : ''}: median`,
      value: median(m.workflow[state]),
      unit: 'ms' as const,
      baseline: median(m.direct[state]),
    })),
    {
      name: 'whole question: median',
      value: median(m.workflowTotals),
      unit: 'ms',
      baseline: median(m.directTotals),
    },
    {
      name: 'whole question: p90',
      value: percentile(m.workflowTotals, 90),
      unit: 'ms',
      baseline: percentile(m.directTotals, 90),
    },
    {
      name: 'orchestration overhead per question (median − median)',
      value: overhead,
      unit: 'ms',
      target: { max: 100 },
    },
    {
      name: 'orchestration overhead per question (mean − mean)',
      value: mean(m.workflowTotals) - mean(m.directTotals),
      unit: 'ms',
      target: { max: 100 },
    },
  ];
  const stateOverhead = (Object.keys(STEPS) as StepName[]).map(
    (s) => `${s} ${(median(m.workflow[s]) - median(m.direct[s])).toFixed(1)} ms`,
  );
  return {
    key: 'workflow',
    title: 'Workflow: the conversation state machine',
    workload:
      `${m.questions / 2} conversations of two turns (a first question, then a follow-up that needs condensing: ${m.questions} questions each way) ` +
      'through statemachine/conversation.asl.json on the local executor, local provider, the sample documents indexed; states timed by the executor’s event log, the whole from StartExecution to the end',
    baseline:
      'the same step handlers (functions/*.ts createHandler, same runtime and stand-ins) called in sequence in one process with the inputs the ASL passes, alternating turn by turn with the workflow',
    figures,
    notes: [
      `Per state, workflow minus direct (median): ${stateOverhead.join('; ')}. The rest of the overhead is the executor’s Choice and Pass states, JSONPath, and starting the execution.`,
      'Generate and stream includes the streamer’s wait before its final edit (at least 1 s after the first edit), the same in both paths; the local model answers at once, so with a real model the states last longer and the overhead stays the same.',
      'In AWS each Task is also a Lambda invoke (tens of ms, more on a cold start), which the local executor does not have; this measures what the state machine itself adds.',
    ],
    details: {
      questions: m.questions,
      workflowStatesMs: Object.fromEntries(Object.entries(m.workflow).map(([k, v]) => [k, summary(v)])),
      directStatesMs: Object.fromEntries(Object.entries(m.direct).map(([k, v]) => [k, summary(v)])),
      workflowTotalMs: summary(m.workflowTotals),
      directTotalMs: summary(m.directTotals),
      directSumOfStatesMs: Math.round(sum(Object.values(m.direct).map((v) => median(v)))),
      finalStateBytes: m.finalStateBytes,
      dynamodbPerQuestion: m.dynamodb,
      tokensPerQuestion: m.tokens,
    },
  };
}
