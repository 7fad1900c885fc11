import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type Env, loadConfig } from '../../functions/core/config';
import { DocumentOrigins, LocalFileOrigin, S3Origin } from '../../functions/core/ingest/document-origins';
import { createIngestEmbeddings } from '../../functions/core/ingest/ingest-embeddings';
import {
  createIngestServices,
  createS3Client,
  type IngestServices,
  webOriginOptions,
} from '../../functions/core/ingest/ingest-services';
import { MemoryManifestStore } from '../../functions/core/ingest/manifest-store';
import { getJson, MemoryStagingStore, type StagingStore } from '../../functions/core/ingest/staging-store';
import { MemorySyncLock } from '../../functions/core/ingest/sync-lock';
import {
  type BatchResult,
  type PlanResult,
  type SyncReport,
  type SyncRequest,
  stagingKeys,
} from '../../functions/core/ingest/sync-types';
import { WebOrigin } from '../../functions/core/ingest/web-origin';
import { memoAsync } from '../../functions/core/memo';
import { createRuntime, type Runtime } from '../../functions/core/runtime';
import { MemoryTableVersionStore } from '../../functions/core/stores/table-version-store';
import { ingestFunctions } from '../../functions/ingest-functions';
import { ensureConversationTable, type LocalDynamo, startDynalite } from '../../stand-ins/aws/dynamodb-local';
import {
  type ExecutionRecord,
  type LocalInvocationContext,
  type LocalStepFunctions,
  startLocalStepFunctions,
  type TaskHandler,
} from '../../stand-ins/aws/step-functions-local';
import { startLocalBedrock } from './bedrock-stand-in';

/**
 * The ingest state machine on loopback: statemachine/ingest.asl.json in the local executor, each Task mapped to
 * the handler module its Lambda runs (`functions/ingest-functions.ts`), the manifest and the lock in dynalite (or
 * in memory), rows staged in a local directory, LanceDB wherever `LANCEDB_URI` says. `npm run ingest`, the demo
 * and the tests all sync through it.
 */

export const INGEST_DEFINITION = resolve(__dirname, '../../statemachine/ingest.asl.json');
const REPO_ROOT = resolve(__dirname, '../..');
const TABLE_NAME = 'slack-rag-bot-conversations';
const MACHINE_NAME = 'ingest';

/** What a local sync reports as it goes, for a progress bar. */
export type IngestProgress =
  | { type: 'planned'; plan: PlanResult }
  | { type: 'batch'; result: BatchResult }
  | { type: 'batch-failed'; batch: number; document?: number }
  | { type: 'step'; step: 'Commit' | 'Optimize'; phase: 'started' | 'done' };

export interface LocalIngestOptions {
  /** The LanceDB database (a directory, or an s3:// URI). */
  lancedbUri: string;
  /** Where batches stage their rows: a directory (or an s3:// URI); in memory when unset. */
  stagingUri?: string;
  /** What local source names are relative to. @default the working directory */
  baseDir?: string;
  /** Extra configuration, as environment variables (provider, model, INGEST_* tuning, S3_ENDPOINT…). */
  env?: Env;
  /**
   * Where the manifest and the lock live: `memory` (no DynamoDB at all), dynalite in memory (`dynalite`, the
   * default), dynalite kept in a directory (`{ path }`, so the manifest survives between runs), or a DynamoDB
   * endpoint already running (`{ endpoint }`: a running `npm run dev`'s, which holds that directory).
   */
  store?: 'memory' | 'dynalite' | { path: string } | { endpoint: string };
  /** Shortens the ASL's Retry pauses (tests); unset, they run as written. */
  retryIntervalMs?: number;
  /** Replaces the TimeoutSeconds of the named states (tests of the time-out path). */
  timeoutOverrides?: Record<string, number>;
  /** Replaces any of the services (tests: an origin that fails as a real one would). */
  services?: Partial<Omit<IngestServices, 'close'>>;
  /** Called as the sync progresses. */
  onProgress?: (event: IngestProgress) => void;
  /**
   * Runs a step otherwise than by importing its module into this process (its production bundle in a child
   * process, say), given its entry and the configuration every step gets; undefined for the module here. Such a
   * step builds its own services from that configuration, so the stores must be DynamoDB and staging a directory.
   */
  runFunction?: (entry: string, env: Env) => TaskHandler | undefined;
}

/** One local sync: the execution, and its report as the execution returned it and as staged in full. */
export interface LocalSyncResult {
  execution: ExecutionRecord;
  /** `busy` when another sync held the lock; `committed` or `failed` otherwise. */
  status: 'committed' | 'failed' | 'busy';
  /** The full report (every failure, every change); absent when the sync was busy. */
  report?: SyncReport;
  /** Plan's answer when the sync found another one running. */
  busy?: Extract<PlanResult, { status: 'busy' }>;
  /** The error that failed the execution, if it failed. */
  error?: string;
}

