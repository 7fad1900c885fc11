import type { Query, Table, VectorQuery } from '@lancedb/lancedb';
import type { Passage, RetrievalResult } from '../types';
import { LOCATION_COLUMNS } from './document-schema';
import { type DocumentTable, partitionsOf } from './document-table';
import { EmbeddingMismatchError } from './errors';
import { sqlIn } from './sql';

/** What the Retrieve step asks for. */
export interface PassageQuery {
  /** The (standalone) question: the full-text half of a hybrid search, and what is embedded without a vector. */
  queryText: string;
  /** The question's embedding; embedded from `queryText` with the table's embedder when absent. */
  queryVector?: readonly number[];
  /** Most passages to return. */
  k: number;
  /**
   * Only passages of these collections. Applied inside the query (before ranking), never to its results, so a
   * passage outside them can neither be returned nor push an allowed one out of the top `k`. An empty list
   * allows nothing; documents without a collection are returned only when no filter is given.
   */
  collections?: readonly string[];
  /**
   * Never passages of these collections (a person's closed collections, when no allow-list applies), inside the
   * query as `collections` is; documents without a collection stay readable. Ignored when `collections` is given.
   */
  excludedCollections?: readonly string[];
  /** Each passage says its collection (one more column read per row): a stored turn records what it drew on. */
  withCollection?: boolean;
  /**
   * Longest passage text, in characters; longer text is cut at a word or sentence boundary.
   * @default 1500
   */
  maxPassageChars?: number;
  /** Gives up on the query after this long. */
  timeoutMs?: number;
}

/**
 * Candidates a vector search re-ranks on the full vectors (LanceDB's refine factor times k). The index compares
 * RaBitQ codes of 3 bits per dimension, which blur close neighbours: re-ranking 30 candidates gives recall@10 of
 * 0.97–1.00 from 1,000 to 100,000 chunks in `npm run bench` (about 0.8–0.9 without), for one 6-KB read each.
 */
export const REFINE_CANDIDATES = 30;

/**
 * Of the vector candidates, the best this many times k (on the index's codes) have their passage columns read with
 * the vectors, in one round; the others only their vector (6 KB), which keeps a question under 2 MB at a million
 * chunks. Re-ranking on the full vectors moved a passage from past the 20th place into the top 10 in 1 question of
 * 50 there (docs/performance.md, section 17); its columns are then read in a second round.
 */
const COLUMN_CANDIDATES = 2;

/**
 * Share of the vector index's partitions a search probes when the container holds the index in memory (LanceDB's
 * default is 20 partitions, which is every partition up to 200,000 chunks). At a million chunks (100 partitions) of
 * real text, recall@10 against exact search was 0.80 vector and 0.90 hybrid with 20 probes, 0.94 / 0.96 with 40 and
 * 0.99 / 0.99 with 60 (docs/performance.md section 17). In memory, a probe costs CPU only; read from S3 it would cost
 * about 6 MB at that size, so a container without the index loaded keeps LanceDB's 20.
 */
export const IN_MEMORY_PROBE_SHARE = 0.6;

/** LanceDB's default number of partitions an IVF search probes. */
const DEFAULT_PROBES = 20;

/** Partitions to probe at least: more than LanceDB's default only for an index held in memory. */
export function probesFor(partitions: number | undefined, inMemory: boolean): number {
  if (!inMemory || partitions === undefined) return DEFAULT_PROBES;
  return Math.max(DEFAULT_PROBES, Math.ceil(IN_MEMORY_PROBE_SHARE * partitions));
}

/**
 * Candidates an HNSW search considers at least (LanceDB's `ef`): only for a table still carrying the HNSW index of
 * an earlier version, until its next sync replaces it; ignored by the current index.
 */
const HNSW_CANDIDATES = 64;

/** Reciprocal-rank fusion's constant: a passage ranked r-th (from 1) in one search scores 1 / (60 + r) from it. */
const RRF_K = 60;

const EMPTY_INDEX: RetrievalResult = { status: 'empty-index', search: 'none', passages: [] };

/**
 * The columns a passage is made from. On S3 each column of each row returned is a read of its own, so nothing else
 * is fetched: the two halves of a hybrid search are fused on the passage itself (see {@link passageKey}).
 */
const PASSAGE_COLUMNS = ['text', 'source', 'title', 'heading'];

