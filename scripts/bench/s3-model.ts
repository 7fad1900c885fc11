import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, relative } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../stand-ins/aws/s3-local';
import { gaussian, seededRandom } from './stats';

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
  /** The time to first byte; with `firstByteSigma`, its median. */
  firstByteMs: number;
  bytesPerSecond: number;
  /**
   * When set, each request's time to first byte is drawn from a lognormal spread around `firstByteMs` (its median)
   * with this sigma, from a seeded generator: S3's latency has a long tail, and a question that waits for the
   * slowest of many parallel GETs pays it. Unset, every request waits exactly `firstByteMs`.
   */
  firstByteSigma?: number;
}

/** S3's time to first byte as a spread: median 25 ms, sigma 0.6 (p95 about 67 ms, p99 about 100 ms). */
export const LAMBDA_S3_SPREAD_MODEL: S3Model = {
  firstByteMs: 25,
  bytesPerSecond: 90_000_000,
  firstByteSigma: 0.6,
};

/** A request's time to first byte under `model`, drawing from `random` when the model has a spread. */
export function firstByteDelay(model: S3Model, random: () => number): number {
  if (model.firstByteSigma === undefined) return model.firstByteMs;
  return model.firstByteMs * Math.exp(model.firstByteSigma * gaussian(random));
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
  /** A LIST's `prefix` parameter: which folder was listed (`_versions/`, a table's root…). */
  prefix?: string;
  bytes: number;
  /** When its response ended (epoch ms); absent while it is still being served. */
  end?: number;
  /** The client's port: one per connection, so a port not seen before is a new connection. */
  port: number;
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
  /**
   * Makes `prefix` hold what `dir` holds now, as a writer on S3 would have left it: uploads the files that are new
   * or changed since the last mirror of `dir` and deletes the ones gone (through s3rver directly). Returns the keys
   * uploaded.
   */
  mirrorDirectory(
    dir: string,
    prefix: string,
  ): Promise<{ uploaded: string[]; deleted: number; bytes: number }>;
  /** The model in force from now on (the proxy's requests in flight keep theirs). */
  setModel(model: S3Model): void;
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
export async function startModeledS3(bucket: string, initial: S3Model = LAMBDA_S3_MODEL): Promise<ModeledS3> {
  let model = initial;
  const random = seededRandom(2026);
  const s3rver = await startLocalS3({ buckets: [bucket] });
  const upstream = new URL(s3rver.endpoint);
  const log: S3RequestRecord[] = [];
  // When each connection is free to send again: responses on one connection are sent one after another.
  const busyUntil = new WeakMap<Socket, number>();
  const epochNow = () => performance.timeOrigin + performance.now();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const arrived = epochNow();
    const url = new URL(req.url ?? '/', 'http://x');
    const key = decodeURIComponent(url.pathname.slice(1));
    const kind = kindOf(req);
    const prefix = kind === 'list' ? url.searchParams.get('prefix') : null;
    const record: S3RequestRecord = {
      at: arrived,
      kind,
      key,
      ...(prefix === null ? {} : { prefix }),
      bytes: 0,
      port: req.socket.remotePort ?? 0,
    };
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
          let clock = Math.max(arrived + firstByteDelay(model, random), busyUntil.get(socket) ?? 0);
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
          record.end = epochNow();
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
    // No checksum trailer: with one, a streamed body goes aws-chunked, which s3rver would store framing and all.
    requestChecksumCalculation: 'WHEN_REQUIRED',
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
        const { size } = await stat(child);
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${prefix}/${relative(dir, child)}`,
            Body: createReadStream(child),
            ContentLength: size,
          }),
        );
        files += 1;
        bytes += size;
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

  const mirrored = new Map<string, Map<string, string>>();
  async function mirrorDirectory(dir: string, prefix: string) {
    const before = mirrored.get(dir) ?? new Map<string, string>();
    const now = new Map<string, string>();
    const uploaded: string[] = [];
    let bytes = 0;
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        const child = join(path, entry.name);
        if (entry.isDirectory()) {
          await walk(child);
          continue;
        }
        const { size, mtimeMs } = await stat(child);
        const key = `${prefix}/${relative(dir, child)}`;
        now.set(key, `${size}:${mtimeMs}`);
        if (before.get(key) === `${size}:${mtimeMs}`) continue;
        // Streamed (the client sends no checksum trailer, see above): compaction leaves data files of a million rows
        // (5.9 GB at 1,536 dimensions), past what one Buffer holds. (One PUT of it is more than S3 takes, 5 GB;
        // LanceDB writes such files in parts. The stand-in takes it whole, which is all a mirror needs.)
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: createReadStream(child),
            ContentLength: size,
          }),
        );
        uploaded.push(key);
        bytes += size;
      }
    };
    await walk(dir);
    let deleted = 0;
    for (const key of before.keys()) {
      if (now.has(key)) continue;
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      deleted += 1;
    }
    if (before.size === 0) {
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
    }
    mirrored.set(dir, now);
    return { uploaded, deleted, bytes };
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    mirrorDirectory,
    setModel(next) {
      model = next;
    },
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

/** The longest chain of requests in which each was sent after the one before had its whole response. */
export function dependentDepth(records: readonly S3RequestRecord[]): number {
  const sorted = [...records].sort((a, b) => a.at - b.at);
  const depth: number[] = [];
  let deepest = 0;
  for (const [i, r] of sorted.entries()) {
    let d = 1;
    for (let j = 0; j < i; j++) {
      const q = sorted[j] as S3RequestRecord;
      if (q.end !== undefined && q.end <= r.at) d = Math.max(d, (depth[j] as number) + 1);
    }
    depth.push(d);
    deepest = Math.max(deepest, d);
  }
  return deepest;
}
