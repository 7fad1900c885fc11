import { type Connection, type FtsOptions, Index, type OptimizeStats, type Table } from '@lancedb/lancedb';
import type { Embeddings } from '@langchain/core/embeddings';
import { PermanentError } from '../errors';
import { servedByLanceDbCloud } from './connect-vector-store';
import {
  type DocumentRow,
  type DocumentTableSpec,
  documentSchema,
  hasLocationColumns,
  locationFields,
  verifyDocumentSchema,
} from './document-schema';
import { type WatchdogOptions, watchProgress } from './index-watchdog';
import { sqlIn } from './sql';

/**
 * Everything the product does with the LanceDB document table, on a connection and an embedder it is given:
 * open (checking the embedder), create, replace a source's chunks, delete sources, keep the indexes, compact.
 * Search lives in `search-passages.ts`.
 */

/** How to open a document table: its name, the embedder in use, and that embedder's name and dimension. */
export interface DocumentTableOptions extends DocumentTableSpec {
  /** Embeds queries when a search is given text only. */
  embeddings: Embeddings;
}

/** An open document table whose embedder has been checked. `close()` it (or its `table`) when done. */
export interface DocumentTable {
  readonly name: string;
  readonly table: Table;
  readonly embeddings: Embeddings;
  readonly embedderName: string;
  readonly dimensions: number;
  /** Whether the table has the location columns (pages, link): a table made before them is read without them. */
  readonly locationColumns?: boolean;
  /**
   * Whether this version's indexes are all held in memory (loaded ahead by a reader's preload): a vector search then
   * probes more of the index's partitions, which costs CPU and no reads (see `searchPassages`).
   */
  readonly indexesInMemory?: () => boolean;
  /**
   * Whether LanceDB Cloud serves the table (a `db://` store): a search there is one request whatever it reads, so
   * `searchPassages` leaves the re-ranking to it rather than reading the candidates itself.
   */
  readonly remote?: boolean;
  close(): void;
}

/**
 * Opens the document table, or returns `undefined` when it does not exist yet (nothing was ever ingested).
 *
 * @throws {EmbeddingMismatchError} when the table was built with another embedder or dimension.
 * @throws {IncompatibleTableError} when the table has another layout.
 */
export async function openDocumentTable(
  conn: Connection,
  options: DocumentTableOptions,
): Promise<DocumentTable | undefined> {
  let table: Table;
  try {
    table = await conn.openTable(options.table);
  } catch (error) {
    // LanceDB reports a missing table only in its message; the listing tells a missing table from a real failure.
    if (!(await conn.tableNames()).includes(options.table)) return undefined;
    throw error;
  }
  return checked(table, options, servedByLanceDbCloud(conn));
}

/** Options for {@link createDocumentTable}. */
export interface CreateDocumentTableOptions {
  /** Replace an existing table (the `--rebuild` path). Without it, an existing table is opened and checked. */
  overwrite?: boolean;
}

/**
 * Creates an empty document table with the explicit schema and the embedder recorded in its metadata. An
 * existing table is opened and checked instead, unless `overwrite` is set.
 *
 * @throws {EmbeddingMismatchError} when an existing table was built with another embedder (and not overwritten).
 */
export async function createDocumentTable(
  conn: Connection,
  options: DocumentTableOptions,
  { overwrite = false }: CreateDocumentTableOptions = {},
): Promise<DocumentTable> {
  const table = await conn.createEmptyTable(options.table, documentSchema(options), {
    mode: overwrite ? 'overwrite' : 'create',
    existOk: !overwrite,
  });
  return checked(table, options, servedByLanceDbCloud(conn));
}

/**
 * Opens the document table for writing, creating it on first use. A table made before the location columns gets
 * them, all null, so its old chunks stay served and new ones carry their pages and links.
 */
export async function openOrCreateDocumentTable(
  conn: Connection,
  options: DocumentTableOptions,
): Promise<DocumentTable> {
  const handle = (await openDocumentTable(conn, options)) ?? (await createDocumentTable(conn, options));
  if (handle.locationColumns) return handle;
  const names = new Set((await handle.table.schema()).fields.map((f) => f.name));
  const missing = locationFields().filter((field) => !names.has(field.name));
  await handle.table.addColumns(missing);
  return { ...handle, locationColumns: true };
}

