import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

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

export interface FailureMetrics {
  /** Emits one count of `name` at once (Embedded Metric Format on stdout, which CloudWatch turns into a metric). */
  count(name: FailureMetric): void;
}

/** Powertools Metrics, one single-metric EMF line per count, so nothing waits for a flush at the end of a handler. */
export function createFailureMetrics(): FailureMetrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  return {
    count(name) {
      metrics.singleMetric().addMetric(name, MetricUnit.Count, 1);
    },
  };
}
