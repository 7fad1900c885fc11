import type { Env } from '../../functions/core/config';

/**
 * The settings a person may give the local commands through their shell (which model, which provider, limits).
 * Endpoints, tables and Slack secrets are the local stack's own and are never taken from the shell.
 */
const PASSED_THROUGH = [
  'LLM_PROVIDER',
  'OPENAI_API_KEY',
  'OPENAI_MODEL',
  'OPENAI_TEMPERATURE',
  'OPENAI_EMBEDDING_MODEL',
  'OPENAI_BASE_URL',
  'OPENAI_TIMEOUT_MS',
  'OPENAI_MAX_RETRIES',
  // Amazon Bedrock (LLM_PROVIDER=bedrock): the local commands start its stand-in (scripts/local/bedrock-stand-in.ts).
  'BEDROCK_REGION',
  'EMBEDDING_DIMENSIONS',
  'BEDROCK_GUARDRAIL',
  'MAX_ANSWER_TOKENS',
  'LANCEDB_TABLE',
  // LanceDB Cloud, when LANCEDB_URI is db://… (README, "LanceDB Cloud").
  'LANCEDB_API_KEY',
  'LANCEDB_REGION',
  'LANCEDB_HOST_OVERRIDE',
  'RETRIEVE_TOP_K',
  'HISTORY_MAX_TURNS',
  'HISTORY_MAX_CHARS',
  'HISTORY_TTL_DAYS',
  'SLACK_STREAM_MODE',
  'MAX_QUESTION_CHARS',
  'LOG_LEVEL',
  // Who may read what: the local stack answers as a deployment with these settings would.
  'CHANNEL_COLLECTIONS',
  'COLLECTION_AUDIENCES',
  'ALLOWED_CHANNELS',
  'FOLLOW_UPS',
  'USER_GROUPS_CACHE_SECONDS',
  // Assistants per channel: `npm run dev` answers each channel with its profile, `npm run eval` compares them.
  'CHANNEL_PROFILES',
];

export function shellSettings(env: Env = process.env): Env {
  return Object.fromEntries(
    PASSED_THROUGH.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]),
  );
}

/** Besides the model settings every local command takes, the ingest's own tuning and an S3 endpoint. */
export function ingestSettings(env: Env = process.env): Env {
  const names = Object.keys(env).filter(
    (name) => name.startsWith('INGEST_') || name === 'S3_ENDPOINT' || name === 'AWS_REGION',
  );
  return { ...shellSettings(env), ...Object.fromEntries(names.map((name) => [name, env[name]])) };
}

/** The vector store the local commands use: LANCEDB_URI when set, else `.local/lancedb`. */
export function localLanceDbUri(env: Env = process.env): string {
  return env.LANCEDB_URI?.trim() || '.local/lancedb';
}

/**
 * A local command prints each outcome itself (an answer, an apology, a failed execution with its cause): the
 * Embedded Metric Format lines the functions write for CloudWatch (`{"_aws":…}`) would only interleave raw JSON with
 * it. Kept when the shell sets POWERTOOLS_METRICS_DISABLED itself.
 */
export function withoutMetricLines(env: NodeJS.ProcessEnv = process.env): void {
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}