/** The passage's columns of this table: with its pages and link when the table has them. */
function passageColumns(handle: { locationColumns?: boolean }): string[] {
  return handle.locationColumns ? [...PASSAGE_COLUMNS, ...LOCATION_COLUMNS] : PASSAGE_COLUMNS;
}

/** What a search needs to know of a table version: how many rows it has and which indexes. */
export interface TableLayout {
  version: number;
  rows: number;
  fullText: boolean;
  vectorIndex: boolean;
  /** Every index, with its name, its id and its size on storage. */
  indexes: { name: string; uuid: string; bytes: number; fullText: boolean }[];
  /** The partitions the vector index was trained with (from its name), when it is the product's kind. */
  vectorPartitions?: number;
  /** The vector index's name, when the table has one vector index. */
  vectorIndexName?: string;
}

const layouts = new WeakMap<Table, TableLayout>();

/**
 * The layout of the table's current version, read once per version (LanceDB answers both from the manifest it
 * holds, without a request to storage).
 */
export async function layoutOf(table: Table): Promise<TableLayout> {
  const version = await table.version();
  const known = layouts.get(table);
  if (known?.version === version) return known;
  const [rows, indexes] = await Promise.all([table.countRows(), table.listIndices()]);
  const layout: TableLayout = {
    version,
    rows,
    fullText: indexes.some((i) => i.indexType === 'FTS' && i.columns.includes('text')),
    vectorIndex: indexes.some((i) => i.columns.includes('vector')),
    indexes: indexes.map((i) => ({
      name: i.name,
      uuid: i.indexUuid ?? i.name,
      bytes: i.sizeBytes ?? 0,
      fullText: i.indexType === 'FTS',
    })),
  };
  const vectorIndexes = indexes.filter((i) => i.columns.includes('vector'));
  const partitions = vectorIndexes.map((i) => partitionsOf(i.name)).find((p) => p !== undefined);
  if (partitions !== undefined) layout.vectorPartitions = partitions;
  if (vectorIndexes.length === 1 && vectorIndexes[0] !== undefined)
    layout.vectorIndexName = vectorIndexes[0].name;
  layouts.set(table, layout);
  return layout;
}

/** A row as either half of the search returns it: `toArray()` rows are untyped (`any[]`). */
interface PassageRow {
  text: string;
  source: string;
  title: string;
  heading: string;
  pageStart?: number | null;
  pageEnd?: number | null;
  url?: string | null;
  collection?: string | null;
  /** Cosine distance, from the vector search. */
  _distance?: number;
}

/**
 * Searches the document table for the passages that best answer `query`.
 *
 * - No table (`handle` undefined) or an empty one: `{ status: 'empty-index', search: 'none' }`, a normal
 *   outcome the answer step turns into a helpful reply.
 * - With a full-text index on `text` (see `ensureIndexes`) and non-blank `queryText`: a hybrid search, the vector
 *   search and the full-text search run side by side, each for `k` passages and each filtered inside its query,
 *   then fused by reciprocal rank (`search: 'hybrid'`); `score` is the RRF relevance, the sum of 1 / (60 + rank)
 *   over the two rankings (at most 2/61, about 0.033, for a passage first in both); not comparable with vector
 *   scores.
 * - Otherwise an exact or indexed cosine vector search (`search: 'vector'`); `score` is 1 - cosine distance
 *   (1 for the same direction, 0 for unrelated, down to -1).
 *
 * Either way higher scores are better and passages come best first.
 *
 * @throws {EmbeddingMismatchError} when `queryVector` has another dimension than the table's vectors.
 */
