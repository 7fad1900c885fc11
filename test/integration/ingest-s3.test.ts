import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../../functions/core/config';
import { DocumentOrigins, LocalFileOrigin, S3Origin } from '../../functions/core/ingest/document-origins';
import { DOCUMENT_FORMATS_SENTENCE } from '../../functions/core/ingest/formats/catalog';
import { createS3Client } from '../../functions/core/ingest/ingest-services';
import { REPO_ROOT } from '../../scripts/local/stack';
import { type LocalS3, startLocalS3 } from '../../stand-ins/aws/s3-local';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { embeddingRequests, fakeOpenAIEnv, ingestWorkspace, readRows } from '../support/ingest';

/**
 * Documents in S3 (s3rver on loopback, reached by the real `@aws-sdk/client-s3`), staging in S3 too, the
 * manifest and lock in dynalite, LanceDB in a local directory (s3rver ignores conditional puts, so LanceDB
 * never writes to it).
 */

const DOCS_BUCKET = 'company-docs';
const STAGING_BUCKET = 'ingest-staging';

let s3: LocalS3;
let client: S3Client;
let fake: FakeOpenAI;
let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;
let getObjectCalls: number;

async function upload(key: string, body: string | Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: DOCS_BUCKET, Key: key, Body: body }));
}

async function stagedKeys(): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: STAGING_BUCKET }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
}

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: [DOCS_BUCKET, STAGING_BUCKET] });
  fake = await startFakeOpenAI();
  client = createS3Client(loadConfig({ S3_ENDPOINT: s3.endpoint, AWS_REGION: 'us-east-1' }));
  // Counts the documents downloaded, to show unchanged ones never are.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') getObjectCalls += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countGetObject' },
  );
});

afterAll(async () => {
  client.destroy();
  await fake.close();
  await s3.close();
});

beforeEach(async () => {
  workspace = await ingestWorkspace();
  fake.requests.splice(0);
  getObjectCalls = 0;
  const samples = join(REPO_ROOT, 'samples/docs');
  for (const name of await readdir(samples))
    await upload(`handbook/${name}`, await readFile(join(samples, name)));
  await upload('handbook/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47]));
});

afterEach(async () => {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: DOCS_BUCKET }));
  for (const object of listed.Contents ?? []) {
    await client.send(new DeleteObjectCommand({ Bucket: DOCS_BUCKET, Key: object.Key }));
  }
  await workspace.remove();
});

/**
 * The S3 origin, running `afterList` once Plan has listed the bucket: what someone replacing an object while a
 * sync runs does, between the listing and the batch that reads it.
 */
function originsChangingAfterTheListing(afterList: () => Promise<void>): DocumentOrigins {
  let changed = false;
  class ChangingS3Origin extends S3Origin {
    override async list(spec: string) {
      const listing = await super.list(spec);
      if (!changed) {
        changed = true;
        await afterList();
      }
      return listing;
    }
  }
  return new DocumentOrigins([new ChangingS3Origin(() => client), new LocalFileOrigin()]);
}

/** Uploads `mebibytes` MiB from a file, streamed: the test never holds the object in memory. */
async function uploadLarge(key: string, mebibytes: number): Promise<void> {
  const file = join(workspace.root, 'large.bin');
  const out = createWriteStream(file);
  const mebibyte = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < mebibytes; i++) {
    if (!out.write(mebibyte)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  // A streamed body is sent as is only without the SDK's default trailing checksum, which s3rver cannot read.
  const streaming = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    await streaming.send(
      new PutObjectCommand({
        Bucket: DOCS_BUCKET,
        Key: key,
        Body: createReadStream(file),
        ContentLength: mebibytes * 1024 * 1024,
      }),
    );
  } finally {
    streaming.destroy();
    await rm(file);
  }
}

/** The local ingest on S3: its own S3 client from the configuration, or (`counting`) the test's, which counts. */
function startIngest({ counting = false } = {}) {
  return workspace.start({
    stagingUri: `s3://${STAGING_BUCKET}/syncs`,
    env: fakeOpenAIEnv(fake, { S3_ENDPOINT: s3.endpoint }),
    ...(counting
      ? {
          services: {
            origins: () => new DocumentOrigins([new S3Origin(() => client), new LocalFileOrigin()]),
          },
        }
      : {}),
  });
}

