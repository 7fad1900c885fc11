import { resolve } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { Connection } from '@lancedb/lancedb';
import type { Embeddings } from '@langchain/core/embeddings';
import { type AppConfig, type IngestConfig, required } from '../config';
import { PermanentError } from '../errors';
import { memo, memoAsync } from '../memo';
import type { Runtime } from '../runtime';
import { type TableVersionStore, vectorStoreId } from '../stores/table-version-store';
import { DocumentOrigins, LocalFileOrigin, S3Origin } from './document-origins';
import { DynamoDbManifestStore } from './dynamodb-manifest-store';
import { DynamoDbSyncLock } from './dynamodb-sync-lock';
import { FileSystemStagingStore } from './fs-staging-store';
import type { ManifestStore } from './manifest-store';
import { S3StagingStore } from './s3-staging-store';
import { isS3Uri, parseS3Uri } from './s3-uri';
import type { StagingStore } from './staging-store';
import type { SyncLock } from './sync-lock';
import { WebOrigin, type WebOriginOptions } from './web-origin';

/**
 * Everything the ingest steps work with, behind the project's own interfaces, built lazily from the runtime's
 * configuration (a step pays only for what it touches) or given directly (tests, in-memory runs).
 */
export interface IngestServices {
  manifest(): ManifestStore;
  lock(): SyncLock;
  /** Where Commit and Optimize record the table's version for Retrieve; undefined with LanceDB Cloud. */
  tableVersion(): TableVersionStore | undefined;
  staging(): StagingStore;
  origins(): DocumentOrigins;
  /** The LanceDB connection, always reading the latest version (the writers must). */
  connection(): Promise<Connection>;
  /**
   * The embedder, with the ingest's own retry budget (a batch has minutes, a question seconds): given by the
   * steps that embed (createIngestEmbeddings); the others' services reject, so that they never bundle one.
   */
  embeddings(): Promise<Embeddings>;
  /** Releases the connection and clients. */
  close(): void;
}

function isLoopback(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  const host = new URL(endpoint).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/**
 * An S3 client for origins and staging, configured as the runtime configures its AWS clients: loopback
 * stand-ins get placeholder credentials, real endpoints the default chain. A custom endpoint (an S3-compatible
 * stand-in) is addressed path-style, as such servers expect.
 */
export function createS3Client(config: AppConfig): S3Client {
  const endpoint = config.endpoints.s3;
  return new S3Client({
    region: config.region,
    endpoint,
    maxAttempts: 3,
    ...(endpoint !== undefined ? { forcePathStyle: true } : {}),
    ...(isLoopback(endpoint) ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
}

/** A web origin's limits, from the `INGEST_WEB_*` settings. */
export function webOriginOptions(ingest: IngestConfig): WebOriginOptions {
  return {
    maxPages: ingest.webMaxPages,
    timeoutMs: ingest.webTimeoutMs,
    requestsPerSecond: ingest.webRequestsPerSecond,
  };
}

/** Builds the services from the runtime; `overrides` replace any of them (in-memory stores in tests). */
export function createIngestServices(
  runtime: Runtime,
  overrides: Partial<Omit<IngestServices, 'close'>> = {},
): IngestServices {
  const { config } = runtime;
  let s3: S3Client | undefined;
  const s3Client = () => {
    s3 ??= createS3Client(config);
    return s3;
  };
  const storeId = () => vectorStoreId(config.vectorStore.uri, config.vectorStore.table);
  const tableName = () => required(config.conversationTable, 'CONVERSATION_TABLE');
  let connected: Connection | undefined;

  return {
    manifest:
      overrides.manifest ??
      memo(
        () =>
          new DynamoDbManifestStore(runtime.documentClient(), { tableName: tableName(), storeId: storeId() }),
      ),
    lock:
      overrides.lock ??
      memo(
        () => new DynamoDbSyncLock(runtime.documentClient(), { tableName: tableName(), storeId: storeId() }),
      ),
    // The same record Load history reads (the runtime's), so writer and reader always name the same item.
    tableVersion: overrides.tableVersion ?? (() => runtime.tableVersions()),
    staging:
      overrides.staging ??
      memo(() => {
        const uri = config.ingest.stagingUri;
        if (!isS3Uri(uri)) return new FileSystemStagingStore(resolve(uri));
        const { bucket, prefix } = parseS3Uri(uri);
        return new S3StagingStore(s3Client(), bucket, prefix);
      }),
    origins:
      overrides.origins ??
      memo(
        () =>
          new DocumentOrigins([
            new S3Origin(s3Client),
            new WebOrigin(webOriginOptions(config.ingest)),
            new LocalFileOrigin(),
          ]),
      ),
    connection:
      overrides.connection ??
      memoAsync(async () => {
        // Imported here, not at the top: only Plan, Commit and Optimize connect, and the other ingest Lambdas
        // must load without LanceDB's native module (their bundles do not ship it).
        const { configuredStoreAccess, connectVectorStore } = await import(
          '../vector-store/connect-vector-store'
        );
        connected = await connectVectorStore(config.vectorStore.uri, {
          ...(await configuredStoreAccess(config, runtime.secrets)),
          readConsistencySeconds: 0,
        });
        return connected;
      }),
    embeddings:
      overrides.embeddings ??
      (() =>
        Promise.reject(
          new PermanentError(
            'this ingest step was built without an embedder: give defineIngestStep (or createIngestServices) ' +
              'the embeddings it uses (createIngestEmbeddings)',
          ),
        )),
    close() {
      connected?.close();
      connected = undefined;
      s3?.destroy();
      s3 = undefined;
    },
  };
}
