import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../../functions/core/config';
import { DocumentOrigins, LocalFileOrigin, S3Origin } from '../../functions/core/ingest/document-origins';
import { createS3Client } from '../../functions/core/ingest/ingest-services';
import { type FakeOpenAI, startFakeOpenAI } from '../../scripts/local/fake-openai';
import { type LocalS3, startLocalS3 } from '../../scripts/local/s3-local';
import { REPO_ROOT } from '../../scripts/local/stack';
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
  it('indexes the Markdown and text under a prefix, naming each by its s3:// URI, staging in S3', async () => {
    // Arrange
    const ingest = await startIngest();
    try {
      // Act
      const result = await ingest.sync({ origins: [`s3://${DOCS_BUCKET}/handbook/`] });

      // Assert
      expect(result.status).toBe('committed');
      expect(result.report).toMatchObject({ added: 4, failedCount: 0 });
      const sources = new Set((await readRows(workspace.lancedbUri)).map((r) => r.source));
      expect(sources).toEqual(
        new Set(
          ['expense-policy.md', 'leave-policy-ja.md', 'onboarding.md', 'vpn-guide.md'].map(
            (name) => `s3://${DOCS_BUCKET}/handbook/${name}`,
          ),
        ),
      );
      // The run's staged rows are gone; its report stays.
      expect(await stagedKeys()).toEqual([`syncs/reports/${result.execution.name}.json`]);
      const staged = await client.send(
        new GetObjectCommand({ Bucket: STAGING_BUCKET, Key: `syncs/reports/${result.execution.name}.json` }),
      );
      expect(JSON.parse(await (staged.Body?.transformToString() ?? '{}'))).toMatchObject({ added: 4 });
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
      expect(unchanged.report).toMatchObject({ unchanged: 4, added: 0, updated: 0, deleted: 0 });
      expect(downloadsWhenUnchanged).toBe(0);
      expect(callsWhenUnchanged).toBe(0);
      expect(changed.report).toMatchObject({ updated: 1, deleted: 1, unchanged: 2 });
      const rows = await readRows(workspace.lancedbUri);
      expect(rows.some((r) => r.source.endsWith('/onboarding.md'))).toBe(false);
      expect(rows.filter((r) => r.source.endsWith('/vpn-guide.md')).map((r) => r.text)).toEqual([
        'The VPN moved to vpn2.example.com.',
      ]);
    } finally {
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
