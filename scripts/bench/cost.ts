import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { conversationFunctions } from '../../functions/conversation-functions';
import { benchAck } from './ack';
import { ACK_FUNCTION } from './cold-start';
import { type BenchContext, shared } from './context';
import {
  DYNAMODB_USD_PER_READ_REQUEST_UNIT,
  DYNAMODB_USD_PER_WRITE_REQUEST_UNIT,
  EXPRESS_DURATION_STEP_MS,
  EXPRESS_MEMORY_CHUNK_MB,
  EXPRESS_USD_PER_GB_SECOND,
  EXPRESS_USD_PER_REQUEST,
  LAMBDA_ARM64_USD_PER_GB_SECOND,
  LAMBDA_USD_PER_REQUEST,
  S3_USD_PER_GET,
  S3_USD_PER_PUT_OR_LIST,
} from './prices';
import { type Figure, type SectionResult, toReport } from './report';
import { measureRetrieveS3Requests } from './s3-requests';
import { median } from './stats';
import {
  CONVERSATIONS,
  indexSamples,
  measureWorkflow,
  STEPS,
  type StepName,
  type WorkflowMeasurements,
} from './workflow';

const QUESTIONS = 1000;

/**
 * What a model adds to the steps' durations, which the local provider does not have: an answer of about 300
 * tokens at ~50 tokens/s after ~1 s to the first token, a condensed question in ~1 s, and the query embedding in
 * ~0.3 s. An assumption, stated as such; the measured figures stand without it.
 */
const ASSUMED_MODEL_MS: Partial<Record<StepName, number>> = {
  'Condense question': 1000,
  Retrieve: 300,
  'Generate and stream': 7000,
};

interface StepCost {
  step: string;
  memoryMb: number;
  /** Invocations per question (Condense runs for follow-ups only). */
  invocationsPerQuestion: number;
  ms: number;
  gbSecondsPerQuestion: number;
}

function lambdaSteps(
  ackMs: number,
  m: WorkflowMeasurements,
  extraMs: Partial<Record<StepName, number>>,
): StepCost[] {
  const questions = m.directTotals.length;
  const steps: StepCost[] = [
    {
      step: 'Ack',
      memoryMb: ACK_FUNCTION.memoryMb,
      invocationsPerQuestion: 1,
      ms: ackMs,
      gbSecondsPerQuestion: 0,
    },
    ...(Object.keys(STEPS) as StepName[]).map((state) => ({
      step: state,
      memoryMb: conversationFunctions[STEPS[state]].memoryMb,
      invocationsPerQuestion: m.direct[state].length / questions,
      ms: median(m.direct[state]) + (extraMs[state] ?? 0),
      gbSecondsPerQuestion: 0,
    })),
  ];
  // Lambda bills each invocation's duration rounded up to the millisecond.
  for (const s of steps)
    s.gbSecondsPerQuestion = s.invocationsPerQuestion * (s.memoryMb / 1024) * (Math.ceil(s.ms) / 1000);
  return steps;
}

function expressUsd(totalMs: number): number {
  const billedSeconds = (Math.ceil(totalMs / EXPRESS_DURATION_STEP_MS) * EXPRESS_DURATION_STEP_MS) / 1000;
  return (
    EXPRESS_USD_PER_REQUEST + billedSeconds * (EXPRESS_MEMORY_CHUNK_MB / 1024) * EXPRESS_USD_PER_GB_SECOND
  );
}

const lambdaUsd = (steps: StepCost[]) =>
  steps.reduce(
    (usd, s) =>
      usd +
      s.invocationsPerQuestion * LAMBDA_USD_PER_REQUEST +
      s.gbSecondsPerQuestion * LAMBDA_ARM64_USD_PER_GB_SECOND,
    0,
  );

/** The baseline: one 1,024-MB Lambda doing the ack and every step in one invocation, no state machine. */
function oneLambdaUsd(steps: StepCost[]): number {
  const ms = steps.reduce((total, s) => total + s.invocationsPerQuestion * Math.ceil(s.ms), 0);
  return LAMBDA_USD_PER_REQUEST + (1024 / 1024) * (ms / 1000) * LAMBDA_ARM64_USD_PER_GB_SECOND;
}