export async function searchPassages(
  handle: DocumentTable | undefined,
  query: PassageQuery,
): Promise<RetrievalResult> {
  if (handle === undefined) return EMPTY_INDEX;
  const layout = await layoutOf(handle.table);
  if (layout.rows === 0) return EMPTY_INDEX;
  if (query.collections !== undefined && query.collections.length === 0) {
    return { status: 'ok', search: 'none', passages: [] };
  }

  const vector = query.queryVector ?? (await handle.embeddings.embedQuery(query.queryText));
  if (vector.length !== handle.dimensions) {
    throw new EmbeddingMismatchError(
      handle.name,
      { embedderName: handle.embedderName, dimensions: handle.dimensions },
      { embedderName: 'the query embedder', dimensions: vector.length },
    );
  }
  const where =
    query.collections !== undefined
      ? sqlIn('collection', query.collections)
      : query.excludedCollections !== undefined && query.excludedCollections.length > 0
        ? `(collection IS NULL OR NOT (${sqlIn('collection', query.excludedCollections)}))`
        : undefined;
  const columns = [...passageColumns(handle), ...(query.withCollection ? ['collection'] : [])];
  const hybrid = query.queryText.trim() !== '' && layout.fullText;

  // On files (S3, a directory) the product reads the candidates itself, in one round; LanceDB Cloud runs each query
  // whole on its side, where that would be a request more.
  const search: HalfSearch = { handle, layout, vector, query, columns, where, hybrid };
  const { similar, matched } =
    layout.vectorIndex && !handle.remote ? await rankedInOneRead(search) : await fetchedByEachHalf(search);

  const maxChars = query.maxPassageChars ?? 1500;
  const passage = (row: PassageRow, score: number): Passage => ({
    source: row.source,
    title: row.title,
    heading: row.heading,
    text: trimPassage(row.text, maxChars),
    score,
    ...(typeof row.pageStart === 'number'
      ? { pageStart: row.pageStart, pageEnd: typeof row.pageEnd === 'number' ? row.pageEnd : row.pageStart }
      : {}),
    ...(typeof row.url === 'string' && row.url !== '' ? { url: row.url } : {}),
    ...(query.withCollection
      ? { collection: typeof row.collection === 'string' ? row.collection : null }
      : {}),
  });
  if (!hybrid) {
    return {
      status: 'ok',
      search: 'vector',
      passages: similar.map((row) => passage(row, 1 - (row._distance ?? 1))),
    };
  }
  return {
    status: 'ok',
    search: 'hybrid',
    passages: fuseByRank([similar, matched], query.k, passageKey).map(({ row, score }) =>
      passage(row, score),
    ),
  };
}

/** One search, as both paths take it. */
interface HalfSearch {
  handle: DocumentTable;
  layout: TableLayout;
  vector: readonly number[];
  query: PassageQuery;
  /** The columns a passage is made from. */
  columns: string[];
  /** The collection filter, if any. */
  where: string | undefined;
  /** Whether the full-text half runs too. */
  hybrid: boolean;
}

/** The two halves' rows, best first: the vector half's with their cosine distance. */
interface Halves {
  similar: PassageRow[];
  matched: PassageRow[];
}

/**
 * Both halves fetched by LanceDB, each query reading its own rows: for a table without a vector index, whose search
 * reads every vector anyway (a flat scan, exact), for a table LanceDB Cloud serves, and when {@link rankedInOneRead}
 * cannot keep its row ids.
 */
async function fetchedByEachHalf(search: HalfSearch): Promise<Halves> {
  const { layout, query, columns } = search;
  const halves = halfQueries(search, query.k);
  let nearest = halves.nearest.select([...columns, '_distance']);
  if (layout.vectorIndex) nearest = nearest.refineFactor(Math.ceil(REFINE_CANDIDATES / query.k));
  const matching: Promise<PassageRow[]> =
    halves.fullText?.select([...columns, '_score']).toArray({ timeoutMs: query.timeoutMs }) ??
    Promise.resolve([]);
  const [similar, matched] = await Promise.all([nearest.toArray({ timeoutMs: query.timeoutMs }), matching]);
  return { similar, matched };
}

/**
 * Both halves with one round of reads from storage. Each half asks its index for row ids only (the vector half for
 * {@link REFINE_CANDIDATES} candidates, ranked on the index's codes), then two takes at once read the candidates'
 * full vectors and the passage columns of the rows likely to be returned ({@link COLUMN_CANDIDATES}), and the
 * candidates are re-ranked here on their exact cosine distance, as LanceDB's refine factor would. LanceDB's own
 * refine reads the candidates' vectors, then the winners' columns: two rounds, each waiting for the slowest of its
 * parallel reads (on S3, about 80 ms for 30 of them with its latency spread). Same passages, same order: only when
 * the reads happen differs.
 *
 * Rows the vector index does not cover yet (a small sync's tail, {@link unindexedTail}) are read whole once per
 * table version, beside the takes, and ranked here with the candidates on their exact distance, as LanceDB's flat
 * search over them would be: the vector half then searches the index alone (`fastSearch`). LanceDB's own path reads
 * the candidates' vectors to merge them with its flat search before anything else can be read: a round more for the
 * first question after each sync. The full-text half still asks LanceDB, which matches the tail's text itself; the
 * columns of the rows it returns are read beside it, by the same search on the index alone.
 *
 * Row ids hold for the table version they came from: if the handle moved to another version meanwhile (another
 * question in the same process followed a sync), the search is made again by {@link fetchedByEachHalf}.
 */
