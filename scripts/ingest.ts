import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../functions/core/config';
import { indexDocuments, type SourceFile } from '../functions/core/ingest/index-documents';
import { createEmbeddings } from '../functions/core/llm/providers';
import { connectVectorStore } from '../functions/core/vector-store/connect-vector-store';
import { localLanceDbUri, shellSettings } from './local/cli-env';

/**
 * `npm run ingest -- [--json] <file|folder>...`: indexes Markdown and text files into the local vector store
 * (`.local/lancedb`, or LANCEDB_URI). Each document's chunks replace its previous ones.
 */
const DOCUMENT_EXTENSIONS = new Set(['.md', '.markdown', '.txt']);

async function collect(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .filter((e) => !e.name.startsWith('.'))
      .map((e) =>
        e.isDirectory()
          ? collect(join(path, e.name))
          : Promise.resolve(
              DOCUMENT_EXTENSIONS.has(extname(e.name).toLowerCase()) ? [join(path, e.name)] : [],
            ),
      ),
  );
  return nested.flat();
}

async function main() {
  const { values, positionals } = parseArgs({
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    console.error('usage: npm run ingest -- [--json] <file|folder>...');
    process.exit(2);
  }
  const started = Date.now();
  const paths = (await Promise.all(positionals.map(collect))).flat().sort();
  const files: SourceFile[] = await Promise.all(
    paths.map(async (path) => ({ source: relative(process.cwd(), path), bytes: await readFile(path) })),
  );
  const config = loadConfig({ ...shellSettings(), LANCEDB_URI: localLanceDbUri() });
  const connection = await connectVectorStore(config.vectorStore.uri);
  try {
    const result = await indexDocuments(
      connection,
      createEmbeddings(
        config.llm,
        config.secrets.openaiApiKey && 'value' in config.secrets.openaiApiKey
          ? config.secrets.openaiApiKey.value
          : undefined,
      ),
      files,
      {
        table: config.vectorStore.table,
        now: Date.now(),
      },
    );
    const ms = Date.now() - started;
    if (values.json) console.log(JSON.stringify({ ...result, ms }));
    else {
      console.log(
        `Indexed ${result.indexed} of ${files.length} documents (${result.chunks} chunks) into ${config.vectorStore.uri} in ${ms} ms`,
      );
      for (const failure of result.failed) console.log(`  skipped ${failure.source}: ${failure.reason}`);
    }
    if (result.indexed === 0 && files.length > 0) process.exitCode = 1;
  } finally {
    connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