/**
 * Section 8: what 1,000 questions cost in AWS list prices, from the durations measured in this run (the ack's,
 * and each step's as called directly: what Lambda bills), the functions' memory sizes from the registry, the
 * Express execution's measured duration, the DynamoDB request units dynalite reports for each step, and the S3
 * requests Retrieve makes with its table on S3 (s3rver behind a counting proxy). Model tokens are counted, not
 * priced.
 */
export async function benchCost(ctx: BenchContext): Promise<SectionResult> {
  const ackReport = ctx.reports.ack ?? toReport(await benchAck(ctx), 0);
  const ackMs = (ackReport.details.ack as { p50: number }).p50;
  const m = await shared(ctx, 'workflow', () => measureWorkflow(ctx));
  const lancedbDir = join(ctx.workDir, 'workflow-lancedb');
  if (!existsSync(lancedbDir)) await indexSamples(lancedbDir);
  ctx.log('cost: counting the S3 requests of Retrieve with its table on S3 (s3rver)');
  const questions = CONVERSATIONS.flat();
  const s3 = await measureRetrieveS3Requests(lancedbDir, questions);
  const s3PerQuestion = {
    get: s3.later.get / s3.laterQuestions,
    putOrList: s3.later.putOrList / s3.laterQuestions,
  };

  const measured = lambdaSteps(ackMs, m, {});
  const withModel = lambdaSteps(ackMs, m, ASSUMED_MODEL_MS);
  const followUps = m.direct['Condense question'].length / m.directTotals.length;
  const modelExtraMs =
    (ASSUMED_MODEL_MS['Generate and stream'] ?? 0) +
    (ASSUMED_MODEL_MS.Retrieve ?? 0) +
    followUps * (ASSUMED_MODEL_MS['Condense question'] ?? 0);
  const expressMeasured = expressUsd(median(m.workflowTotals));
  const expressWithModel = expressUsd(median(m.workflowTotals) + modelExtraMs);
  const read = Object.values(m.dynamodb.read).reduce((a, b) => a + b, 0);
  const write = Object.values(m.dynamodb.write).reduce((a, b) => a + b, 0);
  const dynamoUsd = read * DYNAMODB_USD_PER_READ_REQUEST_UNIT + write * DYNAMODB_USD_PER_WRITE_REQUEST_UNIT;
  const s3Usd = s3PerQuestion.get * S3_USD_PER_GET + s3PerQuestion.putOrList * S3_USD_PER_PUT_OR_LIST;
  const per1k = (usd: number) => usd * QUESTIONS;
  const total = lambdaUsd(measured) + expressMeasured + dynamoUsd + s3Usd;
  const totalWithModel = lambdaUsd(withModel) + expressWithModel + dynamoUsd + s3Usd;
  const baseline = oneLambdaUsd(measured) + dynamoUsd + s3Usd;
  const baselineWithModel = oneLambdaUsd(withModel) + dynamoUsd + s3Usd;

  const tokenFigures: Figure[] = [];
  for (const [step, t] of Object.entries(m.tokens)) {
    const embedding = step === 'Retrieve';
    if (t.input > 0)
      tokenFigures.push({
        name: `tokens per question: ${step}, ${embedding ? 'embedded' : 'prompt'}`,
        value: t.input,
        unit: 'tokens',
      });
    if (t.output > 0)
      tokenFigures.push({ name: `tokens per question: ${step}, reply`, value: t.output, unit: 'tokens' });
  }
  const lambdaRequests = measured.reduce((n, s) => n + s.invocationsPerQuestion, 0);
  return {
    key: 'cost',
    title: 'Cost per 1,000 questions (AWS list prices, us-east-1, without model tokens)',
    workload:
      `the durations measured in this run (ack p50 ${ackMs.toFixed(1)} ms; each step’s median as called directly; the Express execution’s median ${median(m.workflowTotals).toFixed(0)} ms), ` +
      `memory sizes from functions/conversation-functions.ts (ack ${ACK_FUNCTION.memoryMb} MB), half the questions follow-ups (Condense runs); DynamoDB request units as dynalite reports them per step; ` +
      `S3 requests of Retrieve with the sample-document table on s3rver (${s3.laterQuestions} warm questions); Lambda arm64, Express, DynamoDB on-demand, S3 Standard list prices checked 2026-11-24`,
    baseline:
      'one 1,024-MB Lambda doing the ack and every step in a single invocation, no state machine (the original single-Lambda design), same DynamoDB and S3 requests',
    figures: [
      { name: 'Lambda requests', value: lambdaRequests * QUESTIONS, unit: 'count', baseline: QUESTIONS },
      {
        name: 'Lambda (requests + GB-s)',
        value: per1k(lambdaUsd(measured)),
        unit: 'USD',
        baseline: per1k(oneLambdaUsd(measured)),
      },
      {
        name: 'Step Functions Express (requests + duration)',
        value: per1k(expressMeasured),
        unit: 'USD',
        baseline: 0,
      },
      { name: 'DynamoDB on-demand', value: per1k(dynamoUsd), unit: 'USD' },
      { name: 'S3 requests (Retrieve, warm)', value: per1k(s3Usd), unit: 'USD' },
      {
        name: 'total, as measured (local model)',
        value: per1k(total),
        unit: 'USD',
        baseline: per1k(baseline),
      },
      {
        name: 'total, with model latency (assumed: answer 7 s, condense 1 s, embedding 0.3 s)',
        value: per1k(totalWithModel),
        unit: 'USD',
        baseline: per1k(baselineWithModel),
      },
      ...tokenFigures,
    ],
    notes: [
      'Lambda bills a step while it waits for the model, so with a real model Generate and stream dominates: at 512 MB, each second of answer costs $0.0067 per 1,000 questions.',
      `Model cost: multiply the token counts by the model’s prices (tokens counted with o200k_base for the chat model, cl100k_base for embeddings; replies are the local extractive model’s, bounded by MAX_ANSWER_TOKENS=1024 with a real one). For example at $0.40/$1.60 per million input/output tokens (gpt-4.1-mini), the prompts and replies here cost $${(
        (Object.entries(m.tokens).reduce((n, [s, t]) => n + (s === 'Retrieve' ? 0 : t.input), 0) * 0.4 +
          Object.values(m.tokens).reduce((n, t) => n + t.output, 0) * 1.6) /
          1000
      ).toFixed(2)} per 1,000 questions.`,
      `S3: a cold Retrieve (new container) made ${s3.first.get} GETs and ${s3.first.putOrList} LISTs to open the table; a warm one ${s3PerQuestion.get.toFixed(1)} GETs and ${s3PerQuestion.putOrList.toFixed(1)} LISTs per question (the LISTs are the table-exists check). After its 30-s read-consistency interval a reader also re-checks the table version.`,
    ],
    details: {
      prices: {
        lambdaArm64PerGbSecond: LAMBDA_ARM64_USD_PER_GB_SECOND,
        lambdaPerRequest: LAMBDA_USD_PER_REQUEST,
        expressPerRequest: EXPRESS_USD_PER_REQUEST,
        expressPerGbSecond: EXPRESS_USD_PER_GB_SECOND,
        dynamodbPerWriteRequestUnit: DYNAMODB_USD_PER_WRITE_REQUEST_UNIT,
        dynamodbPerReadRequestUnit: DYNAMODB_USD_PER_READ_REQUEST_UNIT,
        s3PerGet: S3_USD_PER_GET,
        s3PerPutOrList: S3_USD_PER_PUT_OR_LIST,
      },
      lambdaSteps: measured.map((s) => ({
        ...s,
        ms: Math.round(s.ms * 10) / 10,
        usdPer1000Questions: per1k(
          s.invocationsPerQuestion * LAMBDA_USD_PER_REQUEST +
            s.gbSecondsPerQuestion * LAMBDA_ARM64_USD_PER_GB_SECOND,
        ),
      })),
      lambdaStepsWithModel: withModel.map((s) => ({
        step: s.step,
        ms: Math.round(s.ms),
        gbSecondsPerQuestion: s.gbSecondsPerQuestion,
      })),
      assumedModelMs: ASSUMED_MODEL_MS,
      expressMedianMs: median(m.workflowTotals),
      dynamodbPerQuestion: m.dynamodb,
      s3: s3,
      tokensPerQuestion: m.tokens,
    },
  };
}
