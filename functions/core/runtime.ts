import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LogLevel as SlackLogLevel, WebClient } from '@slack/web-api';
import { type AppConfig, required } from './config';
import { memo, memoAsync } from './memo';
import { createFailureMetrics, type FailureMetrics } from './metrics';
import { createSecretReader, type SecretReader } from './secrets';
import { DynamoDbEventStore } from './stores/dynamodb-event-store';
import { DynamoDbHistoryStore } from './stores/dynamodb-history-store';
import type { EventStore } from './stores/event-store';
import type { HistoryStore } from './stores/history-store';
import {
  DynamoDbTableVersionStore,
  type TableVersionStore,
  vectorStoreId,
} from './stores/table-version-store';

/**
 * Builds and caches the clients a function needs, from the configuration alone, so that a warm Lambda reuses
 * them. Every getter is lazy: a function pays only for the clients it touches. The local stack builds a runtime
 * from its own configuration (endpoints on loopback), so the same code runs here and in AWS.
 */
export interface Runtime {
  readonly config: AppConfig;
  readonly logger: Logger;
  now(): number;
  secrets: SecretReader;
  documentClient(): DynamoDBDocumentClient;
  sfnClient(): SFNClient;
  historyStore(): HistoryStore;
  eventStore(): EventStore;
  /**
   * Where the ingest records the document table's version (Load history reads it for Retrieve); undefined without
   * a conversation table, or with LanceDB Cloud (which serves its latest version itself).
   */
  tableVersions(): TableVersionStore | undefined;
  slackClient(): Promise<WebClient>;
  /**
   * A client that never retries a call by itself, for posts that must exist once (an answer's continuations): a
   * post whose answer is lost may have been made, and a blind retry would post it twice. Rate limits come back as
   * errors, for the caller to wait out.
   */
  slackPoster(): Promise<WebClient>;
  /** The failure counts operators are alarmed on. */
  metrics(): FailureMetrics;
}

/** SDK calls retry a little themselves; the state machine's Retry does the rest with backoff and jitter. */
const SDK_MAX_ATTEMPTS = 3;

function isLoopback(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  const host = new URL(endpoint).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/** Local stand-ins accept any credentials; real endpoints use the default provider chain (the Lambda role). */
function awsClientConfig(config: AppConfig, endpoint: string | undefined) {
  return {
    region: config.region,
    endpoint,
    maxAttempts: SDK_MAX_ATTEMPTS,
    ...(isLoopback(endpoint) ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  };
}

export function createRuntime(
  config: AppConfig,
  options: { logger?: Logger; now?: () => number } = {},
): Runtime {
  const logger = options.logger ?? new Logger({ serviceName: 'slack-rag-bot', logLevel: config.logLevel });
  const secrets = createSecretReader({ region: config.region, endpoint: config.endpoints.secretsManager });
  const documentClient = memo(() =>
    DynamoDBDocumentClient.from(new DynamoDBClient(awsClientConfig(config, config.endpoints.dynamodb)), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  );
  const tableName = () => required(config.conversationTable, 'CONVERSATION_TABLE');
  const slackToken = memoAsync(() => secrets.read(config.secrets.slackBotToken, 'SLACK_BOT_TOKEN'));
  const slackPoster = memoAsync(
    async () =>
      new WebClient(await slackToken(), {
        slackApiUrl: config.endpoints.slackApi,
        logLevel: SlackLogLevel.ERROR,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout: 10_000,
      }),
  );
  const slackClient = memoAsync(async () => {
    const token = await slackToken();
    return new WebClient(token, {
      slackApiUrl: config.endpoints.slackApi,
      logLevel: SlackLogLevel.ERROR,
      // The default retry policy keeps trying for about half an hour; a step has seconds.
      retryConfig: {
        retries: config.slack.maxRetries,
        factor: 2,
        minTimeout: 250,
        maxTimeout: 2_000,
        randomize: true,
      },
      timeout: 10_000,
    });
  });
  return {
    config,
    logger,
    now: options.now ?? Date.now,
    secrets,
    documentClient,
    sfnClient: memo(() => new SFNClient(awsClientConfig(config, config.endpoints.sfn))),
    historyStore: memo(
      () =>
        new DynamoDbHistoryStore(documentClient(), {
          tableName: tableName(),
          ttlDays: config.history.ttlDays,
        }),
    ),
    eventStore: memo(
      () =>
        new DynamoDbEventStore(documentClient(), {
          tableName: tableName(),
          ttlSeconds: config.dedupeTtlSeconds,
        }),
    ),
    tableVersions: memo(() =>
      config.conversationTable === undefined || config.vectorStore.cloud !== undefined
        ? undefined
        : new DynamoDbTableVersionStore(documentClient(), {
            tableName: config.conversationTable,
            storeId: vectorStoreId(config.vectorStore.uri, config.vectorStore.table),
          }),
    ),
    slackClient,
    slackPoster,
    metrics: memo(() => createFailureMetrics()),
  };
}