async function checked(table: Table, options: DocumentTableOptions, remote: boolean): Promise<DocumentTable> {
  let locationColumns: boolean;
  try {
    const schema = await table.schema();
    verifyDocumentSchema(schema, options);
    locationColumns = hasLocationColumns(schema);
  } catch (error) {
    table.close();
    throw error;
  }
  return {
    name: options.table,
    table,
    embeddings: options.embeddings,
    embedderName: options.embedderName,
    dimensions: options.dimensions,
    locationColumns,
    ...(remote ? { remote } : {}),
    close: () => table.close(),
  };
}

/** What a write changed, in rows. */
export interface ReplaceResult {
  inserted: number;
  updated: number;
  deleted: number;
}

/**
 * Makes `rows` the only chunks of `source`: chunks whose id is new are added, chunks with an unchanged id are
 * updated in place, and the source's other chunks are deleted, all in one `mergeInsert` commit. A reader
 * therefore sees either the old chunks or the new ones, never a source with no chunks in between. Rows sharing
 * an id are written once (the first wins). An empty `rows` deletes the source.
 *
 * @throws {PermanentError} when a row belongs to another source or has a vector of another dimension.
 */
export function replaceSourceChunks(
  handle: DocumentTable,
  source: string,
  rows: readonly DocumentRow[],
): Promise<ReplaceResult> {
  return replaceSources(handle, [source], rows);
}

/**
 * {@link replaceSourceChunks} for several sources in one commit (the ingest Commit step writes a batch of
 * documents at a time): `rows` become the only chunks of `sources`, and a source with no row in `rows` is
 * deleted. Readers see every listed source either before or after, never a mix.
 *
 * @throws {PermanentError} when a row belongs to a source not listed or has a vector of another dimension.
 */
export async function replaceSources(
  handle: DocumentTable,
  sources: readonly string[],
  rows: readonly DocumentRow[],
): Promise<ReplaceResult> {
  const listed = new Set(sources);
  const unique = new Map<string, DocumentRow>();
  for (const row of rows) {
    if (!listed.has(row.source)) {
      const expected = sources.length === 1 ? `"${sources[0]}"` : 'any of the sources being replaced';
      throw new PermanentError(`chunk ${row.id} belongs to "${row.source}", not to ${expected}`);
    }
    if (row.vector.length !== handle.dimensions) {
      throw new PermanentError(
        `chunk ${row.id} of "${row.source}" has a ${row.vector.length}-dimensional vector; ` +
          `the table "${handle.name}" holds ${handle.dimensions}-dimensional vectors from "${handle.embedderName}"`,
      );
    }
    if (!unique.has(row.id)) unique.set(row.id, row);
  }
  if (listed.size === 0) return { inserted: 0, updated: 0, deleted: 0 };
  if (unique.size === 0) {
    return { inserted: 0, updated: 0, deleted: await deleteSources(handle, [...listed]) };
  }
  const records = [...unique.values()].map((row) => toRecord(row, handle.locationColumns === true));
  // Removing a source's other rows makes the merge a full outer join that reads every row of the table: 6.3 s a merge
  // at 200,000 rows against 0.4-1.0 s without it (scripts/bench/commit-merge-probe.ts), so a first sync of a million
  // chunks took hours. Sources with no row yet have nothing to remove (the common case: new documents), which one
  // read of the `source` column tells; their merge only inserts. The caller is the single writer (Commit, under the
  // sync lock), so no row can appear between the check and the merge.
  const merge = handle.table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll();
  const result = (await anyRowOf(handle, [...listed]))
    ? await merge.whenNotMatchedBySourceDelete({ where: sqlIn('source', [...listed]) }).execute(records)
    : await merge.execute(records);
  return { inserted: result.numInsertedRows, updated: result.numUpdatedRows, deleted: result.numDeletedRows };
}

/** Whether any row belongs to one of `sources` (reads the `source` column only). */
async function anyRowOf(handle: DocumentTable, sources: readonly string[]): Promise<boolean> {
  const found = await handle.table
    .query()
    .where(sqlIn('source', sources))
    .select(['source'])
    .limit(1)
    .toArray();
  return found.length > 0;
}

/** Sources per delete: one predicate stays small enough to parse quickly, and most syncs need one commit. */
const DELETE_BATCH = 500;

