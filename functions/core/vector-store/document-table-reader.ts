import type { Connection, Table } from '@lancedb/lancedb';
import type { Embeddings } from '@langchain/core/embeddings';
import { verifyDocumentSchema } from './document-schema';
import { type DocumentTable, openDocumentTable } from './document-table';
import { layoutOf, readUnindexedTail, searchPassages } from './search-passages';

/**
 * The document table kept open for the life of a warm Retrieve container. Opening a table on S3 costs two LISTs
 * and a manifest GET (about 80 ms with S3's latency); an open table costs nothing per question. It still follows
 * the writers: LanceDB checks for a newer version once the connection's read-consistency interval has passed (one
 * LIST, and the new manifest only when a sync committed one), and this reader checks the embedder again whenever
 * the version it serves changes (a `--rebuild` may have changed it).
 *
 * With `prewarmIndexBytes`, the reader also loads the table's indexes into LanceDB's index cache when it opens the
 * table and when a new version brings new indexes (a sync's optimize rewrites them), as long as they fit: then
 * every later question finds the vector index and the full-text postings in memory and reads from storage only
 * the rows it returns. Loaded lazily instead, a vector index would be read partition by partition by the questions
 * that happen to probe them, several MB each.
 */
export interface DocumentTableReader {
  /** Whether the table exists: at once when it is open, otherwise by listing the store's tables. */
  exists(): Promise<boolean>;
  /**
   * The open table, checked against the configured embedder and `dimensions` (the query vector's length), or
   * `undefined` when nothing was ever ingested. Its `close()` does nothing: the reader owns the table.
   *
   * @throws {EmbeddingMismatchError} when the table was built with another embedder or dimension.
   * @throws {IncompatibleTableError} when the table has another layout.
   *
   * `version` is the table version the ingest recorded last (the execution's `tableVersion`, issue 23). Given, the
   * reader serves that version without asking storage for the latest: it checks it out when it is newer than the
   * one held (a manifest read), and otherwise reads nothing at all, however long the container sat idle. Without
   * it, the table follows the latest version as LanceDB's read-consistency interval allows (a LIST on S3 once the
   * interval has passed); a reader that was serving a given version goes back to that.
   *
   * `beforeFold` is the version Optimize folded to make `version` (the execution's `tableVersionBeforeFold`): the
   * same rows, the last sync's few outside the indexes. When the reader preloads indexes, holds those of `beforeFold`
   * in memory, and has not loaded `version`'s yet, it serves `beforeFold` (its tail is read once and kept) and loads
   * `version`'s indexes behind the question (`runBehind`) through a second handle on the table; it moves to `version`
   * at the first question after that load. So no question waits for a fold's indexes, and none sees other rows.
   */
  open(dimensions: number, version?: number, beforeFold?: number): Promise<DocumentTable | undefined>;
  /** Closes the table, so that the next question opens it again: after a failed read, say. */
  forget(): void;
}

/** The table a reader serves: its name, and the embedder that must have made its vectors. */
export interface DocumentTableReaderOptions {
  table: string;
  embedderName: string;
  /** Embeds queries when a search is given text only. */
  embeddings: Embeddings;
  /**
   * Indexes are loaded into memory ahead of the questions when their total size on storage is at most this (keep
   * it within the connection's index cache, or the loads evict each other). Without it, nothing is preloaded.
   */
  prewarmIndexBytes?: number;
  /**
   * When a question waits for that load. `before` (the default): the open waits for it, so every question, the first
   * included, finds the indexes in memory. `vector-first`: when the full-text index is larger than
   * `vectorFirstMinFullTextBytes` ({@link VECTOR_FIRST_MIN_FULL_TEXT_BYTES}; else as `before`), the open waits for
   * every index but that one, and for the full-text index's opening (its dictionary and document lengths, read beside
   * the vector index by one query); its posting lists then load behind the questions, which read the ones they need
   * meanwhile. `behind`: the open starts the whole load and returns, so a new container's first question reads only
   * the index parts it needs (LanceDB loads them lazily) while the rest loads behind it. A load behind the questions
   * that fails is logged through `onPrewarmError` and tried again with the table's next version.
   */
  prewarmWhen?: 'before' | 'behind' | 'vector-first';
  /** `vector-first` loads a full-text index behind the questions only past this size (bytes on storage). */
  vectorFirstMinFullTextBytes?: number;
  /** A failed load behind the questions (`behind`, `vector-first`): nothing waits for it, so it is only reported. */
  onPrewarmError?: (error: unknown) => void;
  /**
   * Starts a load behind the questions. Retrieve's Lambda defers it until the answer has gone back (after-response.ts),
   * so that it neither slows the question nor waits, frozen, for the next one. Unset: it starts at once.
   */
  runBehind?: (load: () => Promise<void>) => void;
}