export interface LocalIngest {
  stepFunctions: LocalStepFunctions;
  runtime: Runtime;
  services: IngestServices;
  /** The configuration environment every step runs with. */
  env: Env;
  /** Starts a sync through the local Step Functions endpoint (the unchanged SDK call) and waits for its end. */
  sync(request: SyncRequest, options?: { name?: string }): Promise<LocalSyncResult>;
  /** Starts a sync without waiting; `done` resolves as `sync` does. */
  start(
    request: SyncRequest,
    options?: { name?: string },
  ): Promise<{ name: string; done: Promise<LocalSyncResult> }>;
  close(): Promise<void>;
}

/** A fresh execution name, sortable by time: `ingest-20261124T040506123Z-1a2b3c`. */
export function newExecutionName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `ingest-${stamp}-${randomBytes(3).toString('hex')}`;
}

export async function startLocalIngest(options: LocalIngestOptions): Promise<LocalIngest> {
  const storeMode = options.store ?? 'dynalite';
  let dynamo: LocalDynamo | undefined;
  let dynamodbEndpoint: string | undefined;
  if (typeof storeMode === 'object' && 'endpoint' in storeMode) {
    dynamodbEndpoint = storeMode.endpoint;
    await ensureConversationTable(dynamodbEndpoint, TABLE_NAME);
  } else if (storeMode !== 'memory') {
    dynamo = await startDynalite({ path: storeMode === 'dynalite' ? undefined : storeMode.path });
    dynamodbEndpoint = dynamo.endpoint;
    await ensureConversationTable(dynamo.endpoint, TABLE_NAME);
  }

  // Handlers are bound once the runtime exists, which needs the Step Functions endpoint first.
  const bound: Partial<Record<string, TaskHandler>> = {};
  const taskHandlers = Object.fromEntries(
    Object.keys(ingestFunctions).map((placeholder) => [
      placeholder,
      (input: unknown, context?: LocalInvocationContext) => {
        const handler = bound[placeholder];
        if (!handler) throw new Error(`${placeholder} is not bound`);
        return handler(input, context);
      },
    ]),
  );
  // The Distributed Map's ItemReader and ResultWriter name the staging store's bucket and keys (Plan says which,
  // from `StagingStore.locate`): locally they are mapped back to the same store.
  let stagingOf: (() => StagingStore) | undefined;
  const readyStaging = (): StagingStore => {
    if (stagingOf === undefined) throw new Error('the staging store is not ready');
    return stagingOf();
  };
  const stagingKeyOf = (bucket: string, key: string): string => {
    const staging = readyStaging();
    const probe = staging.locate('probe');
    const prefix = probe.key.slice(0, -'probe'.length);
    if (bucket !== probe.bucket || !key.startsWith(prefix)) {
      throw new Error(`s3://${bucket}/${key} is not in the staging store (${staging.location})`);
    }
    return key.slice(prefix.length);
  };
  const stepFunctions = await startLocalStepFunctions({
    machines: [{ name: MACHINE_NAME, definitionFile: INGEST_DEFINITION, handlers: taskHandlers }],
    retryIntervalMs: options.retryIntervalMs,
    timeoutOverrides: options.timeoutOverrides,
    objects: {
      get: (bucket, key) => readyStaging().get(stagingKeyOf(bucket, key)),
      put: (bucket, key, body) => readyStaging().put(stagingKeyOf(bucket, key), body),
    },
  });

  const bedrock = await startLocalBedrock(options.env ?? {});
  const env: Env = {
    LOG_LEVEL: 'silent',
    ...options.env,
    ...bedrock.env,
    ...(options.env?.AWS_REGION === undefined ? { AWS_REGION: 'us-east-1' } : {}),
    CONVERSATION_TABLE: TABLE_NAME,
    SFN_ENDPOINT: stepFunctions.endpoint,
    LANCEDB_URI: options.lancedbUri,
    ...(options.stagingUri !== undefined ? { INGEST_STAGING_URI: options.stagingUri } : {}),
    ...(dynamodbEndpoint !== undefined ? { DYNAMODB_ENDPOINT: dynamodbEndpoint } : {}),
  };
  const runtime = createRuntime(loadConfig(env));
  const constant =
    <T>(value: T) =>
    () =>
      value;
  const s3 = memoS3(runtime);
  const services = createIngestServices(runtime, {
    // The steps share these services; each Lambda builds its own, with an embedder only where it embeds.
    embeddings: memoAsync(() => createIngestEmbeddings(runtime)),
    ...(storeMode === 'memory'
      ? {
          manifest: constant(new MemoryManifestStore()),
          lock: constant(new MemorySyncLock()),
          tableVersion: constant(new MemoryTableVersionStore()),
        }
      : {}),
    ...(options.stagingUri === undefined ? { staging: constant(new MemoryStagingStore()) } : {}),
    ...(options.baseDir !== undefined
      ? {
          origins: constant(
            new DocumentOrigins([
              new S3Origin(s3.client),
              new WebOrigin(webOriginOptions(runtime.config.ingest)),
              new LocalFileOrigin(options.baseDir),
            ]),
          ),
        }
      : {}),
    ...options.services,
  });
  stagingOf = () => services.staging();
  const progress = options.onProgress ?? (() => undefined);
  for (const [placeholder, spec] of Object.entries(ingestFunctions)) {
    const elsewhere = options.runFunction?.(spec.entry, env);
    if (elsewhere !== undefined) {
      bound[placeholder] = reporting(placeholder, elsewhere, progress);
      continue;
    }
    // The module CDK bundles for this placeholder: one list, so both runtimes run the same code.
    const module = require(resolve(REPO_ROOT, spec.entry)) as {
      createHandler(rt: Runtime, services: IngestServices): TaskHandler;
    };
    bound[placeholder] = reporting(placeholder, module.createHandler(runtime, services), progress);
  }

  const executionsByName = new Map<string, ExecutionRecord>();
  async function start(request: SyncRequest, startOptions: { name?: string } = {}) {
    const name = startOptions.name ?? newExecutionName();
    await runtime.sfnClient().send(
      new StartExecutionCommand({
        stateMachineArn: stepFunctions.arnOf(MACHINE_NAME),
        name,
        input: JSON.stringify(request),
      }),
    );
    const execution = stepFunctions.executions.find((e) => e.name === name);
    if (execution === undefined) throw new Error(`the execution ${name} did not start`);
    executionsByName.set(name, execution);
    return { name, done: finish(execution) };
  }

  async function finish(execution: ExecutionRecord): Promise<LocalSyncResult> {
    await execution.done;
    const output = execution.output as (PlanResult & { status: string }) | undefined;
    if (execution.status === 'SUCCEEDED' && output?.status === 'busy') {
      return { execution, status: 'busy', busy: output as Extract<PlanResult, { status: 'busy' }> };
    }
    const report = await getJson<SyncReport>(services.staging(), stagingKeys.report(execution.name));
    if (execution.status === 'SUCCEEDED') {
      return { execution, status: report?.status ?? 'failed', report };
    }
    return {
      execution,
      status: 'failed',
      report,
      error: report?.error ?? execution.cause ?? execution.error ?? 'the sync failed',
    };
  }

  return {
    stepFunctions,
    runtime,
    services,
    env,
    start,
    async sync(request, syncOptions) {
      return (await start(request, syncOptions)).done;
    },
    async close() {
      await stepFunctions.close();
      services.close();
      s3.destroy();
      runtime.sfnClient().destroy();
      if (dynamodbEndpoint !== undefined) runtime.documentClient().destroy();
      await dynamo?.close();
      await bedrock.close();
    },
  };
}