/** Deletes every chunk of the given sources; returns how many rows were deleted. */
export async function deleteSources(handle: DocumentTable, sources: readonly string[]): Promise<number> {
  const unique = [...new Set(sources)];
  let deleted = 0;
  for (let start = 0; start < unique.length; start += DELETE_BATCH) {
    const batch = unique.slice(start, start + DELETE_BATCH);
    deleted += (await handle.table.delete(sqlIn('source', batch))).numDeletedRows;
  }
  return deleted;
}

/** How many chunks the table holds. */
export function countRows(handle: DocumentTable): Promise<number> {
  return handle.table.countRows();
}

/**
 * Each indexed source with the content hash its chunks were made from, for diffing against the origin. A
 * source whose chunks disagree on the hash (which a half-finished write could leave) maps to `''`, which
 * matches no real hash, so the next sync re-indexes it.
 */
export async function listSourceHashes(handle: DocumentTable): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for await (const batch of handle.table.query().select(['source', 'contentHash'])) {
    const sources = batch.getChild('source');
    const contentHashes = batch.getChild('contentHash');
    for (let i = 0; i < batch.numRows; i++) {
      const source = String(sources?.get(i));
      const hash = String(contentHashes?.get(i));
      const known = hashes.get(source);
      hashes.set(source, known === undefined || known === hash ? hash : '');
    }
  }
  return hashes;
}

/**
 * The full-text index: words as ICU's word-break rules find them (Unicode UAX #29 with dictionaries for Chinese,
 * Japanese, Thai and Khmer, so a Japanese sentence splits into words without spaces: 経費精算システム is 経費, 精算,
 * システム), lower-cased, folded to ASCII, English stop words removed and English words stemmed ("rotating keys"
 * finds "Rotate your key"). Codes like ZX-4471 split into zx and 4471, both rare, so they still find their chunk.
 *
 * Why not character n-grams, as before: a question's n-grams number about twice its characters, and each is a
 * posting list to read. On S3 that was 120–240 GETs per question; words are a handful, and the whole index is a
 * tenth of the n-gram one (11 MB at 100,000 chunks), small enough for the Retrieve function to hold in memory.
 * LanceDB 0.31 accepts `icu` although its TypeScript type lists only simple, whitespace, raw and ngram.
 */
export const FULL_TEXT_INDEX_OPTIONS = {
  baseTokenizer: 'icu' as FtsOptions['baseTokenizer'],
  language: 'English',
  lowercase: true,
  asciiFolding: true,
  stem: true,
  removeStopWords: true,
  withPosition: false,
};

/** The settings of the vector index, and when to train it again. */
export const VECTOR_INDEX = {
  /**
   * IVF with RaBitQ codes of 3 bits per dimension (576 bytes for 1,536 dimensions): 60 MB at 100,000 chunks, which
   * a Retrieve container loads once and keeps, so a warm question reads no index from S3. HNSW-SQ, the index before,
   * took 1.8 KB per chunk (184 MB at 100,000, 5 s for a cold container); IVF-PQ took minutes to train on two CPUs
   * where RaBitQ takes seconds. 3 bits rather than 2 (41 MB) or 4 (79 MB): 30 candidates re-ranked on their full
   * vectors bring recall@10 to 0.97–1.00 from 1,000 to 100,000 chunks, where 2 bits need 50 (each a 6-KB read
   * per question), and a 2-bit index loads no faster in practice: LanceDB's loading is bound by round trips, not
   * bytes (`npm run bench`, sections Retrieval and Retrieval on S3).
   */
  numBits: 3,
  /**
   * Rows per IVF partition. Searches probe up to 20 partitions (LanceDB's default), so up to 200,000 chunks every
   * code is compared; past that, a query compares a share of them.
   */
  rowsPerPartition: 10_000,
  /**
   * The index is trained again once the table needs this many times the partitions it was trained for. Not for
   * recall: between trainings Optimize folds new rows in against the old centroids, and LanceDB splits a partition
   * past 4 × 4,096 rows itself (and joins one under 1,024). Recall@10 of questions about the old and the new
   * documents stayed 0.99–1.00 up to 4 × the trained size (real text, hashed embeddings), as a fresh index's did; with
   * more partitions than the 20 a search probes, the grown index even scored above a fresh one, which has more
   * partitions (docs/performance.md, "When the vector index is retrained"). Training again keeps partitions at
   * about `rowsPerPartition` rows, which is what bounds the rows a question compares.
   */
  retrainGrowth: 2,
  /**
   * The index is trained again once it is in more segments than this. Each Optimize that splits no partition adds
   * a delta segment (a table that grows slowly gains one a sync, for as long as no partition passes 16,384 rows),
   * every search visits every segment, and a new container loads each one with about 20 more reads: what a
   * training costs once (seconds at 100,000 rows) would otherwise be paid by every cold start.
   */
  maxSegments: 8,
  /** The index's name carries its partitions, so that a table that has grown is trained again. */
  namePrefix: 'vector_rq3_p',
} as const;