interface OpenTable {
  handle: DocumentTable;
  close(): void;
  /** The version whose schema was checked, and the dimension it was checked for. */
  checkedVersion: number;
  checkedDimensions: number;
  /** Ids of the indexes already loaded (or being loaded, or found too large to). */
  prewarmed: Set<string>;
  /** Whether the indexes of the version served are in memory (the full-text one may still be loading behind). */
  inMemory: boolean;
  /** Whether the load's own first search has run (see {@link warmUpSearch}). */
  warmedUp?: boolean;
  /** The version checked out because the ingest recorded it; undefined while following the latest. */
  pinned?: number;
  /**
   * A folded version whose indexes are loading (or have loaded: `ready`) behind the questions, while they are
   * answered from the version before the fold.
   */
  staged?: { version: number; ready: boolean; table?: Table };
}

/**
 * `vector-first` leaves a full-text index of at most this size on storage to load with the others: measured
 * (docs/performance.md, "The vector index first"), loading it behind the questions made a new container's first
 * answer 0.2-0.5 s slower at 5,015 chunks (a 1.7-MB full-text index, whose load is short), no faster at 2,017, and
 * 0.1-0.4 s faster at 10,020 (2.5 MB), 0.5 s at 50,001 (9.3 MB) and 0.1-1.0 s at 100,002 (13.6 MB).
 */
export const VECTOR_FIRST_MIN_FULL_TEXT_BYTES = 2_000_000;

/**
 * A reader over `connection`, which should be the warm container's one connection. Questions asked at the same time
 * (a local stack runs several in one process) share one opening of the table.
 */
