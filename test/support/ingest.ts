import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Env } from '../../functions/core/config';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { type LocalIngestOptions, startLocalIngest } from '../../scripts/local/ingest-local';
import { REPO_ROOT } from '../../scripts/local/stack';
import type { FakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { temporaryDirectory } from './local-stack';

/** One row of the document table, as the tests look at it. */
export interface StoredRow {
  id: string;
  source: string;
  text: string;
  contentHash: string;
  collection: string | null;
  updatedAt: number;
}

/** Every row of the table (sorted by source, then id), or none when there is no table. */
export async function readRows(lancedbUri: string, table = 'documents'): Promise<StoredRow[]> {
  const connection = await connectVectorStore(lancedbUri, { readConsistencySeconds: 0 });
  try {
    if (!(await connection.tableNames()).includes(table)) return [];
    const handle = await connection.openTable(table);
    try {
      const rows = (await handle
        .query()
        .select(['id', 'source', 'text', 'contentHash', 'collection', 'updatedAt'])
        .toArray()) as Record<string, unknown>[];
      return rows
        .map((row) => ({
          id: String(row.id),
          source: String(row.source),
          text: String(row.text),
          contentHash: String(row.contentHash),
          collection: row.collection === null ? null : String(row.collection),
          updatedAt: Number(row.updatedAt),
        }))
        .sort((a, b) => a.source.localeCompare(b.source) || a.id.localeCompare(b.id));
    } finally {
      handle.close();
    }
  } finally {
    connection.close();
  }
}

/** The embedding requests a fake OpenAI received, and the inputs they carried. */
export function embeddingRequests(fake: FakeOpenAI): { inputs: string[] }[] {
  return fake.requests
    .filter((r) => r.path === '/v1/embeddings')
    .map((r) => {
      const input = (r.body as { input?: unknown }).input;
      return { inputs: Array.isArray(input) ? input.map(String) : [String(input)] };
    });
}

/** The configuration of a sync embedding through a fake OpenAI with its real client. */
export function fakeOpenAIEnv(fake: FakeOpenAI, extra: Env = {}): Env {
  return {
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-test-ingest',
    OPENAI_BASE_URL: fake.url,
    OPENAI_EMBEDDING_MODEL: 'text-embedding-3-small',
    ...extra,
  };
}

/** Writes files (path → text or bytes) under `root`. */
export async function writeFiles(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [path, body] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), body);
  }
}

/**
 * A workspace for syncs: a temporary directory holding a copy of the sample documents under `docs/`, the LanceDB
 * database and the staging directory; source names are relative to it, as `npm run ingest` run there would name
 * them. By default only the four Markdown samples: the tests of how a sync treats changes count documents and
 * chunks, and each format is read by tests of its own (through the same state machine in ingest-real-documents);
 * `samples: 'all'` adds the PDF and the Word file, as `npm run dev` indexes them.
 */
export async function ingestWorkspace(options: { samples?: 'markdown' | 'all' } = {}): Promise<{
  root: string;
  lancedbUri: string;
  /** Starts the local ingest state machine over this workspace (dynalite in memory unless `store` says). */
  start(options?: Partial<LocalIngestOptions>): ReturnType<typeof startLocalIngest>;
  remove(): Promise<void>;
}> {
  const dir = await temporaryDirectory('slack-rag-ingest-');
  await cp(join(REPO_ROOT, 'samples/docs'), join(dir.path, 'docs'), {
    recursive: true,
    filter: (source) => options.samples === 'all' || !/\.(pdf|docx)$/i.test(source),
  });
  const lancedbUri = join(dir.path, 'lancedb');
  return {
    root: dir.path,
    lancedbUri,
    start: (options = {}) =>
      startLocalIngest({
        lancedbUri,
        stagingUri: join(dir.path, 'staging'),
        baseDir: dir.path,
        retryIntervalMs: 10,
        ...options,
        env: { LLM_PROVIDER: 'local', ...options.env },
      }),
    remove: dir.remove,
  };
}