/** Below this many rows no vector index is built: an exact search over every vector reads at most 1.5 MB. */
export const DEFAULT_VECTOR_INDEX_MIN_ROWS = 256;

/** Options for {@link ensureIndexes}. */
export interface EnsureIndexesOptions {
  /**
   * Rows from which a vector index is built. Below it, an exact (flat) search reads every vector (6 KB each at
   * 1,536 dimensions, on S3 on every question): at 256 rows, 1.5 MB.
   * @default 256
   */
  vectorIndexMinRows?: number;
  /** Rows per IVF partition of the vector index. @default VECTOR_INDEX.rowsPerPartition (10,000) */
  rowsPerPartition?: number;
  /** Segments past which the vector index is trained again. @default VECTOR_INDEX.maxSegments (8) */
  maxVectorSegments?: number;
  /** When a build counts as stalled: see {@link watchProgress}. */
  watchdog?: WatchdogOptions;
}

/** What {@link ensureIndexes} did to each index. */
export interface EnsureIndexesResult {
  rows: number;
  fullText: 'created' | 'exists' | 'skipped';
  vector: 'created' | 'exists' | 'skipped';
}

/** The partitions an index was trained with, from its name; undefined for another kind of index. */
export function partitionsOf(indexName: string): number | undefined {
  if (!indexName.startsWith(VECTOR_INDEX.namePrefix)) return undefined;
  const partitions = Number(indexName.slice(VECTOR_INDEX.namePrefix.length));
  return Number.isInteger(partitions) && partitions > 0 ? partitions : undefined;
}

/**
 * Makes sure the indexes the search needs exist: the full-text index on `text` (created, or rebuilt when its
 * tokenizer settings differ from {@link FULL_TEXT_INDEX_OPTIONS}), a bitmap index on `collection`, and the vector index ({@link VECTOR_INDEX})
 * once the table holds `vectorIndexMinRows` rows; it is trained again when the table has grown to twice the
 * partitions it was trained for ({@link VECTOR_INDEX} `retrainGrowth`), when Optimize has left it in more than
 * `maxVectorSegments` segments, or when it is another kind (an HNSW index from an earlier version), and the old
 * one is dropped after the new one is committed, so that searches always have one. Rows added after an index was
 * built are still searched (LanceDB scans the unindexed part); {@link optimize} folds them into the indexes. An
 * empty table gets no index.
 */
export async function ensureIndexes(
  handle: DocumentTable,
  {
    vectorIndexMinRows = DEFAULT_VECTOR_INDEX_MIN_ROWS,
    rowsPerPartition = VECTOR_INDEX.rowsPerPartition,
    maxVectorSegments = VECTOR_INDEX.maxSegments,
    watchdog,
  }: EnsureIndexesOptions = {},
): Promise<EnsureIndexesResult> {
  const rows = await handle.table.countRows();
  if (rows === 0) return { rows, fullText: 'skipped', vector: 'skipped' };
  const indexes = await handle.table.listIndices();

  const fts = indexes.find((i) => i.indexType === 'FTS' && i.columns.includes('text'));
  let fullText: EnsureIndexesResult['fullText'] = 'exists';
  if (fts === undefined || !hasFullTextSettings(fts.indexDetails)) {
    await watchProgress(
      `Building the full-text index of ${rows} rows`,
      () => handle.table.createIndex('text', { config: Index.fts(FULL_TEXT_INDEX_OPTIONS), replace: true }),
      watchdog,
    );
    fullText = 'created';
  }

  // Searches filtered by collection (a channel's access) find the allowed rows in this index, which the Retrieve
  // function holds in memory, instead of reading the column first: one round trip to S3 fewer, about 20 ms.
  if (!indexes.some((i) => i.columns.includes('collection'))) {
    await watchProgress(
      `Building the collection index of ${rows} rows`,
      () => handle.table.createIndex('collection', { config: Index.bitmap() }),
      watchdog,
    );
  }

  const vectorIndexes = indexes.filter((i) => i.columns.includes('vector'));
  const partitions = Math.max(1, Math.ceil(rows / rowsPerPartition));
  const current = vectorIndexes.find((i) => partitionsOf(i.name) !== undefined);
  const trainedFor = current === undefined ? undefined : (partitionsOf(current.name) as number);
  let vector: EnsureIndexesResult['vector'] = vectorIndexes.length > 0 ? 'exists' : 'skipped';
  const stale =
    trainedFor === undefined
      ? vectorIndexes.length > 0
      : partitions >= VECTOR_INDEX.retrainGrowth * trainedFor ||
        (current?.numSegments ?? 1) > maxVectorSegments;
  if ((vectorIndexes.length === 0 && rows >= vectorIndexMinRows) || stale) {
    const name = `${VECTOR_INDEX.namePrefix}${partitions}`;
    await watchProgress(
      `Building the vector index of ${rows} rows`,
      () =>
        handle.table.createIndex('vector', {
          name,
          replace: true,
          config: Index.ivfRq({
            distanceType: 'cosine',
            numBits: VECTOR_INDEX.numBits,
            numPartitions: partitions,
          }),
        }),
      watchdog,
    );
    for (const old of vectorIndexes) if (old.name !== name) await handle.table.dropIndex(old.name);
    vector = 'created';
  }
  return { rows, fullText, vector };
}