async function rankedInOneRead(search: HalfSearch): Promise<Halves> {
  const { handle, layout, vector, query, columns } = search;
  const candidates = Math.ceil(REFINE_CANDIDATES / query.k) * query.k;
  const started = Date.now();
  const halves = halfQueries(search, candidates);
  const tail = (await unindexedTail(handle, layout).catch(() => undefined))?.rows;
  tail?.catch(() => undefined); // awaited below
  const nearestIds = halves.nearest.withRowId().select(['_distance']);
  const nearest = tail === undefined ? nearestIds : nearestIds.fastSearch();
  const matching: Promise<RankedId[]> =
    halves.fullText?.withRowId().select(['_score']).toArray({ timeoutMs: query.timeoutMs }) ??
    Promise.resolve([]);
  // What the takes may still spend of the query's time, not a second timeoutMs of their own.
  const left = () =>
    query.timeoutMs === undefined ? undefined : Math.max(1, query.timeoutMs - (Date.now() - started));
  const take = (ids: bigint[], select: string[]): Promise<TakenRow[]> =>
    ids.length === 0
      ? Promise.resolve([])
      : handle.table.takeRowIds(ids).withRowId().select(select).toArray({ timeoutMs: left() });
  // With a tail, the full-text half's indexed rows are known without waiting for LanceDB's match over the tail: the
  // same search on the index alone, whose rows are read at once.
  const indexedText: Promise<TakenRow[]> | undefined =
    tail === undefined || !search.hybrid
      ? undefined
      : (halfQueries(search, candidates)
          .fullText?.fastSearch()
          .withRowId()
          .select(['_score'])
          .toArray({ timeoutMs: query.timeoutMs })
          .then((ids: RankedId[]) =>
            take(
              ids.map((r) => r._rowid),
              columns,
            ),
          ) ?? Promise.resolve([]));
  indexedText?.catch(() => undefined); // awaited below
  // The full-text half's rows are read as soon as its index answers: in a new container, whose vector index is read
  // as its questions need it, that read (and the data files' metadata it loads) goes on while the vector half is
  // still searching, as LanceDB's own path did.
  const fromText = matching.then(async (text) => {
    const known = [...((await indexedText) ?? []), ...((await tail) ?? [])];
    const have = new Set(known.map((row) => row._rowid));
    const rows = await take(
      text.map((r) => r._rowid).filter((id) => !have.has(id)),
      columns,
    );
    return { text, rows: [...known, ...rows] };
  });
  fromText.catch(() => undefined); // awaited below; a failed vector half must not leave it unhandled
  const near: RankedId[] = await nearest.toArray({ timeoutMs: query.timeoutMs });
  // One round: every candidate's vector, and the passage columns of those likely to be returned (the best 2k on the
  // index's codes). The exact top k lies within those nearly always (49 of 50 questions at a million chunks); a
  // passage re-ranked from further down is read in a second round.
  const [vectors, taken, { text, rows: textRows }, tailRows] = await Promise.all([
    take(
      near.map((r) => r._rowid),
      ['vector'],
    ),
    take(
      near.slice(0, COLUMN_CANDIDATES * query.k).map((r) => r._rowid),
      columns,
    ),
    fromText,
    tail,
  ]);
  // The tail was not where the index's statistics put it: LanceDB searches it, as before.
  if (tail !== undefined && tailRows === undefined) return fetchedByEachHalf(search);
  const allowed = allowedBy(query);
  const vectorOf = new Map(vectors.map((row) => [row._rowid, row.vector]));
  // In the index's order, then the tail's: rows at the same distance keep it (the sort is stable).
  const best = [
    ...near.map((r) => ({ id: r._rowid, v: vectorOf.get(r._rowid) })),
    ...(tailRows ?? [])
      .filter((row) => allowed(row.collection))
      .map((row) => ({ id: row._rowid, v: row.vector })),
  ]
    .flatMap(({ id, v }) => (v === undefined ? [] : [{ id, distance: cosineDistance(vector, v.toArray()) }]))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, query.k);
  const byId = new Map([...textRows, ...taken, ...(tailRows ?? [])].map((row) => [row._rowid, row]));
  const missing = best.filter((b) => !byId.has(b.id)).map((b) => b.id);
  for (const row of await take(missing, columns)) byId.set(row._rowid, row);
  if ((await handle.table.version()) !== layout.version) {
    return fetchedByEachHalf(search);
  }
  const strip = ({ vector: _v, _rowid: _id, ...row }: TakenRow): PassageRow => row;
  const similar = best.flatMap((b) => {
    const row = byId.get(b.id);
    return row === undefined ? [] : [{ ...strip(row), _distance: b.distance }];
  });
  const matched = text.flatMap((r) => {
    const row = byId.get(r._rowid);
    return row === undefined ? [] : [strip(row)];
  });
  return { similar, matched };
}

