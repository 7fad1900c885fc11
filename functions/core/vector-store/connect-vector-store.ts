import { type Connection, connect, Session } from '@lancedb/lancedb';
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
}

/** Bytes LanceDB's caches may hold. */
export interface LanceDbCacheSizes {
  indexBytes: number;
  metadataBytes: number;
}

/**
 * LanceDB's caches for a function of `memoryMb` MB that searches (Retrieve): a quarter of its memory for indexes
 * (the vector and full-text indexes take about 52 MB per 100,000 chunks, so a 1,024-MB function holds those of
 * about 500,000), 5 % for metadata, the rest for Node, the native module and the rows a question reads.
 */
export function searchCacheSizes(memoryMb: number): LanceDbCacheSizes {
  const bytes = memoryMb * 1024 * 1024;
  return { indexBytes: Math.floor(bytes / 4), metadataBytes: Math.floor(bytes / 20) };
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
 * Connects to the LanceDB database at `uri`: a local directory (created on first write) or `s3://bucket/prefix`.
 * The connection is cheap to keep for a warm Lambda's lifetime; `close()` it when a script is done.
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
  return connect(uri, {
    storageOptions: vectorStoreStorageOptions(uri, options),
    readConsistencyInterval: options.readConsistencySeconds ?? DEFAULT_READ_CONSISTENCY_SECONDS,
    ...(options.cache === undefined
      ? {}
      : { session: new Session(BigInt(options.cache.indexBytes), BigInt(options.cache.metadataBytes)) }),
  });
}
