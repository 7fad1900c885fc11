import type { Embeddings } from '@langchain/core/embeddings';
import { type Reach, searchFilter } from '../access/reach';
import type { SlackSearchOutcome } from '../slack/slack-search';
import type { RetrievalResult } from '../types';
import type { DocumentTableReader } from '../vector-store/document-table-reader';
import { fuseByRank, searchPassages } from '../vector-store/search-passages';

export interface RetrieveOptions {
  k: number;
  /** The length of the embedder's vectors, when known without calling it: the table then opens during the call. */
  dimensions?: number;
  /** What the asker may read here (access control, applied inside the query); undefined: everything. */
  reach?: Reach;
  /** Record each passage's collection (the deployment limits who reads what). */
  withCollection?: boolean;
  /** The table version the ingest recorded (Load history's `tableVersion`): served without a check for the latest. */
  tableVersion?: number;
  /**
   * The version Optimize folded to make `tableVersion` (Load history's `tableVersionBeforeFold`): the same rows, which a
   * warm container holding its indexes answers from while it loads the new ones (document-table-reader.ts).
   */
  tableVersionBeforeFold?: number;
}

const NOTHING_INDEXED: RetrievalResult = { status: 'empty-index', search: 'none', passages: [] };

/**
 * Retrieve: embeds the standalone question and searches the document table, hybrid when it has a full-text
 * index. A table that does not exist yet is the normal state of a fresh install, so it is checked before any
 * embedding call is paid for. The table stays open in `reader` between questions; a failed search closes it, so
 * that the next question opens it afresh. In a new container, opening the table loads its indexes (about a second
 * at 100,000 chunks on S3): when the embedder's dimension is known, that runs while the question is embedded.
 */
export async function retrievePassages(
  reader: DocumentTableReader,
  embeddings: Embeddings,
  question: string,
  options: RetrieveOptions,
): Promise<RetrievalResult> {
  if (!(await reader.exists())) return NOTHING_INDEXED;
  const opening =
    options.dimensions === undefined
      ? undefined
      : reader.open(options.dimensions, options.tableVersion, options.tableVersionBeforeFold);
  // Awaited below; until then a failure to open must not count as unhandled while the embedding is pending.
  opening?.catch(() => undefined);
  const queryVector = await embeddings.embedQuery(question);
  const search = (handle: Awaited<ReturnType<DocumentTableReader['open']>>) =>
    searchPassages(handle, {
      queryText: question,
      queryVector,
      k: options.k,
      ...searchFilter(options.reach),
      withCollection: options.withCollection ?? false,
    });
  const handle = await (opening ??
    reader.open(queryVector.length, options.tableVersion, options.tableVersionBeforeFold));
  try {
    return await search(handle);
  } catch (error) {
    reader.forget();
    if (!isFileGone(error)) throw error;
    // The version this warm container kept was cleaned up under it (Optimize removes versions past its keep
    // time; a container idle that long still holds one): the current version answers, opened afresh, once (not the
    // version before a fold, which may be what was cleaned up).
    try {
      return await search(await reader.open(queryVector.length, options.tableVersion));
    } catch (again) {
      reader.forget();
      throw again;
    }
  }
}

/** A read of a data or index file that is no longer there (LanceDB's "Object at location … not found"). */
function isFileGone(error: unknown): boolean {
  // Not `instanceof Error`: the native module's errors may come from another realm (a test runner's sandbox).
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /Object at location .* not found/.test(message);
}

/**
 * The documents' passages and Slack's messages as one ranking: reciprocal-rank fusion, as the hybrid search fuses
 * its two halves (each list best first; the best `k`). When Slack's search was unavailable the documents' passages
 * stand alone and the result says so; with no documents indexed, Slack's messages alone can still answer.
 */
export function withSlackMessages(
  result: RetrievalResult,
  slack: SlackSearchOutcome,
  k: number,
): RetrievalResult {
  if (slack.status === 'unavailable') return { ...result, slackSearch: 'unavailable' };
  if (slack.passages.length === 0) return { ...result, slackSearch: 'used' };
  const passages = fuseByRank(
    [result.passages, slack.passages],
    k,
    (p) => `${p.source}\u0000${p.heading}\u0000${p.text}`,
  ).map(({ row, score }) => ({ ...row, score }));
  return {
    ...result,
    status: 'ok',
    search: result.search === 'none' ? 'vector' : result.search,
    passages,
    slackSearch: 'used',
  };
}
