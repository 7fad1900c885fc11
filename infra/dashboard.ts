import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import {
  CONVERSATION_STEPS,
  DIMENSION,
  type DimensionName,
  METRIC,
  type MetricName,
  VOTES,
} from '../functions/core/metric-names';
import { type MetricsNames, metricsNamesOf } from '../functions/core/metrics';
import { priceOf } from '../scripts/eval/prices';
import type { BotConfig } from './config';

const DAY = Duration.days(1);
const HOUR = Duration.hours(1);

/** One of the bot's own metrics (metric-names.ts), with the `service` dimension every emission carries. */
export function botMetric(
  names: MetricsNames,
  name: MetricName,
  options: {
    statistic?: string;
    period?: Duration;
    dimensions?: Partial<Record<DimensionName, string>>;
    label?: string;
  } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: names.namespace,
    metricName: name,
    dimensionsMap: { service: names.service, ...options.dimensions },
    statistic: options.statistic ?? 'Sum',
    period: options.period ?? DAY,
    ...(options.label !== undefined ? { label: options.label } : {}),
  });
}

/**
 * Tokens of every model in the last 24 hours: input and output, from the total the functions emit beside the per-model
 * figures (an alarm cannot sum a SEARCH over every model).
 */
export function dailyTokens(names: MetricsNames): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'tokensIn + tokensOut',
    usingMetrics: {
      tokensIn: botMetric(names, METRIC.InputTokens),
      tokensOut: botMetric(names, METRIC.OutputTokens),
    },
    period: DAY,
    label: 'Tokens (all models)',
  });
}

/** Every model's tokens of one kind, a line per model: the `Model` dimension's values are not known at synth time. */
function tokensPerModel(names: MetricsNames, name: MetricName, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${names.namespace},${DIMENSION.Model},service} MetricName="${name}" service="${names.service}"', 'Sum', 86400)`,
    usingMetrics: {},
    period: DAY,
    label,
  });
}

/** The model the answers record: the configured chat model, or the offline one. */
function chatModelName(config: BotConfig): string {
  return config.llmProvider === 'local' ? 'local-extractive' : config.chatModel;
}

/**
 * The estimated daily cost of the chat model (Condense question and Generate), from its list price in
 * scripts/eval/prices.ts; undefined when that price is unknown.
 */
function dailyCost(names: MetricsNames, model: string): cloudwatch.MathExpression | undefined {
  const price = priceOf(model);
  if (price === undefined) return undefined;
  const dimensions = { [DIMENSION.Model]: model };
  return new cloudwatch.MathExpression({
    expression: `(costIn * ${price.input} + costOut * ${price.output}) / 1000000`,
    usingMetrics: {
      costIn: botMetric(names, METRIC.InputTokens, { dimensions }),
      costOut: botMetric(names, METRIC.OutputTokens, { dimensions }),
    },
    period: DAY,
    label: `${model}, USD (at $${price.input} in / $${price.output} out per million tokens)`,
  });
}

export interface UsageDashboardProps {
  config: BotConfig;
}

/**
 * The usage dashboard: questions per day and what became of them (answered, declined, failed), feedback, p50 and p95
 * of each conversation step, tokens per model per day with the chat model's estimated cost, and document syncs. Every
 * metric it reads is one the functions emit (functions/core/metric-names.ts).
 */
export class UsageDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: UsageDashboardProps) {
    super(scope, id);
    const { config } = props;
    const names = metricsNamesOf(Stack.of(this).stackName);
    const model = chatModelName(config);
    const cost = dailyCost(names, model);
    const width = 12;
    const height = 6;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-usage`,
      defaultInterval: Duration.days(14),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '# Slack RAG bot: usage\nDaily sums unless stated. Failed: the apology was posted instead of an answer. ' +
          'Export the questions behind the votes with `npm run feedback -- export` (docs/evaluation.md, "Usage and feedback").',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Questions per day, and what became of them',
        left: [
          botMetric(names, METRIC.Questions, { label: 'Questions' }),
          botMetric(names, METRIC.Answered, { label: 'Answered' }),
          botMetric(names, METRIC.Declined, { label: 'Declined (not in the documents)' }),
          botMetric(names, METRIC.GuardrailBlocked, { label: 'Blocked by the guardrail (polite reply)' }),
          botMetric(names, METRIC.Apologies, { label: 'Failed (apology)' }),
        ],
        leftYAxis: { min: 0, showUnits: false },
        width,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Feedback per day',
        left: VOTES.map((vote) =>
          botMetric(names, METRIC.Feedback, {
            dimensions: { [DIMENSION.Vote]: vote },
            label: `${vote} votes`,
          }),
        ),
        leftYAxis: { min: 0, showUnits: false },
        width,
        height,
      }),
    );
    this.dashboard.addWidgets(
      ...(['p50', 'p95'] as const).map(
        (statistic) =>
          new cloudwatch.GraphWidget({
            title: `Step duration, ${statistic} (ms, hourly)`,
            left: CONVERSATION_STEPS.map((step) =>
              botMetric(names, METRIC.StepDuration, {
                statistic,
                period: HOUR,
                dimensions: { [DIMENSION.Step]: step },
                label: step,
              }),
            ),
            leftYAxis: { min: 0, showUnits: false },
            width,
            height,
          }),
      ),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Tokens per model per day',
        left: [
          tokensPerModel(names, METRIC.InputTokens, 'input'),
          tokensPerModel(names, METRIC.OutputTokens, 'output'),
        ],
        leftYAxis: { min: 0, showUnits: false },
        width,
        height,
      }),
      cost === undefined
        ? new cloudwatch.TextWidget({
            markdown: `## Estimated cost\nNo list price is known for \`${model}\` (scripts/eval/prices.ts): its tokens are on the left.`,
            width,
            height,
          })
        : new cloudwatch.GraphWidget({
            title: 'Estimated chat model cost per day (USD, list price; embeddings not included)',
            left: [cost],
            leftYAxis: { min: 0, showUnits: false },
            width,
            height,
          }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Document syncs per day',
        left: [
          botMetric(names, METRIC.Syncs, { label: 'Syncs' }),
          botMetric(names, METRIC.SyncFailures, { label: 'Failed syncs' }),
        ],
        leftYAxis: { min: 0, showUnits: false },
        width,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: "Sync embedding throughput, and the provider's rate limit",
        left: [
          botMetric(names, METRIC.EmbeddedChunksPerSecond, { statistic: 'Average', label: 'Chunks/s' }),
          botMetric(names, METRIC.EmbeddingTokensPerSecond, {
            statistic: 'Average',
            label: 'Tokens/s (estimated)',
          }),
        ],
        right: [
          botMetric(names, METRIC.EmbeddingRateLimited, { label: '429s waited out' }),
          botMetric(names, METRIC.EmbeddingRateLimitWait, { label: 'Time waited (ms)' }),
        ],
        leftYAxis: { min: 0, showUnits: false },
        rightYAxis: { min: 0, showUnits: false },
        width,
        height,
      }),
      new cloudwatch.GraphWidget({
        title: 'Ack 5xx per day (Slack retries these)',
        left: [botMetric(names, METRIC.AckServerErrors, { label: 'Ack 5xx' })],
        leftYAxis: { min: 0, showUnits: false },
        width,
        height,
      }),
    );
  }
}
