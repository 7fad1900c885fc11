import { type Connection, Index, type OptimizeStats, type Table } from '@lancedb/lancedb';
import type { Embeddings } from '@langchain/core/embeddings';
import { PermanentError } from '../errors';
import {
  type DocumentRow,
  type DocumentTableSpec,
  documentSchema,
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
  return checked(table, options);
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
  return checked(table, options);
}

/** Opens the document table for writing, creating it on first use. */
export async function openOrCreateDocumentTable(
  conn: Connection,
  options: DocumentTableOptions,
): Promise<DocumentTable> {
  return (await openDocumentTable(conn, options)) ?? createDocumentTable(conn, options);
}

async function checked(table: Table, options: DocumentTableOptions): Promise<DocumentTable> {
  try {
    verifyDocumentSchema(await table.schema(), options);
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
  const result = await handle.table
    .mergeInsert('id')
    .whenMatchedUpdateAll()
    .whenNotMatchedInsertAll()
    .whenNotMatchedBySourceDelete({ where: sqlIn('source', [...listed]) })
    .execute([...unique.values()].map(toRecord));
  return { inserted: result.numInsertedRows, updated: result.numUpdatedRows, deleted: result.numDeletedRows };
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
 * The full-text index's tokenizer: character n-grams of 2 and 3. LanceDB 0.31's FTS tokenizers are `simple`,
 * `whitespace`, `raw` and `ngram`; the first three split on spaces and punctuation, which leaves a Japanese
 * sentence (no spaces) as one token that no query matches. Bigrams are the usual way to index CJK text without a
 * dictionary, and trigrams keep English keyword matches precise (a rare identifier like "ZX-4471" shares its
 * rare trigrams with its chunk only). Stemming and stop words are off: they are English-only and n-grams need
 * neither. Positions are off: phrase queries are not used, and the index is smaller without them.
 */
export const FULL_TEXT_INDEX_OPTIONS = {
  baseTokenizer: 'ngram',
  ngramMinLength: 2,
  ngramMaxLength: 3,
  prefixOnly: false,
  lowercase: true,
  asciiFolding: true,
  stem: false,
  removeStopWords: false,
  withPosition: false,
} as const;

/** Options for {@link ensureIndexes}. */
export interface EnsureIndexesOptions {
  /**
   * Rows from which a vector index is built. Below it, an exact (flat) search over every vector is both fast
   * enough and exact; an approximate index would only cost recall.
   * @default 100_000
   */
  vectorIndexMinRows?: number;
  /** When a build counts as stalled: see {@link watchProgress}. */
  watchdog?: WatchdogOptions;
}

/** What {@link ensureIndexes} did to each index. */
export interface EnsureIndexesResult {
  rows: number;
  fullText: 'created' | 'exists' | 'skipped';
  vector: 'created' | 'exists' | 'skipped';
}

/**
 * Makes sure the indexes the search needs exist: the full-text index on `text` (created, or rebuilt when its
 * tokenizer settings differ from {@link FULL_TEXT_INDEX_OPTIONS}), and a cosine HNSW vector index once the table
 * holds `vectorIndexMinRows` rows. Rows added after an index was built are still searched (LanceDB scans the
 * unindexed part); {@link optimize} folds them into the indexes. An empty table gets no index.
 */
export async function ensureIndexes(
  handle: DocumentTable,
  { vectorIndexMinRows = 100_000, watchdog }: EnsureIndexesOptions = {},
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

  let vector: EnsureIndexesResult['vector'] = 'skipped';
  if (indexes.some((i) => i.columns.includes('vector'))) {
    vector = 'exists';
  } else if (rows >= vectorIndexMinRows) {
    await watchProgress(
      `Building the vector index of ${rows} rows`,
      () =>
        handle.table.createIndex('vector', {
          // HNSW with scalar quantization keeps recall high without the tuning IVF-PQ needs (sub-vectors that divide
          // the dimension). One IVF partition per million rows bounds the memory of building each HNSW graph.
          config: Index.hnswSq({
            distanceType: 'cosine',
            numPartitions: Math.max(1, Math.ceil(rows / 1_000_000)),
          }),
        }),
      watchdog,
    );
    vector = 'created';
  }
  return { rows, fullText, vector };
}

function hasFullTextSettings(details: unknown): boolean {
  if (typeof details !== 'object' || details === null) return false;
  const d = details as Record<string, unknown>;
  return (
    d.base_tokenizer === FULL_TEXT_INDEX_OPTIONS.baseTokenizer &&
    d.min_ngram_length === FULL_TEXT_INDEX_OPTIONS.ngramMinLength &&
    d.max_ngram_length === FULL_TEXT_INDEX_OPTIONS.ngramMaxLength
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

/** Only the schema's columns: a row built from a chunk may carry more, which the table would reject. */
function toRecord(row: DocumentRow): Record<string, unknown> {
  return {
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
