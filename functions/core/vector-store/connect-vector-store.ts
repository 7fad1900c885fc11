import { type Connection, connect, Session } from '@lancedb/lancedb';
import type { AppConfig } from '../config';
import { ConfigError } from '../errors';
import type { SecretReader } from '../secrets';
import { applyLanceDbThreadSettings } from './lancedb-threads';

/** Where and how to reach the vector store. */
export interface VectorStoreConnectionOptions {
  /** AWS region of the bucket, for `s3://` URIs. */
  region?: string;
  /** An S3-compatible endpoint (a local stand-in); unset in AWS. `http:` endpoints are allowed. */
  s3Endpoint?: string;
  /**
   * How stale, in seconds, a reader may be before it checks for a newer table version. Without it, a warm Lambda
   * would keep serving the version it first opened; with 0, every read pays an extra round trip to storage.
   * @default 30
   */
  readConsistencySeconds?: number;
  /**
   * Bounds of LanceDB's in-memory caches for this connection: the index cache (index partitions, posting lists,
   * opened indexes) and the metadata cache (manifests, file footers, schemas). Entries are evicted past them.
   * @default LanceDB's own: 6 GB for indexes and 1 GB for metadata, more than a Lambda function has
   */
  cache?: LanceDbCacheSizes;
  /** For a `db://` URI (LanceDB Cloud): the API key, and where the database is served. */
  cloud?: LanceDbCloudAccess;
}

/** How to reach a LanceDB Cloud database. The key is never logged, nor put in an error. */
export interface LanceDbCloudAccess {
  apiKey: string;
  /** LanceDB Cloud's region of the database. @default 'us-east-1' */
  region?: string;
  /** Another address than `https://<database>.<region>.api.lancedb.com`: LanceDB Enterprise, or a stand-in. */
  hostOverride?: string;
}

/** Whether `uri` names a LanceDB Cloud database (`db://name`) rather than files (a directory, `s3://`). */
export function isLanceDbCloudUri(uri: string): boolean {
  return uri.startsWith('db://');
}

/** The connections {@link connectVectorStore} made to LanceDB Cloud. */
const cloudConnections = new WeakSet<Connection>();

/**
 * Whether `conn` reaches LanceDB Cloud, whose server runs each query whole (a search there is one request), rather
 * than files this process reads itself (where each read of S3 is a round trip of its own).
 */
export function servedByLanceDbCloud(conn: Connection): boolean {
  return cloudConnections.has(conn);
}

/**
 * The connection options of the configured store that depend on where it is: the bucket's region and endpoint for
 * `s3://`, and for `db://` LanceDB Cloud's region and host with the API key, read here (from Secrets Manager in AWS)
 * so that every function and script connects the same way. Only a `db://` store reads the key.
 */
export async function configuredStoreAccess(
  config: Pick<AppConfig, 'region' | 'endpoints' | 'vectorStore' | 'secrets'>,
  secrets: SecretReader,
): Promise<Pick<VectorStoreConnectionOptions, 'region' | 's3Endpoint' | 'cloud'>> {
  const { cloud } = config.vectorStore;
  if (cloud === undefined) {
    return {
      region: config.region,
      ...(config.endpoints.s3 === undefined ? {} : { s3Endpoint: config.endpoints.s3 }),
    };
  }
  const apiKey = await secrets.read(config.secrets.lancedbApiKey, 'LANCEDB_API_KEY');
  return { cloud: { apiKey, ...cloud } };
}

/** Bytes LanceDB's caches may hold. */
export interface LanceDbCacheSizes {
  indexBytes: number;
  metadataBytes: number;
}

/**
 * LanceDB's caches for a function of `memoryMb` MB that searches (Retrieve): a quarter of its memory for indexes, half
 * from 2,048 MB on (on real documentation the vector and full-text indexes take about 70 MB per 100,000 chunks, 691 MB
 * at a million: docs/performance.md section 17; so a 1,024-MB function holds those of about 350,000 chunks, and a
 * 3,008-MB one, `bot:retrieveMemoryMb`, those of a million, peaking at 1.3 GB), 5 % for metadata, the rest for Node,
 * the native module and the rows a question reads. A quarter of 3,008 MB (752) did not hold a million chunks' indexes:
 * warm questions still read up to 40 MB each.
 */
export function searchCacheSizes(memoryMb: number): LanceDbCacheSizes {
  const bytes = memoryMb * 1024 * 1024;
  const indexShare = memoryMb >= 2048 ? 1 / 2 : 1 / 4;
  return { indexBytes: Math.floor(bytes * indexShare), metadataBytes: Math.floor(bytes / 20) };
}

const DEFAULT_READ_CONSISTENCY_SECONDS = 30;

