import type { StepFunctionSpec } from './conversation-functions';

/**
 * The Lambda behind each `${Placeholder}` of statemachine/ingest.asl.json (a Standard workflow). CDK builds one
 * function per entry and substitutes its ARN; the local executor (`npm run ingest`, the tests) maps each Task to
 * the same module's `createHandler`. The ASL has no other `${…}` substitution.
 *
 * What the functions need besides their ARNs, all read by `functions/core/config.ts`:
 * - every function: `CONVERSATION_TABLE` (the manifest and the sync lock live there under `SYNC#` partition
 *   keys; read and write, `dynamodb:LeadingKeys` `SYNC#*`), `INGEST_STAGING_URI` (`s3://bucket/prefix`: read,
 *   write, list and delete under that prefix; give the prefix a lifecycle rule expiring objects after a few
 *   days, for runs that died before cleaning up), `LANCEDB_URI` and `LANCEDB_TABLE`. With a LanceDB Cloud store
 *   (`LANCEDB_URI=db://…`), Plan, Commit and Optimize also need `LANCEDB_API_KEY_ARN` (and `LANCEDB_REGION`), and
 *   no access to the LanceDB prefix below.
 * - Plan: read access to the document origins (`s3:ListBucket` and `s3:GetObject` on each), the default
 *   origins of a scheduled sync in `INGEST_ORIGINS` (comma-separated `s3://bucket/prefix`, so the EventBridge
 *   Scheduler target's input can be `{}`), read access to the LanceDB prefix, and the embedding model's
 *   settings as Retrieve has them (`LLM_PROVIDER`, `OPENAI_EMBEDDING_MODEL`, `OPENAI_API_KEY_ARN`): it checks
 *   the table was built by the same embedder before anything is embedded, without calling the model.
 * - Batch: `s3:GetObject` on the origins, and the embedding model's settings and key, as Plan. It runs a whole
 *   batch, or (input `document`) one document of it alone; it reads the invocation's remaining time and memory
 *   from Lambda's context, so its timeout and memory here are the budget a document must fit in.
 * - Record the failed batch: staging only. It decides which documents of a failed batch run again alone.
 * - Commit and Optimize: read and write on the LanceDB prefix (`s3:GetObject`, `PutObject`, `DeleteObject`,
 *   `ListBucket`); they are the only writers, one at a time, under the lock. They need no model settings: the
 *   embedder's name and dimension come from the plan.
 * - The optional tuning variables `INGEST_*` (docs/configuration.md) apply to every function alike.
 *
 * The state machine's own timeout is 7,200 s; `INGEST_LOCK_TTL_SECONDS` (default 7,200) should not be shorter.
 */
export const ingestFunctions = {
  IngestPlanFunctionArn: {
    entry: 'functions/ingest-plan.ts',
    timeoutSeconds: 290,
    memoryMb: 1024,
    usesLanceDb: true,
  },
  IngestBatchFunctionArn: {
    entry: 'functions/ingest-batch.ts',
    timeoutSeconds: 590,
    memoryMb: 1024,
    usesLanceDb: false,
  },
  IngestBatchFailedFunctionArn: {
    entry: 'functions/ingest-batch-failed.ts',
    timeoutSeconds: 25,
    memoryMb: 256,
    usesLanceDb: false,
  },
  // Commit and Optimize grow with the table, not with the sync: 1,064 and 1,023 MB at 100,000 chunks, 1,802 and
  // 1,851 MB at a million (processes of their own under a 2,048-MB memory limit: docs/performance.md, section 17).
  // 3,008 MB leaves room past a million chunks and is the most a new AWS account may give a function.
  IngestCommitFunctionArn: {
    entry: 'functions/ingest-commit.ts',
    timeoutSeconds: 890,
    memoryMb: 3008,
    usesLanceDb: true,
  },
  IngestOptimizeFunctionArn: {
    entry: 'functions/ingest-optimize.ts',
    timeoutSeconds: 890,
    memoryMb: 3008,
    usesLanceDb: true,
  },
  IngestReportFunctionArn: {
    entry: 'functions/ingest-report.ts',
    timeoutSeconds: 55,
    memoryMb: 256,
    usesLanceDb: false,
  },
} as const satisfies Record<string, StepFunctionSpec>;

export type IngestPlaceholder = keyof typeof ingestFunctions;
