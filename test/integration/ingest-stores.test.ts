import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../../functions/core/config';
import { commitSync } from '../../functions/core/ingest/commit-sync';
import { DocumentOrigins, LocalFileOrigin } from '../../functions/core/ingest/document-origins';
import { DynamoDbManifestStore } from '../../functions/core/ingest/dynamodb-manifest-store';
import { DynamoDbSyncLock } from '../../functions/core/ingest/dynamodb-sync-lock';
import { embedBatch } from '../../functions/core/ingest/embed-batch';
import { FileSystemStagingStore } from '../../functions/core/ingest/fs-staging-store';
import { createS3Client } from '../../functions/core/ingest/ingest-services';
import {
  type ManifestEntry,
  type ManifestStore,
  MemoryManifestStore,
} from '../../functions/core/ingest/manifest-store';
import { planSync } from '../../functions/core/ingest/plan-sync';
import { S3StagingStore } from '../../functions/core/ingest/s3-staging-store';
import { MemoryStagingStore, type StagingStore } from '../../functions/core/ingest/staging-store';
import {
  holdLock,
  LockLostError,
  MemorySyncLock,
  type SyncLock,
} from '../../functions/core/ingest/sync-lock';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { ensureConversationTable, type LocalDynamo, startDynalite } from '../../stand-ins/aws/dynamodb-local';
import { type LocalS3, startLocalS3 } from '../../stand-ins/aws/s3-local';
import { ingestWorkspace, readRows } from '../support/ingest';
import { temporaryDirectory } from '../support/local-stack';

/**
 * The stores behind the ingest steps, each held to one contract across its implementations: the DynamoDB ones
 * on dynalite, the S3 one on s3rver, the directory one on disk, and the in-memory ones tests and demos use.
 */

const TABLE = 'conversations';
let dynamo: LocalDynamo;
let documentClient: DynamoDBDocumentClient;
let s3: LocalS3;

beforeAll(async () => {
  dynamo = await startDynalite();
  await ensureConversationTable(dynamo.endpoint, TABLE);
  documentClient = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  s3 = await startLocalS3({ buckets: ['staging'] });
});

afterAll(async () => {
  documentClient.destroy();
  await dynamo.close();
  await s3.close();
});

let storeCount = 0;
const nextStoreId = () => `documents#test${++storeCount}`;

