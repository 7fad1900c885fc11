import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, relative } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../stand-ins/aws/s3-local';

/**
 * S3 as a Lambda function sees it, on loopback: s3rver behind a proxy that counts every request and every byte it
 * serves, and delays them as S3 would. Local disk answers in microseconds and hides what a table on S3 costs; this
 * makes the bytes a question reads, and the round trips it waits for, show up in its latency.
 *
 * The model, per request: the first byte of the response leaves `firstByteMs` after the request arrived (S3's
 * time to first byte for a small GET from Lambda in the same region is typically 10–30 ms; 25 ms here), then the
 * body flows at `bytesPerSecond` per connection (a single S3 GET stream from Lambda reaches about 85–95 MB/s,
 * AWS's guidance for S3 performance; 90 MB/s here). Requests on separate connections overlap, as on S3, so a
 * client that reads in parallel (LanceDB does) is not held to one stream's bandwidth.
 */
export interface S3Model {
  firstByteMs: number;
  bytesPerSecond: number;
}

export const LAMBDA_S3_MODEL: S3Model = { firstByteMs: 25, bytesPerSecond: 90_000_000 };

/** Requests by kind, and the bytes of the responses (bodies only). */
export interface S3Traffic {
  /** GET (ranged or whole) and HEAD of an object. */
  get: number;
  /** ListObjects (V1 or V2). */
  list: number;
  /** PUT, POST, DELETE: never made by a reader; counted to show it. */
  other: number;
  bytes: number;
}

/** One request as the proxy saw it, with the epoch milliseconds at which it arrived, for windowing. */
export interface S3RequestRecord {
  at: number;
  kind: 'get' | 'list' | 'other';
  /** The object's key (or the bucket, for a LIST), without the query string. */
  key: string;
  bytes: number;
}

export interface ModeledS3 {
  /** The endpoint to give LanceDB (`S3_ENDPOINT`), on the proxy. */
  endpoint: string;
  bucket: string;
  /** Every request so far, in arrival order. */
  readonly log: readonly S3RequestRecord[];
  /** Traffic of the requests that arrived from `from` to `to` (epoch ms), or all of them. */
  traffic(from?: number, to?: number): S3Traffic;
  /** Forgets the log. */
  reset(): void;
  /** Uploads a local directory under `prefix` (through s3rver directly, not through the proxy). */
  uploadDirectory(dir: string, prefix: string): Promise<{ files: number; bytes: number }>;
  close(): Promise<void>;
}

function kindOf(req: IncomingMessage): S3RequestRecord['kind'] {
  const url = new URL(req.url ?? '/', 'http://x');
  const bucketLevel = url.pathname.split('/').filter(Boolean).length <= 1;
  if (req.method === 'GET' && (url.searchParams.has('list-type') || bucketLevel)) return 'list';
  if (req.method === 'GET' || req.method === 'HEAD') return 'get';
  return 'other';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts s3rver with `bucket` and the modeling proxy in front of it. `epochNow` is the clock the log is stamped
 * with: `performance.timeOrigin + performance.now()`, comparable across processes on one machine.
 */
export async function startModeledS3(bucket: string, model: S3Model = LAMBDA_S3_MODEL): Promise<ModeledS3> {
  const s3rver = await startLocalS3({ buckets: [bucket] });
  const upstream = new URL(s3rver.endpoint);
  const log: S3RequestRecord[] = [];
  // When each connection is free to send again: responses on one connection are sent one after another.
  const busyUntil = new WeakMap<Socket, number>();
  const epochNow = () => performance.timeOrigin + performance.now();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const arrived = epochNow();
    const key = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const record: S3RequestRecord = { at: arrived, kind: kindOf(req), key, bytes: 0 };
    log.push(record);
    const forward = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (upstreamRes) => {
        void (async () => {
          const socket = req.socket;
          let clock = Math.max(arrived + model.firstByteMs, busyUntil.get(socket) ?? 0);
          const wait = clock - epochNow();
          if (wait > 0) await sleep(wait);
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          // Each chunk is released when the connection's bandwidth has carried the bytes before it.
          for await (const chunk of upstreamRes as AsyncIterable<Buffer>) {
            record.bytes += chunk.length;
            clock += (chunk.length / model.bytesPerSecond) * 1000;
            const ahead = clock - epochNow();
            if (ahead > 1) await sleep(ahead);
            if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
          }
          busyUntil.set(socket, clock);
          res.end();
        })().catch(() => res.destroy());
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const client = new S3Client({
    endpoint: s3rver.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });

  async function uploadDirectory(dir: string, prefix: string) {
    let files = 0;
    let bytes = 0;
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        const child = join(path, entry.name);
        if (entry.isDirectory()) {
          await walk(child);
          continue;
        }
        // A Buffer, not a stream: the SDK sends a stream with aws-chunked encoding, which s3rver stores as is.
        const body = await readFile(child);
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${relative(dir, child)}`, Body: body }),
        );
        files += 1;
        bytes += body.length;
      }
    };
    await walk(dir);
    // s3rver lists a prefix with a delimiter by walking directories, and skips a directory holding no object of
    // its own: `documents.lance/` (whose objects all sit in subfolders) would not be listed, so LanceDB would see
    // no table. One marker object in each table's folder makes s3rver list it, as S3 always would.
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${prefix}/${entry.name}/s3rver-listing-marker`,
          Body: Buffer.alloc(0),
          ContentLength: 0,
        }),
      );
    }
    return { files, bytes };
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    log,
    traffic(from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY) {
      const traffic: S3Traffic = { get: 0, list: 0, other: 0, bytes: 0 };
      for (const r of log) {
        if (r.at < from || r.at > to) continue;
        traffic[r.kind] += 1;
        traffic.bytes += r.bytes;
      }
      return traffic;
    },
    reset() {
      log.length = 0;
    },
    uploadDirectory,
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await s3rver.close();
    },
  };
}