export function createDocumentTableReader(
  connection: Connection,
  options: DocumentTableReaderOptions,
): DocumentTableReader {
  let current: Promise<OpenTable | undefined> | undefined;

  const spec = (dimensions: number) => ({
    table: options.table,
    embeddings: options.embeddings,
    embedderName: options.embedderName,
    dimensions,
  });

  const forget = () => {
    const closing = current;
    current = undefined;
    void closing?.then((open) => open?.close()).catch(() => undefined);
  };

  async function loadIndexes(open: OpenTable): Promise<void> {
    if (options.prewarmIndexBytes === undefined) return;
    const { indexes } = await layoutOf(open.handle.table);
    const fresh = indexes.filter((i) => !open.prewarmed.has(i.uuid));
    if (fresh.length === 0) return;
    // Marked first, so that a question arriving meanwhile does not start the same load again.
    for (const i of fresh) open.prewarmed.add(i.uuid);
    open.inMemory = false;
    const bytes = indexes.reduce((total, i) => total + i.bytes, 0);
    if (bytes > options.prewarmIndexBytes) return;
    const fullText = fresh.filter((i) => i.fullText);
    const later =
      options.prewarmWhen === 'vector-first' &&
      fullText.reduce((total, i) => total + i.bytes, 0) >
        (options.vectorFirstMinFullTextBytes ?? VECTOR_FIRST_MIN_FULL_TEXT_BYTES)
        ? fullText
        : [];
    const now = fresh.filter((i) => !later.includes(i));
    const load = async (some: typeof fresh) => {
      try {
        await Promise.all(some.map((i) => open.handle.table.prewarmIndex(i.name)));
      } catch (error) {
        for (const i of some) open.prewarmed.delete(i.uuid);
        throw error;
      }
    };
    // The full-text index's dictionary and document lengths, which any full-text query needs, are read beside the
    // vector index by one query of its own (its posting lists stay for the load behind).
    await Promise.all([load(now), later.length > 0 ? openFullText(open.handle) : undefined]);
    open.inMemory = true;
    // Once per container: a later version's indexes are loaded for the question that brought it, which should not
    // wait for a search more.
    if (!open.warmedUp) {
      open.warmedUp = true;
      await warmUpSearch(open.handle);
    }
    // After the answer (`runBehind`), the load ends with a search of its own too, as the load before the questions
    // does: what the first searches on the loaded posting lists build is then built here, not by a question.
    if (later.length > 0)
      behind(async () => {
        await load(later);
        if (options.runBehind !== undefined) await warmUpSearch(open.handle);
      });
  }

  /** Runs `load` behind the questions (`runBehind`), its failure reported. */
  function behind(load: () => Promise<void>): void {
    const task = () => load().catch((error: unknown) => options.onPrewarmError?.(error));
    if (options.runBehind === undefined) void task();
    else options.runBehind(task);
  }

  /** Loads the indexes not loaded yet: before the question returns, or behind it (`prewarmWhen`). */
  async function prewarm(open: OpenTable): Promise<void> {
    if (options.prewarmWhen !== 'behind') return loadIndexes(open);
    behind(() => loadIndexes(open));
  }

  async function openTable(dimensions: number): Promise<OpenTable | undefined> {
    const opened = await openDocumentTable(connection, spec(dimensions));
    if (opened === undefined) return undefined;
    const open: OpenTable = {
      handle: { ...opened, close: () => undefined, indexesInMemory: () => open.inMemory },
      // The table served, which a fold's staged handle may have replaced (`follow`), and one staged meanwhile.
      close: () => {
        open.handle.table.close();
        open.staged?.table?.close();
      },
      checkedVersion: await opened.table.version(),
      checkedDimensions: dimensions,
      prewarmed: new Set(),
      inMemory: false,
    };
    try {
      await prewarm(open);
    } catch (error) {
      opened.close();
      throw error;
    }
    return open;
  }

  /** Serves `target` (see `open`), or the latest version when there is none. */
  async function follow(open: OpenTable, target: number | undefined, beforeFold?: number): Promise<void> {
    const { table } = open.handle;
    if (target === undefined) {
      if (open.pinned === undefined) return;
      open.pinned = undefined;
      await table.checkoutLatest();
      return;
    }
    // Never back: an older recorded version means a writer that did not record its own (the next sync does).
    const held = open.pinned ?? open.checkedVersion;
    if (open.pinned !== undefined && target <= held) return;
    if (beforeFold !== undefined && (await servedBeforeFold(open, target, beforeFold, held))) return;
    const staged = open.staged;
    if (staged?.ready === true) {
      open.staged = undefined;
      if (staged.table !== undefined && staged.version === target) {
        // The handle that loaded the fold's indexes is already at `target`, its manifest and files read: it serves
        // from now on. The one it replaces is not closed, since a question asked meanwhile may still be searching it;
        // it is released with the last reference to it.
        open.handle = { ...open.handle, table: staged.table };
        open.pinned = target;
        return;
      }
      staged.table?.close();
    }
    const version = Math.max(target, held);
    try {
      await table.checkout(version);
      open.pinned = version;
    } catch {
      // Not there any more (or not yet): the latest, as without a recorded version.
      open.pinned = undefined;
      await table.checkoutLatest();
    }
  }

  /**
   * Whether this question is answered from `beforeFold` while `target`'s indexes load behind it (see `open`): only
   * when the indexes preload, those of `beforeFold` are all in memory already, and `target`'s have not loaded yet.
   * Starts that load once (`stage`). Checks `beforeFold` out when it answers from it.
   */
  async function servedBeforeFold(
    open: OpenTable,
    target: number,
    beforeFold: number,
    held: number,
  ): Promise<boolean> {
    if (options.prewarmIndexBytes === undefined || !open.inMemory) return false;
    if (beforeFold >= target || beforeFold < held) return false;
    if (open.staged?.version === target && open.staged.ready) return false;
    const { table } = open.handle;
    // Checked out even when it is the version held: a reader following the latest would move on to the fold by itself.
    if (open.pinned !== beforeFold) {
      try {
        await table.checkout(beforeFold);
      } catch {
        return false; // cleaned up already: the folded version answers, as without it
      }
      const { indexes } = await layoutOf(table);
      if (!indexes.every((i) => open.prewarmed.has(i.uuid))) return false;
      open.pinned = beforeFold;
    }
    if (open.staged?.version !== target) stage(open, target);
    return true;
  }

  /**
   * Loads `target`'s indexes into the connection's index cache through a handle of its own on the table, behind the
   * questions (`runBehind`), then ends with a search as the preload does; the reader moves to `target` at the next
   * question. A failure is reported, and that question then moves and loads them itself.
   */
  function stage(open: OpenTable, target: number): void {
    const staged: NonNullable<OpenTable['staged']> = { version: target, ready: false };
    open.staged?.table?.close();
    open.staged = staged;
    behind(async () => {
      try {
        const table = await connection.openTable(options.table);
        try {
          await table.checkout(target);
          const { indexes } = await layoutOf(table);
          const bytes = indexes.reduce((total, i) => total + i.bytes, 0);
          const fresh = indexes.filter((i) => !open.prewarmed.has(i.uuid));
          if (bytes <= (options.prewarmIndexBytes ?? 0)) {
            await Promise.all(fresh.map((i) => table.prewarmIndex(i.name)));
            for (const i of fresh) open.prewarmed.add(i.uuid);
            await warmUpSearch({ ...open.handle, table });
          }
          // Kept for the next question, unless the reader was closed or moved on meanwhile.
          if (open.staged === staged) staged.table = table;
          else table.close();
        } catch (error) {
          table.close();
          throw error;
        }
      } finally {
        staged.ready = true;
      }
    });
  }

  return {
    async exists() {
      return current !== undefined || (await connection.tableNames()).includes(options.table);
    },

    async open(dimensions, target, beforeFold) {
      const opening = current ?? openTable(dimensions);
      current = opening;
      let open: OpenTable | undefined;
      try {
        open = await opening;
      } catch (error) {
        if (current === opening) current = undefined;
        throw error;
      }
      if (open === undefined) {
        // Nothing ingested yet: not kept, so that the first sync is seen by the next question.
        if (current === opening) current = undefined;
        return undefined;
      }
      await follow(open, target, beforeFold);
      const version = await open.handle.table.version();
      if (version !== open.checkedVersion || dimensions !== open.checkedDimensions) {
        try {
          verifyDocumentSchema(await open.handle.table.schema(), spec(dimensions));
        } catch (error) {
          if (current === opening) forget();
          throw error;
        }
        open.checkedVersion = version;
        open.checkedDimensions = dimensions;
        open.handle = { ...open.handle, dimensions };
        // A sync's rows outside the indexes, read while the question that brought the version is embedded.
        readUnindexedTail(open.handle);
        await prewarm(open);
      }
      return open.handle;
    },

    forget,
  };
}

/** What the load's own searches ask the full-text index: a word of documentation, not a stop word it would drop. */
const WARM_UP_TEXT = 'index';

/** One full-text query for row ids only: LanceDB opens the index (its dictionary, its documents) to answer it. */
async function openFullText(handle: DocumentTable): Promise<void> {
  await handle.table
    .query()
    .fullTextSearch(WARM_UP_TEXT, { columns: 'text' })
    .limit(1)
    .withRowId()
    .select(['_score'])
    .toArray()
    .catch(() => undefined);
}

/**
 * One search after the indexes have loaded, its answer thrown away, so that what a first search reads or builds
 * besides the indexes (the data files' metadata for the rows it takes, LanceDB's query plans) is done by the load,
 * not by the first question. A fixed vector and text, no embedding call. A failure here is the question's to meet.
 */
async function warmUpSearch(handle: DocumentTable): Promise<void> {
  const queryVector = Array.from({ length: handle.dimensions }, (_, i) => (i === 0 ? 1 : 0));
  await searchPassages(handle, { queryText: WARM_UP_TEXT, queryVector, k: 10 }).catch(() => undefined);
}
