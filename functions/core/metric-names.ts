/**
 * Every metric the functions emit, and every dimension they emit it with: one list, which the code that emits and
 * the stack's dashboard and alarms (infra/dashboard.ts, infra/slack-rag-bot-stack.ts) both import, so a metric the
 * dashboard reads is one the code writes. test/infra/dashboard.test.ts checks both ways, and scans the sources for a
 * metric name written anywhere else.
 *
 * All live in the `SlackRagBot` namespace (metrics.ts) with the `service` dimension Powertools adds.
 */
export const METRIC = {
  /**
   * Count: a question's workflow started (the ack, once per event: its claim makes it once). Forget requests are
   * not questions; questions past the daily limit or refused are not counted.
   */
  Questions: 'Questions',
  /** Count: an answer was given and stored (Persist turn wrote it) that cites the documents. */
  Answered: 'Answered',
  /** Count: the reply said the documents do not cover the question, or no documents are indexed yet. */
  Declined: 'Declined',
  /** Count: a Bedrock Guardrail (`bot:bedrockGuardrail`) blocked an answer; the asker got the polite reply. */
  GuardrailBlocked: 'GuardrailBlocked',
  /** Count: a person got the apology instead of an answer (Report failure). */
  Apologies: 'Apologies',
  /** Count: the ack answered Slack with a 5xx. */
  AckServerErrors: 'AckServerErrors',
  /** Count, with the `Vote` dimension (`positive` or `negative`): a feedback button clicked under an answer. */
  Feedback: 'Feedback',
  /** Milliseconds, with the `Step` dimension (a conversation state's name): one successful step invocation. */
  StepDuration: 'StepDuration',
  /** Count of model input tokens, with and without the `Model` dimension (Condense question, Generate). */
  InputTokens: 'InputTokens',
  /** Count of model output tokens, with and without the `Model` dimension. */
  OutputTokens: 'OutputTokens',
  /** Count: a document sync ended (its Report ran), committed or failed. */
  Syncs: 'Syncs',
  /** Count: a document sync that failed. */
  SyncFailures: 'SyncFailures',
  /** Count/second, one per sync that embedded: chunks embedded over the span of its embedding requests. */
  EmbeddedChunksPerSecond: 'EmbeddedChunksPerSecond',
  /** Count/second, one per sync that embedded: estimated tokens sent over the same span. */
  EmbeddingTokensPerSecond: 'EmbeddingTokensPerSecond',
  /** Count, per sync: 429 answers from the embedding provider that its batches waited out. */
  EmbeddingRateLimited: 'EmbeddingRateLimited',
  /** Milliseconds, per sync: time its batches waited for the embedding provider's rate limit (summed). */
  EmbeddingRateLimitWait: 'EmbeddingRateLimitWait',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The metrics that count events (one per emission), as opposed to durations and token counts. */
export type CountMetricName = Exclude<
  MetricName,
  | 'StepDuration'
  | 'InputTokens'
  | 'OutputTokens'
  | 'EmbeddedChunksPerSecond'
  | 'EmbeddingTokensPerSecond'
  | 'EmbeddingRateLimited'
  | 'EmbeddingRateLimitWait'
>;

/** The dimensions a metric is emitted with besides `service`. */
export const DIMENSION = {
  /** `Feedback`: `positive` or `negative`. */
  Vote: 'Vote',
  /** `StepDuration`: the state's name, one of CONVERSATION_STEPS. */
  Step: 'Step',
  /** `InputTokens`, `OutputTokens`: the model's name as recorded with the answer (`gpt-4.1-mini`). */
  Model: 'Model',
} as const;

export type DimensionName = (typeof DIMENSION)[keyof typeof DIMENSION];

/** The values of the `Vote` dimension. */
export const VOTES = ['positive', 'negative'] as const;

/**
 * The conversation state machine's Tasks, which emit `StepDuration` under these names (the states' names in
 * statemachine/conversation.asl.json; test/infra/dashboard.test.ts checks they agree).
 */
export const CONVERSATION_STEPS = [
  'Load history',
  'Condense question',
  'Retrieve',
  'Generate and stream',
  'Persist turn',
  'Forget thread',
  'Report failure',
] as const;