describe.each<[string, () => SyncLock]>([
  [
    'DynamoDbSyncLock',
    () => new DynamoDbSyncLock(documentClient, { tableName: TABLE, storeId: nextStoreId() }),
  ],
  ['MemorySyncLock', () => new MemorySyncLock()],
])('%s', (_name, makeLock) => {
  it('is held by one sync at a time until it is released or expires', async () => {
    // Arrange
    const lock = makeLock();
    const now = 1_700_000_000_000;

    // Act
    const first = await lock.acquire('sync-a', now, 60);
    const second = await lock.acquire('sync-b', now + 1_000, 60);
    const again = await lock.acquire('sync-a', now + 2_000, 60);
    await lock.confirm('sync-a', now + 3_000);
    const afterExpiry = await lock.acquire('sync-b', now + 2_000 + 61_000, 60);

    // Assert
    expect(first).toEqual({ acquired: true });
    expect(second).toEqual({ acquired: false, owner: 'sync-a', acquiredAt: now, expiresAt: now + 60_000 });
    expect(again).toEqual({ acquired: true });
    expect(afterExpiry).toEqual({ acquired: true });
    await expect(lock.confirm('sync-a', now + 64_000)).rejects.toThrow(LockLostError);
    await expect(lock.confirm('sync-a', now + 64_000)).rejects.toThrow(/sync-b does/);
    expect(await lock.release('sync-a')).toBe(false);
    await lock.confirm('sync-b', now + 64_000);
    expect(await lock.release('sync-b')).toBe(true);
    expect(await lock.acquire('sync-c', now + 65_000, 60)).toEqual({ acquired: true });
  });

  it('is extended by a renewal of its owner, and cannot be renewed once lost', async () => {
    const lock = makeLock();
    await lock.acquire('sync-a', 0, 10);

    await lock.renew('sync-a', 9_000, 10);
    const whileRenewed = await lock.acquire('sync-b', 15_000, 10);
    await lock.confirm('sync-a', 18_000);
    const afterExpiry = await lock.acquire('sync-b', 19_500, 10);

    expect(whileRenewed).toMatchObject({ acquired: false, owner: 'sync-a' });
    expect(afterExpiry).toEqual({ acquired: true });
    await expect(lock.renew('sync-a', 20_000, 10)).rejects.toThrow(/sync-b does/);
  });

  it('held by a step that outlives its TTL, is renewed while the step runs and freed once it stops', async () => {
    // Arrange: a 1 s lock, and a step (Commit, Optimize) that runs for 2.5 s.
    const lock = makeLock();
    await lock.acquire('sync-a', Date.now(), 1);
    const lease = await holdLock(lock, 'sync-a', { now: Date.now(), ttlSeconds: 1, renewEveryMs: 200 });

    // Act
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const secondSync = await lock.acquire('sync-b', Date.now(), 1);
    lease.check();
    await lease.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const afterStop = await lock.acquire('sync-b', Date.now(), 1);

    // Assert
    expect(secondSync).toMatchObject({ acquired: false, owner: 'sync-a' });
    expect(afterStop).toEqual({ acquired: true });
  });

  it('a lease whose lock was taken meanwhile reports it before the next write', async () => {
    const lock = makeLock();
    await lock.acquire('sync-a', Date.now(), 1);
    // Renewed too late (a stalled step): the lock expires first and another sync takes it.
    const lease = await holdLock(lock, 'sync-a', { now: Date.now(), ttlSeconds: 1, renewEveryMs: 1_300 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await lock.acquire('sync-b', Date.now(), 60);

    await new Promise((resolve) => setTimeout(resolve, 500));
    await lease.stop();

    expect(() => lease.check()).toThrow(/sync-a no longer holds the sync lock \(sync-b does\)/);
    await expect(holdLock(lock, 'sync-a', { now: Date.now(), ttlSeconds: 1 })).rejects.toThrow(LockLostError);
  });

  it('is lost when it expires, even with no other sync around', async () => {
    const lock = makeLock();
    await lock.acquire('sync-a', 0, 10);
    await expect(lock.confirm('sync-a', 11_000)).rejects.toThrow(LockLostError);
  });
});

describe.each<[string, () => ManifestStore]>([
  [
    'DynamoDbManifestStore',
    () => new DynamoDbManifestStore(documentClient, { tableName: TABLE, storeId: nextStoreId() }),
  ],
  ['MemoryManifestStore', () => new MemoryManifestStore()],
])('%s', (_name, makeManifest) => {
  const entry = (source: string, chunks = 1): ManifestEntry => ({
    source,
    contentHash: `hash-of-${source.length}`,
    version: 'etag:"abc"',
    fingerprint: 'f1',
    chunks,
    collection: chunks % 2 === 0 ? 'hr' : null,
    syncedAt: 1_700_000_000_000,
  });

  it('keeps many entries, long source names included, and applies puts and removals idempotently', async () => {
    // Arrange
    const manifest = makeManifest();
    const long = `s3://docs/${'deep/'.repeat(250)}page.md`;
    const entries = [...Array.from({ length: 60 }, (_, i) => entry(`docs/${i}.md`, i)), entry(long)];

    // Act
    await manifest.apply({ put: entries, remove: [] });
    await manifest.apply({
      put: [entry('docs/1.md', 9)],
      remove: ['docs/2.md', 'docs/3.md', 'docs/never.md'],
    });
    await manifest.apply({ put: [], remove: ['docs/2.md'] });
    const loaded = await manifest.load();

    // Assert
    expect(loaded.size).toBe(59);
    expect(loaded.get(long)).toEqual(entry(long));
    expect(loaded.get('docs/1.md')).toEqual(entry('docs/1.md', 9));
    expect(loaded.get('docs/4.md')).toEqual(entry('docs/4.md', 4));
    expect(loaded.has('docs/2.md')).toBe(false);
  });

  it("keeps an entry's front matter collection and chunk hash, and leaves them out of an entry written without them", async () => {
    // Arrange
    const manifest = makeManifest();
    const recorded = { ...entry('docs/hr.md'), ownCollection: null, splitHash: 'split-1' };
    const tagged = { ...entry('docs/tagged.md'), collection: 'public', ownCollection: 'public' };

    // Act
    await manifest.apply({ put: [recorded, tagged, entry('docs/old.md')], remove: [] });
    const loaded = await manifest.load();

    // Assert
    expect(loaded.get('docs/hr.md')).toEqual(recorded);
    expect(loaded.get('docs/tagged.md')).toEqual(tagged);
    expect(loaded.get('docs/old.md')).toEqual(entry('docs/old.md'));
    expect(loaded.get('docs/old.md')).not.toHaveProperty('ownCollection');
  });
});

describe.each<[string, () => Promise<{ store: StagingStore; done(): Promise<void> }>]>([
  [
    'FileSystemStagingStore',
    async () => {
      const dir = await temporaryDirectory('staging-');
      return { store: new FileSystemStagingStore(join(dir.path, 'staging')), done: dir.remove };
    },
  ],
  [
    'S3StagingStore',
    async () => {
      const client = createS3Client(loadConfig({ S3_ENDPOINT: s3.endpoint }));
      return {
        store: new S3StagingStore(client, 'staging', `run-${++storeCount}`),
        done: async () => client.destroy(),
      };
    },
  ],
  ['MemoryStagingStore', async () => ({ store: new MemoryStagingStore(), done: async () => undefined })],
])('%s', (_name, makeStore) => {
  it('puts, gets, lists and deletes objects by prefix', async () => {
    const { store, done } = await makeStore();
    try {
      await store.put('runs/a/plan.json', '{"a":1}');
      await store.put('runs/a/batches/00000.json', new Uint8Array([1, 2, 3]));
      await store.put('runs/b/plan.json', '{}');
      await store.put('reports/a.json', '{"ok":true}');

      expect(Buffer.from((await store.get('runs/a/plan.json')) ?? []).toString()).toBe('{"a":1}');
      expect(await store.get('runs/a/missing.json')).toBeUndefined();
      expect(await store.list('runs/a/')).toEqual(['runs/a/batches/00000.json', 'runs/a/plan.json']);
      expect(await store.deletePrefix('runs/a/')).toBe(2);
      expect(await store.list('runs/')).toEqual(['runs/b/plan.json']);
      expect(await store.list('reports/')).toEqual(['reports/a.json']);
      await expect(store.put('../escape.json', '{}')).rejects.toThrow(/invalid staging key/);
    } finally {
      await done();
    }
  });
});

describe('Commit', () => {
  it('writes nothing when its sync lost the lock to another one', async () => {
    // Arrange
    const workspace = await ingestWorkspace();
    const connection = await connectVectorStore(workspace.lancedbUri, { readConsistencySeconds: 0 });
    const lock = new MemorySyncLock();
    const services = {
      lock: () => lock,
      manifest: (
        (m) => () =>
          m
      )(new MemoryManifestStore()),
      staging: (
        (s) => () =>
          s
      )(new MemoryStagingStore()),
      origins: () => new DocumentOrigins([new LocalFileOrigin(workspace.root)]),
      connection: async () => connection,
      embeddings: async () => new LocalHashEmbeddings({ dimensions: 64 }),
    };
    const ingest = { ...loadConfig({ INGEST_LOCK_TTL_SECONDS: '60' }).ingest };
    try {
      await planSync(
        services,
        { origins: ['docs'] },
        { executionName: 'sync-a', now: 0, table: 'documents', ingest },
      );
      await embedBatch(services, 'sync-a', 0, 1);
      // sync-a stalled past its lock's TTL, and sync-b took the lock.
      await lock.acquire('sync-b', 61_000, 60);

      // Act
      const commit = commitSync(services, 'sync-a', { now: 62_000, table: 'documents' });

      // Assert
      await expect(commit).rejects.toThrow(LockLostError);
      await expect(commit).rejects.toThrow(
        /sync-a no longer holds the sync lock \(sync-b does\), so it wrote nothing/,
      );
      expect(await readRows(workspace.lancedbUri)).toEqual([]);
      expect((await services.manifest().load()).size).toBe(0);
    } finally {
      connection.close();
      await workspace.remove();
    }
  });
});
