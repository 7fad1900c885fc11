import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type CountMetricName, DIMENSION, type DimensionName, METRIC } from './metric-names';
import type { TokenUsage } from './types';

/** The CloudWatch namespace of the bot's own metrics; the stack's alarms read them from here. */
export const METRICS_NAMESPACE = 'SlackRagBot';
/** The `service` dimension every metric carries (Powertools adds it from `serviceName`). */
export const METRICS_SERVICE = 'slack-rag-bot';

/**
 * Failures an operator must see even when the Lambda itself succeeds:
 * - `AckServerErrors`: the ack answered Slack with a 5xx (Bolt returns its 500 as a response, so Lambda's
 *   Errors metric stays at 0);
 * - `Apologies`: a person got the apology instead of an answer.
 */
export type FailureMetric = 'AckServerErrors' | 'Apologies';

/**
 * The bot's metrics (names in metric-names.ts): each call writes one Embedded Metric Format line on stdout at once,
 * which CloudWatch turns into metrics, so nothing waits for a flush at the end of a handler.
 */
export interface BotMetrics {
  /** One count of `name`, with the dimensions given (`{ Vote: 'negative' }` for `Feedback`). */
  count(name: CountMetricName, dimensions?: Partial<Record<DimensionName, string>>): void;
  /** How long one successful invocation of a step took (`StepDuration`, by `Step`). */
  stepDuration(step: string, ms: number): void;
  /** Tokens a model call used (`InputTokens`, `OutputTokens`), by `Model` and in total. */
  tokens(model: string, usage: TokenUsage): void;
}

/** The name the runtime and Report failure have long used for the bot's metrics. */
export type FailureMetrics = BotMetrics;

/** Powertools Metrics, one EMF line per call. */
export function createBotMetrics(): BotMetrics {
  const single = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  return {
    count(name, dimensions = {}) {
      const metric = single.singleMetric();
      for (const [key, value] of Object.entries(dimensions)) {
        if (value !== undefined) metric.addDimension(key, value);
      }
      metric.addMetric(name, MetricUnit.Count, 1);
    },
    stepDuration(step, ms) {
      single
        .singleMetric()
        .addDimension(DIMENSION.Step, step)
        .addMetric(METRIC.StepDuration, MetricUnit.Milliseconds, ms);
    },
    tokens(model, usage) {
      if (usage.inputTokens <= 0 && usage.outputTokens <= 0) return;
      // One line, two dimension sets: per model for the dashboard, and in total (service only) for the daily
      // budget alarm, which cannot sum a SEARCH over every model.
      const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
      metrics.addDimensions({ [DIMENSION.Model]: model });
      metrics.addDimensions({});
      metrics.addMetric(METRIC.InputTokens, MetricUnit.Count, usage.inputTokens);
      metrics.addMetric(METRIC.OutputTokens, MetricUnit.Count, usage.outputTokens);
      metrics.publishStoredMetrics();
    },
  };
}

/** The former name of createBotMetrics. */
export const createFailureMetrics = createBotMetrics;