describe('an S3 origin', () => {
  it('indexes the documents under a prefix (Markdown, a PDF, a Word file), naming each by its s3:// URI, staging in S3', async () => {
    // Arrange
    const ingest = await startIngest();
    try {
      // Act
      const result = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });

      // Assert
      expect(result.status).toBe('committed');
      expect(result.report).toMatchObject({ added: 6, failedCount: 0, skippedCount: 1 });
      expect(result.report?.skipped).toEqual([
        {
          source: `s3://${DOCS_BUCKET}/handbook/logo.png`,
          reason: `only these formats are indexed: ${DOCUMENT_FORMATS_SENTENCE}`,
        },
      ]);
      const sources = new Set((await readRows(workspace.lancedbUri)).map((r) => r.source));
      expect(sources).toEqual(
        new Set(
          [
            'equipment-handbook.docx',
            'expense-policy.md',
            'leave-policy-ja.md',
            'onboarding.md',
            'travel-policy.pdf',
            'vpn-guide.md',
          ].map((name) => `s3://${DOCS_BUCKET}/handbook/${name}`),
        ),
      );
      // The run's staged rows are gone; its report stays.
      expect(await stagedKeys()).toEqual([`syncs/reports/${result.execution.name}.json`]);
      const staged = await client.send(
        new GetObjectCommand({ Bucket: STAGING_BUCKET, Key: `syncs/reports/${result.execution.name}.json` }),
      );
      expect(JSON.parse(await (staged.Body?.transformToString() ?? '{}'))).toMatchObject({ added: 6 });
    } finally {
      await ingest.close();
    }
  });

  it('neither downloads nor embeds unchanged objects, and syncs an edit and a deletion', async () => {
    // Arrange
    const ingest = await startIngest({ counting: true });
    try {
      await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });
      const callsAfterFirst = embeddingRequests(fake).length;
      getObjectCalls = 0;

      // Act
      const unchanged = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });
      const downloadsWhenUnchanged = getObjectCalls;
      const callsWhenUnchanged = embeddingRequests(fake).length - callsAfterFirst;
      await upload('handbook/vpn-guide.md', '# VPN guide\n\nThe VPN moved to vpn2.example.com.\n');
      await client.send(new DeleteObjectCommand({ Bucket: DOCS_BUCKET, Key: 'handbook/onboarding.md' }));
      const changed = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });

      // Assert
      expect(unchanged.report).toMatchObject({ unchanged: 6, added: 0, updated: 0, deleted: 0 });
      expect(downloadsWhenUnchanged).toBe(0);
      expect(callsWhenUnchanged).toBe(0);
      expect(changed.report).toMatchObject({ updated: 1, deleted: 1, unchanged: 4 });
      const rows = await readRows(workspace.lancedbUri);
      expect(rows.some((r) => r.source.endsWith('/onboarding.md'))).toBe(false);
      expect(rows.filter((r) => r.source.endsWith('/vpn-guide.md')).map((r) => r.text)).toEqual([
        'The VPN moved to vpn2.example.com.',
      ]);
    } finally {
      await ingest.close();
    }
  });

  it('reads an object only at the listed ETag: one replaced before its batch fails alone, and the next sync reads it', async () => {
    // Arrange
    const ingest = await workspace.start({
      stagingUri: `s3://${STAGING_BUCKET}/syncs`,
      env: fakeOpenAIEnv(fake, { S3_ENDPOINT: s3.endpoint }),
      services: {
        origins: () =>
          originsChangingAfterTheListing(() =>
            upload('handbook/vpn-guide.md', '# VPN guide\n\nThe VPN moved to vpn3.example.com.\n'),
          ),
      },
    });
    try {
      // Act
      const during = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });
      const rowsDuring = await readRows(workspace.lancedbUri);
      const after = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });

      // Assert
      expect(during.report).toMatchObject({ added: 5, failedCount: 1 });
      expect(during.report?.failed).toEqual([
        {
          source: `s3://${DOCS_BUCKET}/handbook/vpn-guide.md`,
          reason: expect.stringMatching(
            /^the object was replaced while the sync ran \(listed with ETag "\w+", now "\w+"\); the next sync reads the new version$/,
          ),
        },
      ]);
      expect(rowsDuring.some((r) => r.source.endsWith('/vpn-guide.md'))).toBe(false);
      expect(after.report).toMatchObject({ added: 1, unchanged: 5, failedCount: 0 });
      const rows = await readRows(workspace.lancedbUri);
      expect(rows.filter((r) => r.source.endsWith('/vpn-guide.md')).map((r) => r.text)).toEqual([
        'The VPN moved to vpn3.example.com.',
      ]);
    } finally {
      await ingest.close();
    }
  });

  it('never reads more than the size limit of an object replaced by a 300 MiB one before its batch', async () => {
    // Arrange
    let baseline: NodeJS.MemoryUsage | undefined;
    const peak = { rss: 0, arrayBuffers: 0 };
    const sample = () => {
      const now = process.memoryUsage();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
    };
    let sampler: NodeJS.Timeout | undefined;
    const ingest = await workspace.start({
      stagingUri: `s3://${STAGING_BUCKET}/syncs`,
      env: fakeOpenAIEnv(fake, { S3_ENDPOINT: s3.endpoint }),
      services: {
        origins: () =>
          originsChangingAfterTheListing(async () => {
            await uploadLarge('handbook/vpn-guide.md', 300);
            baseline = process.memoryUsage();
            sampler = setInterval(sample, 2);
          }),
      },
    });
    try {
      // Act
      const result = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });
      clearInterval(sampler);
      sample();

      // Assert
      expect(result.report).toMatchObject({ added: 5, failedCount: 1 });
      expect(result.report?.failed[0]).toEqual({
        source: `s3://${DOCS_BUCKET}/handbook/vpn-guide.md`,
        reason: expect.stringMatching(/^the object was replaced while the sync ran/),
      });
      const growth = {
        rss: peak.rss - (baseline?.rss ?? 0),
        arrayBuffers: peak.arrayBuffers - (baseline?.arrayBuffers ?? 0),
      };
      console.log(
        `300 MiB object swapped in before its batch: memory grew by ${(growth.rss / 2 ** 20).toFixed(1)} MiB (RSS), ` +
          `${(growth.arrayBuffers / 2 ** 20).toFixed(1)} MiB (array buffers)`,
      );
      expect(growth.arrayBuffers).toBeLessThan(32 * 2 ** 20);
      expect(growth.rss).toBeLessThan(128 * 2 ** 20);
    } finally {
      clearInterval(sampler);
      await ingest.close();
    }
  });

  it('fails without writing when the bucket does not exist', async () => {
    // Arrange
    const ingest = await startIngest();
    try {
      // Act
      const result = await ingest.sync({ origins: ['s3://no-such-bucket/docs/'] });

      // Assert
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/no such bucket: no-such-bucket/);
      expect(await readRows(workspace.lancedbUri)).toEqual([]);
    } finally {
      await ingest.close();
    }
  });
});