/**
 * Most unindexed rows a search holds in memory (about 8 KB each with 1,536 dimensions, so at most 8 MB); past it
 * LanceDB's flat search reads them for each question. A sync leaves at most `INGEST_INDEX_TAIL_ROWS` (150 by
 * default) before Optimize folds them in.
 */
export const TAIL_IN_MEMORY_MAX_ROWS = 1_000;

/** The rows of a table version's tail, once read: `undefined` when they were not where the statistics put them. */
interface Tail {
  rows: Promise<TakenRow[] | undefined>;
}

/** Per table, the version whose tail is held (`tail` resolves to undefined: that version has none to hold). */
const tails = new WeakMap<Table, { version: number; tail: Promise<Tail | undefined> }>();

/**
 * The rows the vector index does not cover, with their vectors, collections and passage columns, read once per table
 * version (one scan of the last fragments) and kept for the questions that follow; `undefined` when there is no such
 * tail, it is past {@link TAIL_IN_MEMORY_MAX_ROWS}, or the index's statistics could not be read (LanceDB's flat search
 * then reads them, as before). They are the table's last rows: a sync appends its rows in new fragments, and Optimize
 * folds them into the indexes together (with compaction) or not at all. Questions asking at once share one read.
 */
function unindexedTail(handle: DocumentTable, layout: TableLayout): Promise<Tail | undefined> {
  const name = layout.vectorIndexName;
  if (name === undefined) return Promise.resolve(undefined);
  const known = tails.get(handle.table);
  if (known?.version === layout.version) return known.tail;
  const entry = { version: layout.version, tail: Promise.resolve<Tail | undefined>(undefined) };
  // Not kept when it failed, or was read from another version (the table moved meanwhile; that search starts over).
  const forget = () => {
    if (tails.get(handle.table) === entry) tails.delete(handle.table);
  };
  entry.tail = (async () => {
    // From the manifest and the index's metadata, which the container holds: no read of the rows.
    const stats = await handle.table.indexStats(name).catch(() => {
      forget();
      return undefined;
    });
    if (
      stats === undefined ||
      stats.numUnindexedRows === 0 ||
      stats.numUnindexedRows > TAIL_IN_MEMORY_MAX_ROWS
    ) {
      return undefined;
    }
    const rows = handle.table
      .query()
      .select(['vector', 'collection', ...passageColumns(handle)])
      .withRowId()
      .offset(stats.numIndexedRows)
      .limit(stats.numUnindexedRows)
      .toArray()
      .then(async (found: TakenRow[]) => {
        if ((await handle.table.version()) !== layout.version) forget();
        return found.length === stats.numUnindexedRows ? found : undefined;
      });
    rows.catch(forget);
    return { rows };
  })();
  entry.tail.catch(forget);
  tails.set(handle.table, entry);
  return entry.tail;
}

/**
 * Starts reading the table's unindexed rows ({@link unindexedTail}) for the version it serves, without waiting: the
 * reader calls it when it moves to a new version, so that the read goes on while the question is embedded (a call
 * to OpenAI or Bedrock) rather than after. A failure is left for the search, which reads them again.
 */
export function readUnindexedTail(handle: DocumentTable): void {
  if (handle.remote) return;
  void layoutOf(handle.table)
    .then((layout) => unindexedTail(handle, layout))
    .catch(() => undefined);
}

