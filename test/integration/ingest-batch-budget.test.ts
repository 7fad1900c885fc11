import { loadConfig } from '../../functions/core/config';
import type { InvocationBudget } from '../../functions/core/ingest/batch-budget';
import { commitSync } from '../../functions/core/ingest/commit-sync';
import { DocumentOrigins, LocalFileOrigin } from '../../functions/core/ingest/document-origins';
import { embedBatch } from '../../functions/core/ingest/embed-batch';
import { MemoryManifestStore } from '../../functions/core/ingest/manifest-store';
import { planSync } from '../../functions/core/ingest/plan-sync';
import { MemoryStagingStore } from '../../functions/core/ingest/staging-store';
import { MemorySyncLock } from '../../functions/core/ingest/sync-lock';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { ingestWorkspace, readRows, writeFiles } from '../support/ingest';

/**
 * "Load, split and embed" within its invocation's budget, called as its Lambda handler calls it, on the real
 * origin, splitter and (local) embedder, with the invocation's time and memory as Lambda's context gives them.
 */

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;
let connection: Awaited<ReturnType<typeof connectVectorStore>>;
/** What the invocation's clock says: the origin spends a second a document. */
let clockMs: number;

function services() {
  class SlowOrigin extends LocalFileOrigin {
    override async read(...args: Parameters<LocalFileOrigin['read']>) {
      clockMs += 1_000;
      return super.read(...args);
    }
  }
  const staging = new MemoryStagingStore();
  const manifest = new MemoryManifestStore();
  const lock = new MemorySyncLock();
  return {
    lock: () => lock,
    manifest: () => manifest,
    staging: () => staging,
    origins: () => new DocumentOrigins([new SlowOrigin(workspace.root)]),
    connection: async () => connection,
    embeddings: async () => new LocalHashEmbeddings({ dimensions: 64 }),
  };
}

function budget(timeoutMs: number, memory?: { limit: number; used: number }): InvocationBudget {
  const started = clockMs;
  return {
    remainingMs: () => timeoutMs - (clockMs - started),
    ...(memory !== undefined ? { memoryLimitBytes: memory.limit } : {}),
    memoryUsedBytes: () => memory?.used ?? 0,
  };
}

beforeEach(async () => {
  clockMs = 0;
  workspace = await ingestWorkspace();
  // Twelve documents besides the four samples: two slices of eight documents read at once.
  await writeFiles(
    workspace.root,
    Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `docs/note-${String(i).padStart(2, '0')}.md`,
        `# Note ${i}\n\nThe ${i}th note.\n`,
      ]),
    ),
  );
  connection = await connectVectorStore(workspace.lancedbUri, { readConsistencySeconds: 0 });
});

afterEach(async () => {
  connection.close();
  await workspace.remove();
});

async function plan(s: ReturnType<typeof services>) {
  const ingest = { ...loadConfig({}).ingest };
  await planSync(s, { origins: ['docs'] }, { executionName: 'sync-a', now: 0, table: 'documents', ingest });
}

describe('a batch running short of its budget', () => {
  it('stops taking documents once half its time is gone, stages what it finished, and Commit adds the documents it left once they ran alone', async () => {
    // Arrange
    const s = services();
    await plan(s);

    // Act: 16 documents in one batch, a second each to read, in an invocation of 12 seconds.
    const result = await embedBatch(s, 'sync-a', 0, 1, { budget: budget(12_000) });
    for (const document of result.left) {
      await embedBatch(s, 'sync-a', 0, 1, { document, budget: budget(12_000) });
    }
    const commit = await commitSync(s, 'sync-a', { now: 2, table: 'documents' });

    // Assert
    expect(result).toMatchObject({ documents: 8, indexed: 8, stoppedFor: 'time' });
    expect(result.left).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(commit).toMatchObject({ added: 16, failed: 0 });
    expect(new Set((await readRows(workspace.lancedbUri)).map((r) => r.source)).size).toBe(16);
  });

  it('stops taking documents once half its memory is used', async () => {
    // Arrange
    const s = services();
    await plan(s);

    // Act
    const result = await embedBatch(s, 'sync-a', 0, 1, {
      budget: budget(600_000, { limit: 1024 * 1024 * 1024, used: 600 * 1024 * 1024 }),
    });

    // Assert
    expect(result).toMatchObject({
      documents: 8,
      stoppedFor: 'memory',
      left: [8, 9, 10, 11, 12, 13, 14, 15],
    });
  });

  it('takes every document when its budget holds them, and a document run alone whatever its budget', async () => {
    // Arrange
    const s = services();
    await plan(s);

    // Act
    const whole = await embedBatch(s, 'sync-a', 0, 1, { budget: budget(600_000) });
    const alone = await embedBatch(s, 'sync-a', 0, 1, { document: 3, budget: budget(1_500) });

    // Assert
    expect(whole).toMatchObject({ documents: 16, indexed: 16, left: [] });
    expect(whole.stoppedFor).toBeUndefined();
    expect(alone).toMatchObject({ document: 3, documents: 1, indexed: 1, left: [] });
  });
});
