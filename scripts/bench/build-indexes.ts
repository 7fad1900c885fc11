import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { ensureIndexes, openDocumentTable } from '../../functions/core/vector-store/document-table';
import { DIMENSIONS, EMBEDDER_NAME } from './vector-corpus';

/**
 * Run in a child process (`node --import tsx build-indexes.ts <uri> <table>`): builds a bench table's indexes with
 * the product's `ensureIndexes`, every index at any size, and prints what it did and how long it took. A separate
 * process so that the build's memory does not count in the parent's measurements of the queries.
 */
async function main() {
  const [uri, table] = process.argv.slice(2);
  if (uri === undefined || table === undefined) throw new Error('usage: build-indexes.ts <uri> <table>');
  const connection = await connectVectorStore(uri);
  const handle = await openDocumentTable(connection, {
    table,
    embedderName: EMBEDDER_NAME,
    dimensions: DIMENSIONS,
    embeddings: new LocalHashEmbeddings({ dimensions: DIMENSIONS }),
  });
  if (handle === undefined) throw new Error(`no table ${table} at ${uri}`);
  const started = performance.now();
  const result = await ensureIndexes(handle, { vectorIndexMinRows: 1 });
  process.stdout.write(JSON.stringify({ ...result, ms: performance.now() - started }));
  handle.close();
  connection.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
