import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type Env, loadConfig } from '../../functions/core/config';
import { indexDocuments } from '../../functions/core/ingest/index-documents';
import { createEmbeddings } from '../../functions/core/llm/providers';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { type LocalStack, REPO_ROOT, startLocalStack } from '../../scripts/local/stack';

export type { LocalStack };

/** A temporary directory removed by the returned function. */
export async function temporaryDirectory(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Indexes the bundled sample documents with the embedder `env` configures (through its real client). */
export async function indexSampleDocuments(lancedbUri: string, env: Env): Promise<number> {
  const samples = join(REPO_ROOT, 'samples/docs');
  const files = await Promise.all(
    (await readdir(samples)).sort().map(async (name) => ({
      source: relative(REPO_ROOT, join(samples, name)),
      bytes: await readFile(join(samples, name)),
    })),
  );
  const config = loadConfig(env);
  const key =
    config.secrets.openaiApiKey && 'value' in config.secrets.openaiApiKey
      ? config.secrets.openaiApiKey.value
      : undefined;
  const connection = await connectVectorStore(lancedbUri);
  try {
    const result = await indexDocuments(connection, createEmbeddings(config.llm, key), files, {
      table: 'documents',
      now: Date.now(),
    });
    return result.chunks;
  } finally {
    connection.close();
  }
}

/** A local stack over a fresh temporary vector store, optionally with the sample documents indexed. */
export async function startTestStack(
  options: { env?: Env; indexSamples?: boolean; timeoutOverrides?: Record<string, number> } = {},
): Promise<{
  stack: LocalStack;
  close(): Promise<void>;
}> {
  const dir = await temporaryDirectory('slack-rag-test-');
  const lancedbUri = join(dir.path, 'lancedb');
  const env = { LLM_PROVIDER: 'local', ...options.env };
  if (options.indexSamples !== false) await indexSampleDocuments(lancedbUri, env);
  const stack = await startLocalStack({
    lancedbUri,
    env,
    retryIntervalMs: 20,
    timeoutOverrides: options.timeoutOverrides,
  });
  return {
    stack,
    async close() {
      await stack.close();
      await dir.remove();
    },
  };
}

/** The text a person reads in a bot message: its blocks' texts, else its text. */
export function visibleText(message: { text: string; blocks?: unknown[] }): string {
  const blocks = (message.blocks ?? []) as {
    type: string;
    text?: { text?: string };
    elements?: { text?: string }[];
  }[];
  if (blocks.length === 0) return message.text;
  return blocks
    .map((b) => b.text?.text ?? (b.elements ?? []).map((e) => e.text ?? '').join(' '))
    .filter((t) => t !== '')
    .join('\n');
}
