/**
 * Probe (issue 23, point 3): what one Commit merge costs as the table grows. The scale section's first sync of
 * 1,000,000 chunks spent seconds per merge, growing with the table. This writes ROWS generated chunks
 * (vector-corpus.ts) and then times, MERGES times each, a merge of WRITE rows of new documents:
 * - `replaceSources` as Commit calls it, for new documents (no row yet: a merge that only inserts) and for changed
 *   ones (their old rows replaced: the merge also deletes the sources' other rows, a join over the whole table);
 * - the merge without that delete clause, the cost of the insert alone;
 * - with ID_INDEX=1, the last two again once a BTREE index on `id` exists (it did not help: 6.4-6.6 s).
 * Run: LANCE_CPU_THREADS=2 LANCE_FTS_NUM_SHARDS=1 npx tsx scripts/bench/commit-merge-probe.ts
 * Settings: ROWS (200000), WRITE (2000), MERGES (3), DIR (/tmp/merge-probe), ID_INDEX (0).
 */
import { rm } from 'node:fs/promises';
import { Index } from '@lancedb/lancedb';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import { type DocumentTable, replaceSources } from '../../functions/core/vector-store/document-table';
import { chunkId, DIMENSIONS, generateCorpus, writeCorpusTable } from './vector-corpus';

const ROWS = Number(process.env.ROWS ?? 200_000);
const WRITE = Number(process.env.WRITE ?? 2_000);
const MERGES = Number(process.env.MERGES ?? 3);
const DIR = process.env.DIR ?? '/tmp/merge-probe';

/** WRITE rows of new documents, or (`changed`) of documents the table holds, which replace their rows. */
function rowsOf(round: number, changed = false): DocumentRow[] {
  return Array.from({ length: WRITE }, (_, i) => {
    const source = changed
      ? `bench/${chunkId((round * WRITE + i) % ROWS)}.md`
      : `new/${round}/${Math.floor(i / 5)}.md`;
    const vector = Array.from({ length: DIMENSIONS }, (_, d) => Math.sin(round * 7 + i * 3 + d));
    return {
      id: `${source}#${i % 5}`,
      vector,
      text: `new text ${round} ${i}`,
      source,
      title: source,
      heading: '',
      collection: null,
      contentHash: `h${round}`,
      updatedAt: 0,
    } as unknown as DocumentRow;
  });
}

async function time(
  label: string,
  handle: DocumentTable,
  merge: (rows: DocumentRow[]) => Promise<unknown>,
  changed = false,
) {
  const times: number[] = [];
  for (let m = 0; m < MERGES; m++) {
    const rows = rowsOf(label.length * 10 + m, changed);
    const started = performance.now();
    await merge(rows);
    times.push(performance.now() - started);
  }
  const rows = await handle.table.countRows();
  console.log(`${label}: ${times.map((t) => Math.round(t)).join(', ')} ms (table ${rows} rows)`);
}

async function main() {
  await rm(DIR, { recursive: true, force: true });
  const connection = await connectVectorStore(DIR);
  const handle = await writeCorpusTable(connection, 'documents', generateCorpus(ROWS), ROWS);
  console.log(`table of ${ROWS} rows written`);
  const product = (rows: DocumentRow[]) =>
    replaceSources(handle, [...new Set(rows.map((r) => r.source))], rows);
  const noBySource = (rows: DocumentRow[]) =>
    handle.table
      .mergeInsert('id')
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(rows.map((r) => ({ ...r, pageStart: null, pageEnd: null, url: null })) as never);
  await time('replaceSources, new documents', handle, product);
  await time('replaceSources, changed documents', handle, product, true);
  await time('merge without the delete clause', handle, noBySource);
  if (process.env.ID_INDEX === '1') {
    await handle.table.createIndex('id', { config: Index.btree() });
    await time('replaceSources, changed documents, id index', handle, product, true);
    await time('merge without the delete clause, id index', handle, noBySource);
  }
  handle.close();
  connection.close();
}

void main();