/** The collection filter of `query` (its `where`, see {@link searchPassages}) for rows held in memory. */
function allowedBy(query: PassageQuery): (collection: string | null | undefined) => boolean {
  const { collections, excludedCollections } = query;
  if (collections !== undefined) return (c) => typeof c === 'string' && collections.includes(c);
  if (excludedCollections !== undefined && excludedCollections.length > 0) {
    return (c) => typeof c !== 'string' || !excludedCollections.includes(c);
  }
  return () => true;
}

/**
 * The two halves' queries, filtered by `where`, without what they return: the vector half for `vectorLimit` rows
 * (probing as {@link withProbes} says), the full-text half for k when the search is hybrid.
 */
function halfQueries(
  { handle, layout, vector, query, where, hybrid }: HalfSearch,
  vectorLimit: number,
): { nearest: VectorQuery; fullText?: Query } {
  let nearest = handle.table
    .query()
    .nearestTo([...vector])
    .distanceType('cosine')
    .limit(vectorLimit)
    .ef(Math.max(HNSW_CANDIDATES, query.k * 4));
  if (layout.vectorIndex) nearest = withProbes(nearest, handle, layout);
  if (where !== undefined) nearest = nearest.where(where);
  if (!hybrid) return { nearest };
  let fullText = handle.table.query().fullTextSearch(query.queryText, { columns: 'text' }).limit(query.k);
  if (where !== undefined) fullText = fullText.where(where);
  return { nearest, fullText };
}

/** The partitions a vector search probes (see {@link probesFor}). */
function withProbes(nearest: VectorQuery, handle: DocumentTable, layout: TableLayout): VectorQuery {
  const probes = probesFor(layout.vectorPartitions, handle.indexesInMemory?.() ?? false);
  // LanceDB refuses a minimum above the maximum (20 unless set); a filtered search may go on to every partition.
  if (probes > DEFAULT_PROBES && layout.vectorPartitions !== undefined) {
    return nearest.maximumNprobes(layout.vectorPartitions).minimumNprobes(probes);
  }
  return nearest;
}

/** A row a take returned: its id, and the columns asked for (the vector, or a passage's). */
type TakenRow = PassageRow & { _rowid: bigint; vector?: { toArray(): ArrayLike<number> } };

/** A row id an index returned (its score, `_distance` or `_score`, orders the rows and is not read). */
interface RankedId {
  _rowid: bigint;
}

/** LanceDB's cosine distance, 1 − cos θ: 1 for a zero vector, which has no direction. */
function cosineDistance(a: readonly number[], b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 1 : 1 - dot / Math.sqrt(normA * normB);
}

/** What makes two rows the same passage: a chunk's text under its source and heading (two such are duplicates). */
function passageKey(row: PassageRow): string {
  return `${row.source}\u0000${row.heading}\u0000${row.text}`;
}

/**
 * Reciprocal-rank fusion of rankings best first: each row (by `keyOf`) scores the sum of 1 / (60 + rank) over the
 * rankings that hold it; ties keep the order of the first ranking that holds them. The best `k`, best first.
 */
export function fuseByRank<T>(
  rankings: readonly (readonly T[])[],
  k: number,
  keyOf: (row: T) => string,
): { row: T; score: number }[] {
  const fused = new Map<string, { row: T; score: number; order: number }>();
  let order = 0;
  for (const ranking of rankings) {
    for (const [index, row] of ranking.entries()) {
      const key = keyOf(row);
      const entry = fused.get(key) ?? { row, score: 0, order: order++ };
      entry.score += 1 / (RRF_K + index + 1);
      fused.set(key, entry);
    }
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, k)
    .map(({ row, score }) => ({ row, score }));
}

/** Where a cut may fall: after whitespace or after Japanese / full-width punctuation. */
const BOUNDARY = /[\s。、．，！？・]/u;

/**
 * `text` cut to at most `maxChars` characters, at the last word or sentence boundary in the final 30 % (else
 * mid-word, as Japanese text may have no boundary for a long way), with an ellipsis marking the cut. Never
 * splits a surrogate pair.
 */
export function trimPassage(text: string, maxChars = 1500): string {
  if (text.length <= maxChars) return text;
  let end = maxChars - 1;
  const floor = Math.floor(end * 0.7);
  for (let i = end; i > floor; i--) {
    if (BOUNDARY.test(text.charAt(i - 1))) {
      end = i;
      break;
    }
  }
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end).trimEnd()}…`;
}
