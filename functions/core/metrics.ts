import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EmbeddingThroughput } from './ingest/embedding-rate-limit';
import { type CountMetricName, DIMENSION, type DimensionName, METRIC } from './metric-names';
import type { TokenUsage } from './types';

/** The CloudWatch namespace of the default stack's metrics (and of local runs); the stack's alarms read there. */
export const METRICS_NAMESPACE = 'SlackRagBot';
/** The `service` dimension every metric of the default stack carries (Powertools adds it from `serviceName`). */
export const METRICS_SERVICE = 'slack-rag-bot';

/** Where one stack's metrics live: a second stack (`bot:stackName`) charts and alarms on its own. */
export interface MetricsNames {
  namespace: string;
  service: string;
}

/** A stack's namespace (its name) and service (its name in kebab case): `SlackRagBot`, `slack-rag-bot`. */
export function metricsNamesOf(stackName: string): MetricsNames {
  const service = stackName
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .toLowerCase();
  return { namespace: stackName, service };
}

/**
 * The names the stack gave this function (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME), else the
 * default stack's. Read here because Powertools lets options passed to its constructor win over the environment.
 */
function metricsNamesFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsNames {
  return {
    namespace: env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
    service: env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE,
  };
}

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
  /** A sync's embedding throughput and what the provider's rate limit cost it (the `Embedding…` metrics). */
  embedding(throughput: EmbeddingThroughput): void;
}

/** The name the runtime and Report failure have long used for the bot's metrics. */
export type FailureMetrics = BotMetrics;

/** Powertools Metrics, one EMF line per call. */
export function createBotMetrics(): BotMetrics {
  const { namespace, service } = metricsNamesFromEnv();
  const single = new Metrics({ namespace, serviceName: service });
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
      const metrics = new Metrics({ namespace, serviceName: service });
      metrics.addDimensions({ [DIMENSION.Model]: model });
      metrics.addDimensions({});
      metrics.addMetric(METRIC.InputTokens, MetricUnit.Count, usage.inputTokens);
      metrics.addMetric(METRIC.OutputTokens, MetricUnit.Count, usage.outputTokens);
      metrics.publishStoredMetrics();
    },
    embedding(throughput) {
      const metrics = new Metrics({ namespace, serviceName: service });
      metrics.addMetric(
        METRIC.EmbeddedChunksPerSecond,
        MetricUnit.CountPerSecond,
        throughput.chunksPerSecond,
      );
      metrics.addMetric(
        METRIC.EmbeddingTokensPerSecond,
        MetricUnit.CountPerSecond,
        throughput.tokensPerSecond,
      );
      metrics.addMetric(METRIC.EmbeddingRateLimited, MetricUnit.Count, throughput.rateLimited);
      metrics.addMetric(METRIC.EmbeddingRateLimitWait, MetricUnit.Milliseconds, throughput.waitedMs);
      metrics.publishStoredMetrics();
    },
  };
}

/** The former name of createBotMetrics. */
export const createFailureMetrics = createBotMetrics;