/**
 * The LanceDB storage options for `uri`: empty for a local directory, and for `s3://bucket/prefix` the region
 * and, when given, the endpoint. Credentials are never passed here: LanceDB's S3 client reads them from the
 * environment (the Lambda role in AWS, `AWS_ACCESS_KEY_ID` locally), as the AWS SDK does.
 */
export function vectorStoreStorageOptions(
  uri: string,
  options: VectorStoreConnectionOptions = {},
): Record<string, string> {
  if (!uri.startsWith('s3://')) return {};
  const storage: Record<string, string> = {};
  if (options.region) storage.region = options.region;
  if (options.s3Endpoint) {
    storage.endpoint = options.s3Endpoint;
    if (options.s3Endpoint.startsWith('http:')) storage.allow_http = 'true';
  }
  return storage;
}

/**
 * Connects to the LanceDB database at `uri`: a local directory (created on first write), `s3://bucket/prefix`, or
 * `db://name` on LanceDB Cloud (with `options.cloud`). The connection is cheap to keep for a warm Lambda's lifetime;
 * `close()` it when a script is done.
 *
 * A LanceDB Cloud connection is checked at once with one listing of a single table name, so that a refused key fails
 * here as a {@link ConfigError} naming the setting, not later as an HTTP error inside a search or a commit.
 * LanceDB Cloud keeps its own caches and compacts by itself: `cache` is ignored there, and `optimize` is not
 * offered by it (see `document-table.ts`).
 *
 * LanceDB commits with conditional writes, which S3 honours and some S3 stand-ins do not: run a single
 * writer (the ingest Commit step) against such a stand-in.
 *
 * Every process reaches LanceDB through here, so this is where LanceDB's thread pool is sized so that its index
 * builders cannot deadlock (see `lancedb-threads.ts`): before the first connection, hence before any build.
 */
export function connectVectorStore(
  uri: string,
  options: VectorStoreConnectionOptions = {},
): Promise<Connection> {
  applyLanceDbThreadSettings();
  // The vector index's statistics (a search reads them once per table version, for its unindexed rows) without its
  // centroids: at a million chunks those are 100 x 1,536 numbers serialised for nothing, with a warning logged.
  process.env.LANCE_INCLUDE_VECTOR_CENTROIDS ??= 'false';
  if (isLanceDbCloudUri(uri)) return connectLanceDbCloud(uri, options);
  return connect(uri, {
    storageOptions: vectorStoreStorageOptions(uri, options),
    readConsistencyInterval: options.readConsistencySeconds ?? DEFAULT_READ_CONSISTENCY_SECONDS,
    ...(options.cache === undefined
      ? {}
      : { session: new Session(BigInt(options.cache.indexBytes), BigInt(options.cache.metadataBytes)) }),
  });
}

async function connectLanceDbCloud(uri: string, options: VectorStoreConnectionOptions): Promise<Connection> {
  const cloud = options.cloud;
  if (cloud === undefined || cloud.apiKey.trim() === '') {
    throw new ConfigError(
      `LANCEDB_URI is ${uri} (LanceDB Cloud): set LANCEDB_API_KEY (or LANCEDB_API_KEY_ARN)`,
    );
  }
  const connection = await connect(uri, {
    apiKey: cloud.apiKey,
    region: cloud.region ?? 'us-east-1',
    ...(cloud.hostOverride === undefined ? {} : { hostOverride: cloud.hostOverride }),
    // Reads ask LanceDB Cloud for data no older than this (its x-lancedb-min-timestamp), as a directory's reader
    // checks for a new version.
    readConsistencyInterval: options.readConsistencySeconds ?? DEFAULT_READ_CONSISTENCY_SECONDS,
  });
  try {
    await connection.tableNames({ limit: 1 });
  } catch (error) {
    connection.close();
    throw cloudConnectionError(uri, error);
  }
  cloudConnections.add(connection);
  return connection;
}

/**
 * LanceDB's client reports a refusal as `Http error: (request_id=…) 401 Unauthorized: …`; its text never holds the
 * key. A refused key or database is a setting to fix ({@link ConfigError}, not retried); anything else is passed on
 * for the step to classify (a 5xx or a timeout is retried).
 */
function cloudConnectionError(uri: string, error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  const status = /\b(40[134]) (?:Unauthorized|Forbidden|Not Found)/.exec(message)?.[1];
  if (status === '401' || status === '403') {
    return new ConfigError(
      `LanceDB Cloud refused the API key for ${uri} (HTTP ${status}): check the key LANCEDB_API_KEY ` +
        '(or the secret LANCEDB_API_KEY_ARN names) and that it belongs to this database',
      { cause: error },
    );
  }
  if (status === '404') {
    return new ConfigError(
      `LanceDB Cloud has no database ${uri} (HTTP 404): check LANCEDB_URI and LANCEDB_REGION`,
      { cause: error },
    );
  }
  return error;
}