/** An S3 client made on first use, for the origins of a sync whose local files are not in the working directory. */
function memoS3(runtime: Runtime): { client: () => S3Client; destroy(): void } {
  let client: S3Client | undefined;
  return {
    client: () => {
      client ??= createS3Client(runtime.config);
      return client;
    },
    destroy: () => client?.destroy(),
  };
}

/** Wraps a step's handler to report its progress. */
function reporting(
  placeholder: string,
  handler: TaskHandler,
  progress: (event: IngestProgress) => void,
): TaskHandler {
  const step = { IngestCommitFunctionArn: 'Commit', IngestOptimizeFunctionArn: 'Optimize' } as const;
  return async (input, context) => {
    const named = step[placeholder as keyof typeof step];
    if (named) progress({ type: 'step', step: named, phase: 'started' });
    try {
      const output = await handler(input, context);
      if (placeholder === 'IngestPlanFunctionArn') progress({ type: 'planned', plan: output as PlanResult });
      if (placeholder === 'IngestBatchFunctionArn')
        progress({ type: 'batch', result: output as BatchResult });
      return output;
    } finally {
      if (placeholder === 'IngestBatchFailedFunctionArn') {
        const { batch, document } = input as { batch: number; document?: number };
        progress({ type: 'batch-failed', batch, ...(document !== undefined ? { document } : {}) });
      }
      if (named) progress({ type: 'step', step: named, phase: 'done' });
    }
  };
}

/**
 * Indexes the bundled sample documents (samples/docs) with the embedder `env` configures (through its real
 * client), by running the ingest state machine with an in-memory manifest and lock. Returns the rows in the table.
 */
export async function indexSampleDocuments(lancedbUri: string, env: Env): Promise<number> {
  const ingest = await startLocalIngest({ lancedbUri, env, store: 'memory', baseDir: REPO_ROOT });
  try {
    const result = await ingest.sync({ origins: ['samples/docs'], prune: false });
    if (result.status !== 'committed') throw new Error(`indexing the samples failed: ${result.error}`);
    return result.report?.chunks ?? 0;
  } finally {
    await ingest.close();
  }
}
