import { costOf } from './prices';
import type { QuestionResult, RunOutcome } from './run';

/**
 * The figures of one run. Shares are from 0 to 1, or null when no question counts towards them (no unanswerable
 * question, say).
 *
 * - hit@1, hit@3, hit@k: share of answerable questions with an expected section among the first 1, 3 or k
 *   retrieved sections; mrr: the mean of 1 / that section's rank (0 when not retrieved).
 * - answered: share of answerable questions the bot answered (did not decline); cited: share whose listed sources
 *   include an expected section; source-precision: share of the sources listed under answers that are expected.
 * - declined (refusal recall): share of unanswerable questions declined; refusal-precision: share of declines that
 *   were of unanswerable questions.
 * - language: share of answers in the question's language.
 */
export interface Summary {
  questions: number;
  answerable: number;
  unanswerable: number;
  topK: number;
  hit1: number | null;
  hit3: number | null;
  hitK: number | null;
  mrr: number | null;
  answered: number | null;
  cited: number | null;
  sourcePrecision: number | null;
  declined: number | null;
  refusalPrecision: number | null;
  language: number | null;
  /** Declines that still listed sources (always 0 with `answerSources`). */
  sourcesUnderDeclines: number;
  latencyMs: Record<
    'condense' | 'retrieve' | 'answer' | 'firstToken' | 'total',
    { p50: number; p95: number } | null
  >;
  tokens: { condense: TokenPair; embed: TokenPair; answer: TokenPair };
  /** USD at the prices of `prices.ts`; null when a model's price is unknown. */
  costUsd: number | null;
  costPerQuestionUsd: number | null;
}

interface TokenPair {
  input: number;
  output: number;
}

function share(items: boolean[]): number | null {
  return items.length === 0 ? null : items.filter(Boolean).length / items.length;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? 0;
}

function latency(values: number[]): { p50: number; p95: number } | null {
  return values.length === 0 ? null : { p50: percentile(values, 50), p95: percentile(values, 95) };
}

/** hit@n over the answerable questions. */
export function hitAt(results: QuestionResult[], n: number): number | null {
  const answerable = results.filter((r) => r.answerable);
  return share(answerable.map((r) => r.expectedRank !== null && r.expectedRank <= n));
}

export function summarize(outcome: RunOutcome): Summary {
  const { results } = outcome;
  const answerable = results.filter((r) => r.answerable);
  const unanswerable = results.filter((r) => !r.answerable);
  const answeredAnswerable = answerable.filter((r) => !r.declined);
  const declines = results.filter((r) => r.declined);
  const listed = answeredAnswerable.reduce((total, r) => total + r.sources.length, 0);
  const expectedListed = answeredAnswerable.reduce(
    (total, r) => total + r.sources.length - r.unexpectedSources,
    0,
  );
  const sum = (pick: (r: QuestionResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const tokens = {
    condense: {
      input: sum((r) => r.tokens.condense.inputTokens),
      output: sum((r) => r.tokens.condense.outputTokens),
    },
    embed: { input: sum((r) => r.tokens.embed), output: 0 },
    answer: {
      input: sum((r) => r.tokens.answer.inputTokens),
      output: sum((r) => r.tokens.answer.outputTokens),
    },
  };
  const chatCost = costOf(
    outcome.model,
    tokens.condense.input + tokens.answer.input,
    tokens.condense.output + tokens.answer.output,
  );
  const embedCost = costOf(outcome.embeddingModel, tokens.embed.input, 0);
  const costUsd = chatCost === undefined || embedCost === undefined ? null : chatCost + embedCost;
  const followUps = results.filter((r) => r.followUp);
  return {
    questions: results.length,
    answerable: answerable.length,
    unanswerable: unanswerable.length,
    topK: outcome.settings.topK,
    hit1: hitAt(results, 1),
    hit3: hitAt(results, 3),
    hitK: hitAt(results, outcome.settings.topK),
    mrr:
      answerable.length === 0
        ? null
        : answerable.reduce((total, r) => total + (r.expectedRank === null ? 0 : 1 / r.expectedRank), 0) /
          answerable.length,
    answered: share(answerable.map((r) => !r.declined)),
    cited: share(answerable.map((r) => r.citesExpected)),
    sourcePrecision: listed === 0 ? null : expectedListed / listed,
    declined: share(unanswerable.map((r) => r.declined)),
    refusalPrecision: share(declines.map((r) => !r.answerable)),
    language: share(results.map((r) => r.answerLanguage === r.language)),
    sourcesUnderDeclines: declines.filter((r) => r.sources.length > 0).length,
    latencyMs: {
      condense: latency(followUps.map((r) => r.ms.condense)),
      retrieve: latency(results.map((r) => r.ms.retrieve)),
      answer: latency(results.map((r) => r.ms.answer)),
      firstToken: latency(results.flatMap((r) => (r.ms.firstToken === null ? [] : [r.ms.firstToken]))),
      total: latency(results.map((r) => r.ms.condense + r.ms.retrieve + r.ms.answer)),
    },
    tokens,
    costUsd,
    costPerQuestionUsd: costUsd === null || results.length === 0 ? null : costUsd / results.length,
  };
}

/** The metrics `--min` accepts, and how each is read from a run. */
export const THRESHOLD_METRICS: Record<
  string,
  (summary: Summary, results: QuestionResult[]) => number | null
> = {
  mrr: (s) => s.mrr,
  answered: (s) => s.answered,
  cited: (s) => s.cited,
  'source-precision': (s) => s.sourcePrecision,
  declined: (s) => s.declined,
  'refusal-recall': (s) => s.declined,
  'refusal-precision': (s) => s.refusalPrecision,
  language: (s) => s.language,
};

export interface Threshold {
  metric: string;
  min: number;
}

/** Reads `hit@3=0.9`; throws a message for the usage when it is not one. */
export function parseThreshold(text: string): Threshold {
  const match = /^([a-z@0-9-]+)=([0-9.]+)$/i.exec(text.trim());
  if (match === null) throw new Error(`--min takes METRIC=VALUE, such as hit@3=0.9; got "${text}"`);
  const metric = (match[1] as string).toLowerCase();
  const min = Number(match[2]);
  if (!Number.isFinite(min) || min < 0 || min > 1)
    throw new Error(`--min ${metric}: the value must be from 0 to 1; got "${match[2]}"`);
  if (!/^hit@[1-9]\d?$/.test(metric) && !Object.hasOwn(THRESHOLD_METRICS, metric)) {
    throw new Error(
      `--min: unknown metric "${metric}"; known: hit@N (N from 1), ${Object.keys(THRESHOLD_METRICS).join(', ')}`,
    );
  }
  return { metric, min };
}

export interface ThresholdCheck extends Threshold {
  value: number | null;
  passed: boolean;
}

/** Each threshold against a run; a metric no question counts towards (null) fails, as nothing was shown. */
export function checkThresholds(
  thresholds: Threshold[],
  summary: Summary,
  results: QuestionResult[],
): ThresholdCheck[] {
  return thresholds.map((t) => {
    const hit = /^hit@(\d+)$/.exec(t.metric);
    const value = hit
      ? hitAt(results, Number(hit[1]))
      : Object.hasOwn(THRESHOLD_METRICS, t.metric)
        ? (THRESHOLD_METRICS[t.metric]?.(summary, results) ?? null)
        : null;
    return { ...t, value, passed: value !== null && value >= t.min };
  });
}
