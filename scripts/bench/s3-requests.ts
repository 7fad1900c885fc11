import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../functions/core/config';
import { createRuntime, type Runtime } from '../../functions/core/runtime';
import { startLoopbackProxy } from '../../stand-ins/aws/fault-proxy';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../stand-ins/aws/s3-local';
import { REPO_ROOT } from '../local/stack';

/** S3 requests by price class: GET (and HEAD), PUT/LIST, other. */
export interface S3Requests {
  get: number;
  putOrList: number;
  other: number;
}

const BUCKET = 'bench-vectors';
const PREFIX = 'lancedb';

/** A loopback proxy in front of s3rver that counts the requests passing through it by price class. */
async function countingProxy(target: string) {
  const counts: S3Requests = { get: 0, putOrList: 0, other: 0 };
  const proxy = await startLoopbackProxy(target, (req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const isList =
      req.method === 'GET' &&
      (url.searchParams.has('list-type') || url.pathname.split('/').filter(Boolean).length <= 1);
    if (isList || req.method === 'PUT' || req.method === 'POST') counts.putOrList += 1;
    else if (req.method === 'GET' || req.method === 'HEAD') counts.get += 1;
    else counts.other += 1;
    return false;
  });
  return {
    endpoint: proxy.endpoint,
    counts,
    reset() {
      counts.get = 0;
      counts.putOrList = 0;
      counts.other = 0;
    },
    close: proxy.close,
  };
}

async function upload(s3: S3Client, dir: string, root = dir): Promise<number> {
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files += await upload(s3, path, root);
    else {
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${PREFIX}/${relative(root, path)}`,
          Body: await readFile(path),
        }),
      );
      files += 1;
    }
  }
  return files;
}

/**
 * The S3 requests the Retrieve handler makes per question when its LanceDB table is on S3: the table (a copy of a
 * local one) served by s3rver, the requests counted by a proxy in front of it, the handler the product's, reading
 * `s3://…` through LanceDB's own S3 client. The first question opens the table (a cold container); the later ones
 * come within the read-consistency interval (30 s), as on a busy warm container.
 */
export async function measureRetrieveS3Requests(
  lancedbDir: string,
  questions: readonly string[],
): Promise<{ files: number; first: S3Requests; later: S3Requests; laterQuestions: number }> {
  const s3rver = await startLocalS3({ buckets: [BUCKET] });
  const proxy = await countingProxy(s3rver.endpoint);
  const client = new S3Client({
    endpoint: s3rver.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  // LanceDB's S3 client takes its credentials from the environment, as in Lambda (the role's, there).
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  let runtime: Runtime | undefined;
  try {
    const files = await upload(client, lancedbDir);
    // s3rver lists a prefix with a delimiter by walking directories, and skips a directory holding no object of
    // its own: `documents.lance/` (whose objects all sit in subfolders) would not be listed, so LanceDB would see
    // no table. One marker object in each table's folder makes s3rver list it, as S3 always would.
    for (const entry of await readdir(lancedbDir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        await client.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: `${PREFIX}/${entry.name}/s3rver-listing-marker`,
            Body: Buffer.alloc(0),
            ContentLength: 0,
          }),
        );
      }
    }
    runtime = createRuntime(
      loadConfig({
        LOG_LEVEL: 'silent',
        // The step's EMF metric lines would share stdout with the child's one JSON result.
        POWERTOOLS_METRICS_DISABLED: 'true',
        AWS_REGION: 'us-east-1',
        LLM_PROVIDER: 'local',
        LANCEDB_URI: `s3://${BUCKET}/${PREFIX}`,
        S3_ENDPOINT: proxy.endpoint,
      }),
    );
    const { createHandler } = require(join(REPO_ROOT, 'functions/retrieve.ts')) as {
      createHandler(rt: Runtime): (input: unknown) => Promise<{ status: string }>;
    };
    const handler = createHandler(runtime);
    const ask = async (question: string, i: number) => {
      const turn = {
        intent: 'question',
        eventId: `EvS3${i}`,
        teamId: 'T0LOCAL001',
        channel: 'C0BENCH0005',
        threadTs: '1.000001',
        messageTs: '1.000001',
        user: 'U0HUMAN001',
        question,
        placeholderTs: '1.000002',
      };
      const result = await handler({ turn, question, executionName: `s3-${i}` });
      if (result.status !== 'ok') throw new Error(`Retrieve on S3 found no table: ${result.status}`);
    };
    proxy.reset();
    await ask(questions[0] as string, 0);
    const first = { ...proxy.counts };
    proxy.reset();
    const later = questions.slice(1);
    for (const [i, question] of later.entries()) await ask(question, i + 1);
    return { files, first, later: { ...proxy.counts }, laterQuestions: later.length };
  } finally {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    client.destroy();
    await proxy.close();
    await s3rver.close();
  }
}
