import { rerankers } from '@lancedb/lancedb';
import type { Passage, RetrievalResult } from '../types';
import type { DocumentTable } from './document-table';
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
   * Longest passage text, in characters; longer text is cut at a word or sentence boundary.
   * @default 1500
   */
  maxPassageChars?: number;
  /** Gives up on the query after this long. */
  timeoutMs?: number;
}

/** Candidates an HNSW search considers at least (LanceDB's `ef`). */
const HNSW_CANDIDATES = 64;

const EMPTY_INDEX: RetrievalResult = { status: 'empty-index', search: 'none', passages: [] };

/** The columns a passage is made from: the shape of the rows `toArray()` returns untyped (`any[]`). */
interface PassageRow {
  text: string;
  source: string;
  title: string;
  heading: string;
  /** Cosine distance, on a vector search. */
  _distance?: number;
  /** Reciprocal-rank-fusion relevance, on a hybrid search. */
  _relevance_score?: number;
}

/**
 * Searches the document table for the passages that best answer `query`.
 *
 * - No table (`handle` undefined) or an empty one: `{ status: 'empty-index', search: 'none' }`, a normal
 *   outcome the answer step turns into a helpful reply.
 * - With a full-text index on `text` (see `ensureIndexes`) and non-blank `queryText`: a hybrid search, vector
 *   and full-text ranked separately then fused by reciprocal rank (`search: 'hybrid'`); `score` is the RRF
 *   relevance, the sum of 1 / (60 + rank) over the two rankings (at most 2/61, about 0.033, for a passage first
 *   in both); not comparable with vector scores.
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
  if ((await handle.table.countRows()) === 0) return EMPTY_INDEX;
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

  const indexes = await handle.table.listIndices();
  const hybrid =
    query.queryText.trim() !== '' && indexes.some((i) => i.indexType === 'FTS' && i.columns.includes('text'));

  let builder = handle.table
    .query()
    .nearestTo([...vector])
    .distanceType('cosine')
    .limit(query.k)
    // With an HNSW index LanceDB considers 1.5 × k candidates by default: 0.88 recall@10 at 100k chunks in
    // `npm run bench`; 64 reaches 0.97 for a few milliseconds more. Ignored without an index.
    .ef(Math.max(HNSW_CANDIDATES, query.k * 4));
  if (query.collections !== undefined) builder = builder.where(sqlIn('collection', query.collections));
  if (hybrid) {
    // No select() here: in a hybrid query LanceDB applies one projection to both halves, so it can name neither
    // `_distance` nor `_score`, and leaving them out logs a deprecation warning per query. The vector column
    // comes back too, for at most `k` rows.
    builder = builder
      .fullTextSearch(query.queryText, { columns: 'text' })
      .rerank(await rerankers.RRFReranker.create());
  } else {
    builder = builder.select(['text', 'source', 'title', 'heading', '_distance']);
  }
  const rows: PassageRow[] = await builder.toArray({ timeoutMs: query.timeoutMs });

  const maxChars = query.maxPassageChars ?? 1500;
  const passages = rows.map(
    (row): Passage => ({
      source: row.source,
      title: row.title,
      heading: row.heading,
      text: trimPassage(row.text, maxChars),
      score: hybrid ? (row._relevance_score ?? 0) : 1 - (row._distance ?? 1),
    }),
  );
  return { status: 'ok', search: hybrid ? 'hybrid' : 'vector', passages };
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