function hasFullTextSettings(details: unknown): boolean {
  if (typeof details !== 'object' || details === null) return false;
  const d = details as Record<string, unknown>;
  return (
    d.base_tokenizer === FULL_TEXT_INDEX_OPTIONS.baseTokenizer &&
    d.stem === FULL_TEXT_INDEX_OPTIONS.stem &&
    d.remove_stop_words === FULL_TEXT_INDEX_OPTIONS.removeStopWords &&
    d.ascii_folding === FULL_TEXT_INDEX_OPTIONS.asciiFolding
  );
}

/** Options for {@link optimize}. */
export interface OptimizeOptions {
  /**
   * Versions older than this are removed. Kept well above a reader's consistency interval, so that a warm
   * Retrieve Lambda still reading a recent version never finds its files gone.
   * @default 3_600_000 (one hour)
   */
  keepVersionsMs?: number;
  /** The clock, for tests. */
  now?: number;
  /** When the optimize counts as stalled: see {@link watchProgress}. */
  watchdog?: WatchdogOptions;
}

/**
 * Compacts small files into larger ones, folds new rows into the indexes, and removes versions older than
 * `keepVersionsMs`. Run it after a sync's writes: every write adds a version and usually a small file.
 */
export function optimize(
  handle: DocumentTable,
  { keepVersionsMs = 3_600_000, now = Date.now(), watchdog }: OptimizeOptions = {},
): Promise<OptimizeStats> {
  // Optimize folds new rows into the indexes with the same builders as a fresh build, so it can stall the same way.
  return watchProgress(
    'Optimizing the table (compaction and index update)',
    () => handle.table.optimize({ cleanupOlderThan: new Date(now - keepVersionsMs) }),
    watchdog,
  );
}

/**
 * The rows an index does not cover yet, the most over the table's indexes: rows written since the last
 * {@link optimize} (or index build). Searches still find them, by a flat scan of their vectors and text on every
 * question; `fastSearch` would not. 0 for a table without indexes, and for a remote table (which does not report it).
 */
export async function unindexedRows(handle: DocumentTable): Promise<number> {
  let most = 0;
  for (const index of await handle.table.listIndices()) {
    const stats = await handle.table.indexStats(index.name);
    most = Math.max(most, stats?.numUnindexedRows ?? 0);
  }
  return most;
}

/** Only the schema's columns: a row built from a chunk may carry more, which the table would reject. */
function toRecord(row: DocumentRow, locationColumns: boolean): Record<string, unknown> {
  const location = locationColumns
    ? { pageStart: row.pageStart ?? null, pageEnd: row.pageEnd ?? null, url: row.url ?? null }
    : {};
  return {
    ...location,
    id: row.id,
    vector: row.vector,
    text: row.text,
    source: row.source,
    title: row.title,
    heading: row.heading,
    collection: row.collection,
    contentHash: row.contentHash,
    updatedAt: row.updatedAt,
  };
}
