import { loadConfig } from '../../functions/core/config';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { ensureIndexes, openDocumentTable, optimize } from '../../functions/core/vector-store/document-table';
import { DIMENSIONS, EMBEDDER_NAME } from './vector-corpus';

/**
 * Run in a child process (`node --import tsx build-indexes.ts <uri> <table> [--as-ingest]`): builds a bench
 * table's indexes with the product's `ensureIndexes` and prints what it did and how long it took. A separate
 * process so that the build's memory does not count in the parent's measurements of the queries.
 *
 * Without `--as-ingest`, every index is built at any size. With it, the table is finished as the ingest Optimize
 * step finishes one: `ensureIndexes` with the configured `INGEST_VECTOR_INDEX_MIN_ROWS`, then `optimize`
 * (compaction, index update, old versions removed), so that a bench reads what production has.
 */
async function main() {
  const [uri, table, mode] = process.argv.slice(2);
  if (uri === undefined || table === undefined)
    throw new Error('usage: build-indexes.ts <uri> <table> [--as-ingest]');
  const asIngest = mode === '--as-ingest';
  const connection = await connectVectorStore(uri);
  const handle = await openDocumentTable(connection, {
    table,
    embedderName: EMBEDDER_NAME,
    dimensions: DIMENSIONS,
    embeddings: new LocalHashEmbeddings({ dimensions: DIMENSIONS }),
  });
  if (handle === undefined) throw new Error(`no table ${table} at ${uri}`);
  const started = performance.now();
  const vectorIndexMinRows = asIngest ? loadConfig(process.env).ingest.vectorIndexMinRows : 1;
  const result = await ensureIndexes(handle, { vectorIndexMinRows });
  const indexedMs = performance.now() - started;
  if (asIngest) await optimize(handle, { keepVersionsMs: 0 });
  const indexes = (await handle.table.listIndices()).map((i) => ({
    name: i.name,
    type: i.indexType,
    columns: i.columns,
    bytes: i.sizeBytes,
  }));
  process.stdout.write(
    JSON.stringify({
      ...result,
      vectorIndexMinRows,
      indexes,
      indexMs: indexedMs,
      ms: performance.now() - started,
    }),
  );
  handle.close();
  connection.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
