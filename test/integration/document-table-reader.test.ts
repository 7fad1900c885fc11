import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connection, Index, Query, VectorQuery } from '@lancedb/lancedb';
import { retrievePassages } from '../../functions/core/conversation/retrieve';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { foldOrDefer } from '../../functions/core/ingest/optimize-sync';
import { splitDocument } from '../../functions/core/ingest/split-document';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import {
  createDocumentTable,
  type DocumentTable,
  type DocumentTableOptions,
  ensureIndexes,
  optimize,
  replaceSourceChunks,
  VECTOR_INDEX,
} from '../../functions/core/vector-store/document-table';
import {
  createDocumentTableReader,
  VECTOR_FIRST_MIN_FULL_TEXT_BYTES,
} from '../../functions/core/vector-store/document-table-reader';
import { embedChunks } from '../../functions/core/vector-store/embed-chunks';
import { EmbeddingMismatchError } from '../../functions/core/vector-store/errors';
import { fuseByRank, searchPassages } from '../../functions/core/vector-store/search-passages';
import { BagOfWordsEmbeddings } from '../support/bag-of-words-embeddings';

const embeddings = new BagOfWordsEmbeddings(64);
const OPTIONS: DocumentTableOptions = {
  table: 'documents',
  embeddings,
  embedderName: 'bag-of-words-64',
  dimensions: 64,
};
const READER = { table: 'documents', embedderName: 'bag-of-words-64', embeddings };

async function rowsOf(source: string, text: string): Promise<DocumentRow[]> {
  const loaded = await loadDocument(new TextEncoder().encode(text), source);
  if (!loaded.ok) throw new Error(loaded.message);
  return embedChunks(embeddings, await splitDocument(loaded.document), { dimensions: 64, updatedAt: 0 });
}

const VPN = '# VPN\n\nRotate your VPN key every 90 days with rotate-vpn-key.';
const PARKING = '# Parking\n\nVisitors park on level two; ask reception for a parking pass.';
const CANTEEN =
  '# Canteen\n\nThe canteen opens at noon and closes at two; the salad bar stays open until three.';

async function sourcesFor(handle: DocumentTable | undefined, question: string): Promise<string[]> {
  return (await searchPassages(handle, { queryText: question, k: 5 })).passages.map((p) => p.source);
}

let dir: string;
const cleanup: (() => void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'table-reader-'));
});

afterEach(() => {
  for (const close of cleanup.splice(0)) close();
  rmSync(dir, { recursive: true, force: true });
});

async function writer() {
  const connection = await connectVectorStore(dir);
  const handle = await createDocumentTable(connection, OPTIONS);
  cleanup.push(() => {
    handle.close();
    connection.close();
  });
  return handle;
}

async function readerWith(readConsistencySeconds: number) {
  const connection = await connectVectorStore(dir, { readConsistencySeconds });
  cleanup.push(() => connection.close());
  const reader = createDocumentTableReader(connection, { ...READER, prewarmIndexBytes: 10_000_000 });
  cleanup.push(() => reader.forget());
  return reader;
}

/** A reader that loads the indexes ahead when they take at most `prewarmIndexBytes`. */
async function readerWithCache(prewarmIndexBytes: number) {
  const connection = await connectVectorStore(dir);
  cleanup.push(() => connection.close());
  const reader = createDocumentTableReader(connection, { ...READER, prewarmIndexBytes });
  cleanup.push(() => reader.forget());
  return reader;
}

describe('the document table reader of a warm Retrieve', () => {
  it('answers "no table" without caching it, so the first sync is seen at once', async () => {
    // Arrange
    const reader = await readerWith(3_600);

    // Act
    const before = await reader.exists();
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    const after = await reader.exists();

    // Assert
    expect(before).toBe(false);
    expect(after).toBe(true);
    expect(await sourcesFor(await reader.open(64), 'rotate the VPN key')).toContain('vpn.md');
  });

  it('keeps the table open, and serves what a sync committed once the read-consistency interval has passed', async () => {
    // Arrange
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    await ensureIndexes(table);
    const reader = await readerWith(1);
    const first = await reader.open(64);

    // Act
    await replaceSourceChunks(table, 'parking.md', await rowsOf('parking.md', PARKING));
    const withinInterval = await sourcesFor(await reader.open(64), 'where do visitors park');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const afterInterval = await sourcesFor(await reader.open(64), 'where do visitors park');

    // Assert
    expect(first).toBeDefined();
    expect(withinInterval).not.toContain('parking.md');
    expect(afterInterval).toContain('parking.md');
  });

  it('a warm reader whose version was cleaned up under it answers from the current version', async () => {
    // Arrange: a warm reader on the first version, which it keeps (the interval has not passed).
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    await ensureIndexes(table);
    const reader = await readerWith(3_600);
    const answer = (question: string) =>
      retrievePassages(reader, embeddings, question, { k: 5, dimensions: 64 }).then((r) =>
        r.passages.map((p) => p.source),
      );
    expect(await answer('rotate the VPN key')).toContain('vpn.md');

    // Act: a sync rewrites the document and compacts, and the cleanup removes every older version's files.
    await replaceSourceChunks(
      table,
      'vpn.md',
      await rowsOf('vpn.md', `${VPN}\n\nThe portal is vpn.example.com.`),
    );
    await replaceSourceChunks(table, 'parking.md', await rowsOf('parking.md', PARKING));
    await ensureIndexes(table);
    const stats = await optimize(table, { keepVersionsMs: 0, now: Date.now() + 60_000 });
    const after = await answer('rotate the VPN key');

    // Assert
    expect(stats.prune.oldVersionsRemoved).toBeGreaterThan(0);
    expect(after).toContain('vpn.md');
  });

  it('opens the table once for questions asked at the same time', async () => {
    // Arrange
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    const connection = await connectVectorStore(dir);
    cleanup.push(() => connection.close());
    let opened = 0;
    const counting = new Proxy(connection, {
      get(target, property) {
        if (property === 'openTable') {
          return (...args: Parameters<Connection['openTable']>) => {
            opened += 1;
            return target.openTable(...args);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const reader = createDocumentTableReader(counting, READER);
    cleanup.push(() => reader.forget());

    // Act
    const handles = await Promise.all(Array.from({ length: 5 }, () => reader.open(64)));
    const later = await reader.open(64);

    // Assert
    expect(opened).toBe(1);
    expect(new Set([...handles, later].map((h) => h?.table)).size).toBe(1);
  });

  it('checks the embedder again when a rebuild with another embedder commits', async () => {
    // Arrange
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    const reader = await readerWith(0);
    await reader.open(64);
    const rebuildConnection = await connectVectorStore(dir);
    cleanup.push(() => rebuildConnection.close());

    // Act
    const rebuilt = await createDocumentTable(
      rebuildConnection,
      { ...OPTIONS, embeddings: new BagOfWordsEmbeddings(32), embedderName: 'bow-32', dimensions: 32 },
      { overwrite: true },
    );
    rebuilt.close();
    const opening = reader.open(64);

    // Assert
    await expect(opening).rejects.toThrow(EmbeddingMismatchError);
    await expect(opening).rejects.toThrow(/"bow-32" \(32 dimensions\)/);
  });
  it('serves the version the ingest recorded, without checking for a newer one, and moves on when the record does', async () => {
    // Arrange: a reader that would check for the latest version on every read (interval 0), opened at the
    // recorded version 1 of the table.
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    const recorded = await table.table.version();
    const reader = await readerWith(0);
    await reader.open(64, recorded);

    // Act: a sync commits a new version; questions come with the old record, then with the new one, then without.
    await replaceSourceChunks(table, 'parking.md', await rowsOf('parking.md', PARKING));
    const committed = await table.table.version();
    const withOldRecord = await sourcesFor(await reader.open(64, recorded), 'where do visitors park');
    const withNewRecord = await sourcesFor(await reader.open(64, committed), 'where do visitors park');
    const withOlderAgain = await sourcesFor(await reader.open(64, recorded), 'where do visitors park');
    await replaceSourceChunks(table, 'parking.md', []);
    const withoutRecord = await sourcesFor(await reader.open(64), 'where do visitors park');

    // Assert: the recorded version, never an older one; without a record, the latest (as before records).
    expect(committed).toBeGreaterThan(recorded);
    expect(withOldRecord).not.toContain('parking.md');
    expect(withNewRecord).toContain('parking.md');
    expect(withOlderAgain).toContain('parking.md');
    expect(withoutRecord).not.toContain('parking.md');
  });
});

describe('the rows a sync left outside the indexes', () => {
  it('are read while the question that brings their version is embedded, not after', async () => {
    // Arrange: an indexed table, held by a warm reader at the recorded version; a sync then adds a document that
    // Optimize leaves outside the vector index. The question's embedding call takes a while, as OpenAI's does.
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    await ensureIndexes(table, { vectorIndexMinRows: 1 });
    const reader = await readerWith(60);
    await reader.open(64, await table.table.version());
    await replaceSourceChunks(table, 'parking.md', await rowsOf('parking.md', PARKING));
    const recorded = await table.table.version();
    const scans: string[] = [];
    const offset = Query.prototype.offset;
    const spy = jest.spyOn(Query.prototype, 'offset').mockImplementation(function (this: Query, n: number) {
      scans.push('tail read');
      return offset.call(this, n);
    });
    cleanup.push(() => spy.mockRestore());
    class SlowEmbeddings extends BagOfWordsEmbeddings {
      override async embedQuery(text: string): Promise<number[]> {
        await new Promise((resolve) => setTimeout(resolve, 300));
        scans.push('embedded');
        return super.embedQuery(text);
      }
    }

    // Act
    const result = await retrievePassages(reader, new SlowEmbeddings(64), 'where do visitors park', {
      k: 3,
      dimensions: 64,
      tableVersion: recorded,
    });

    // Assert: the tail was read once, before the embedding came back, and its document answers.
    expect(scans).toEqual(['tail read', 'embedded']);
    expect(result.passages[0]?.source).toBe('parking.md');
  });
});

describe('loading the indexes before or behind the questions (RETRIEVE_PREWARM)', () => {
  /** A table with both indexes, and the class its open tables are made of (to stall or fail their index loads). */
  async function indexedTable() {
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    await ensureIndexes(table, { vectorIndexMinRows: 1 });
    return {
      tableClass: Object.getPrototypeOf(table.table) as { prewarmIndex(name: string): Promise<void> },
      indexes: (await table.table.listIndices()).length,
    };
  }

  async function readerLoading(
    prewarmWhen: 'before' | 'behind' | 'vector-first',
    onPrewarmError?: (error: unknown) => void,
    vectorFirstMinFullTextBytes = 0,
    runBehind?: (load: () => Promise<void>) => void,
  ) {
    const connection = await connectVectorStore(dir);
    cleanup.push(() => connection.close());
    const reader = createDocumentTableReader(connection, {
      ...READER,
      prewarmIndexBytes: 10_000_000,
      prewarmWhen,
      vectorFirstMinFullTextBytes,
      ...(onPrewarmError === undefined ? {} : { onPrewarmError }),
      ...(runBehind === undefined ? {} : { runBehind }),
    });
    cleanup.push(() => reader.forget());
    return reader;
  }

  /**
   * Every index load of `tableClass`'s tables is recorded (the returned names); the full-text index's runs
   * `fullText` instead of loading, the others load as usual.
   */
  function onFullTextLoad(
    tableClass: { prewarmIndex(name: string): Promise<void> },
    fullText: () => Promise<void>,
  ): string[] {
    const loads: string[] = [];
    const original = tableClass.prewarmIndex;
    const spy = jest.spyOn(tableClass, 'prewarmIndex').mockImplementation(async function (
      this: unknown,
      name: string,
    ) {
      loads.push(name);
      return name === 'text_idx' ? fullText() : original.call(this, name);
    });
    cleanup.push(() => spy.mockRestore());
    return loads;
  }

  async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'still waiting'>((resolve) => {
      timer = setTimeout(() => resolve('still waiting'), ms);
    });
    try {
      return await Promise.race([promise, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  it('behind: a question is answered while the index load is still under way; before: it waits for the load', async () => {
    // Arrange: every index load stalls, as a load from a slow store would.
    const { tableClass, indexes } = await indexedTable();
    const loads: string[] = [];
    const stall = jest.spyOn(tableClass, 'prewarmIndex').mockImplementation(async (name: string) => {
      loads.push(name);
      await new Promise(() => undefined);
    });
    cleanup.push(() => stall.mockRestore());

    // Act
    const behind = await within(
      (await readerLoading('behind')).open(64).then((h) => sourcesFor(h, 'rotate the VPN key')),
      5_000,
    );
    const before = await within((await readerLoading('before')).open(64), 1_000);

    // Assert: both started loading every index (text, vector, collection); only `before` made the question wait.
    expect(indexes).toBe(3);
    expect(behind).toContain('vpn.md');
    expect(before).toBe('still waiting');
    expect(loads.length).toBe(2 * indexes);
  });

  it('vector-first: the open waits for the vector index only, and a question is hybrid while a large full-text index loads', async () => {
    // Arrange: the full-text index's load stalls; the others load.
    const { tableClass } = await indexedTable();
    const loads = onFullTextLoad(tableClass, () => new Promise(() => undefined));

    // Act
    const handle = await within((await readerLoading('vector-first')).open(64), 5_000);
    const answer =
      handle === 'still waiting'
        ? undefined
        : await searchPassages(handle, { queryText: 'rotate the VPN key', k: 5 });
    const before = await within((await readerLoading('before')).open(64), 1_000);
    // This full-text index is a few KB: past the default size, vector-first loads it with the others.
    const small = await within(
      (await readerLoading('vector-first', undefined, VECTOR_FIRST_MIN_FULL_TEXT_BYTES)).open(64),
      1_000,
    );

    // Assert: the question found the passage by both halves; the full-text index was loaded behind it, and a
    // reader loading everything first was still waiting for it, as was vector-first for an index this small.
    expect(answer?.search).toBe('hybrid');
    expect(answer?.passages.map((p) => p.source)).toContain('vpn.md');
    expect(handle !== 'still waiting' && handle?.indexesInMemory?.()).toBe(true);
    expect(loads.filter((name) => name === 'text_idx')).toHaveLength(3);
    expect(before).toBe('still waiting');
    expect(small).toBe('still waiting');
  });

  it('vector-first in Lambda: the full-text load starts only when the extension runs it, after the answer', async () => {
    // Arrange: every load is recorded; the loads behind the questions are held, as Retrieve's extension holds them
    // until the invocation's response is out (after-response.ts).
    const { tableClass } = await indexedTable();
    const loads = onFullTextLoad(tableClass, async () => undefined);
    const deferred: Array<() => Promise<void>> = [];
    const reader = await readerLoading('vector-first', undefined, 0, (load) => deferred.push(load));

    // Act: the first question, answered by both halves, then the deferred work.
    const answer = await searchPassages(await reader.open(64), { queryText: 'rotate the VPN key', k: 5 });
    const duringQuestion = loads.filter((name) => name === 'text_idx').length;
    await Promise.all(deferred.map((load) => load()));

    // Assert: nothing loaded the posting lists during the question; the extension's run did.
    expect(answer.search).toBe('hybrid');
    expect(answer.passages.map((p) => p.source)).toContain('vpn.md');
    expect(duringQuestion).toBe(0);
    expect(deferred).toHaveLength(1);
    expect(loads.filter((name) => name === 'text_idx')).toHaveLength(1);
  });

  it('vector-first: a failed load of the full-text index behind the questions is reported', async () => {
    // Arrange
    const { tableClass } = await indexedTable();
    onFullTextLoad(tableClass, async () => {
      throw new Error('S3 said no');
    });
    const reported: unknown[] = [];

    // Act
    const reader = await readerLoading('vector-first', (error) => reported.push(error));
    const sources = await sourcesFor(await reader.open(64), 'rotate the VPN key');
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assert
    expect(sources).toContain('vpn.md');
    expect(reported.map(String)).toEqual(['Error: S3 said no']);
  });

  it('behind: a failed index load is reported, the question is answered, and the next version loads again', async () => {
    // Arrange: index loads fail, as a load from an unreachable store would.
    const { tableClass } = await indexedTable();
    const failing = jest.spyOn(tableClass, 'prewarmIndex').mockRejectedValue(new Error('S3 said no'));
    cleanup.push(() => failing.mockRestore());
    const reported: unknown[] = [];
    const reader = await readerLoading('behind', (error) => reported.push(error));

    // Act
    const first = await sourcesFor(await reader.open(64), 'rotate the VPN key');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const reportedFirst = reported.length;
    failing.mockRestore();
    const loads = jest.spyOn(tableClass, 'prewarmIndex');
    cleanup.push(() => loads.mockRestore());
    const table = await writer();
    await replaceSourceChunks(table, 'parking.md', await rowsOf('parking.md', PARKING));
    const next = await sourcesFor(
      await reader.open(64, await table.table.version()),
      'where do visitors park',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assert: the error reached the log hook, and the next version tried the indexes again.
    expect(first).toContain('vpn.md');
    expect(reportedFirst).toBeGreaterThan(0);
    expect(String(reported[0])).toContain('S3 said no');
    expect(next).toContain('parking.md');
    expect(loads).toHaveBeenCalled();
  });
});

describe('a container holding the vector index in memory probes more of it', () => {
  it("probes 60 % of the partitions once its preload has loaded the indexes, LanceDB's 20 when they did not fit", async () => {
    // Arrange: 70 partitions of 10 rows, more than LanceDB's default 20 probes.
    const table = await writer();
    const facts = Array.from({ length: 700 }, (_, i) => `## Fact ${i}\n\nWidget ${i} weighs ${i} grams.`);
    await replaceSourceChunks(
      table,
      'facts.md',
      await rowsOf('facts.md', `# Facts\n\n${facts.join('\n\n')}`),
    );
    await ensureIndexes(table, { vectorIndexMinRows: 1, rowsPerPartition: 10 });
    const partitions = Math.ceil((await table.table.countRows()) / 10);
    // What each search asks LanceDB for, passed through to it.
    const probes: number[] = [];
    const original = VectorQuery.prototype.minimumNprobes;
    const spy = jest.spyOn(VectorQuery.prototype, 'minimumNprobes').mockImplementation(function (
      this: VectorQuery,
      n: number,
    ) {
      probes.push(n);
      return original.call(this, n);
    });
    cleanup.push(() => spy.mockRestore());

    // Act
    const loaded = await (await readerWithCache(100_000_000)).open(64);
    const notLoaded = await (await readerWithCache(1)).open(64);
    probes.length = 0; // the load's own warm-up search probed as the questions will
    const fromLoaded = await sourcesFor(loaded, 'How much does widget 650 weigh?');
    const fromNotLoaded = await sourcesFor(notLoaded, 'How much does widget 650 weigh?');

    // Assert
    expect(partitions).toBe(70);
    expect(loaded?.indexesInMemory?.()).toBe(true);
    expect(notLoaded?.indexesInMemory?.()).toBe(false);
    // LanceDB's default (20) is not set again: only the loaded container asks for more.
    expect(probes).toEqual([Math.ceil(0.6 * partitions)]);
    expect(fromLoaded).toContain('facts.md');
    expect(fromNotLoaded).toContain('facts.md');
  });
});

describe('the load ends with one search, so that the first question does not pay for what a first search builds', () => {
  it('runs one vector search when it has loaded the indexes, none when they did not fit, and once per container', async () => {
    // Arrange
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    await ensureIndexes(table, { vectorIndexMinRows: 1 });
    const searches = jest.spyOn(VectorQuery.prototype, 'toArray');
    cleanup.push(() => searches.mockRestore());
    const searchesDuring = async (opening: () => Promise<unknown>) => {
      const before = searches.mock.calls.length;
      await opening();
      return searches.mock.calls.length - before;
    };
    const loading = await readerWithCache(100_000_000);
    const notLoading = await readerWithCache(1);

    // Act
    const whenLoaded = await searchesDuring(() => loading.open(64));
    const whenTooLarge = await searchesDuring(() => notLoading.open(64));
    // A sync rebuilds the indexes; the same container loads the new ones for its next question, without a search.
    await replaceSourceChunks(table, 'parking.md', await rowsOf('parking.md', PARKING));
    await table.table.createIndex('text', { config: Index.fts(), replace: true });
    const synced = await table.table.version();
    const whenReloaded = await searchesDuring(() => loading.open(64, synced));
    const answer = await sourcesFor(await loading.open(64, synced), 'where do visitors park');

    // Assert: the one search is the load's own; questions are answered as before.
    expect(whenLoaded).toBe(1);
    expect(whenTooLarge).toBe(0);
    expect(whenReloaded).toBe(0);
    expect(answer).toContain('parking.md');
  });
});

describe('ensureIndexes and the vector index', () => {
  it('replaces the HNSW index of an earlier version, trains again once the table has doubled its partitions, and indexes collections', async () => {
    // Arrange
    const table = await writer();
    const facts = (from: number, count: number) =>
      Array.from(
        { length: count },
        (_, i) => `## Fact ${from + i}\n\nWidget ${from + i} weighs ${from + i} grams.`,
      );
    await replaceSourceChunks(
      table,
      'facts.md',
      await rowsOf('facts.md', `# Facts\n\n${facts(0, 300).join('\n\n')}`),
    );
    await table.table.createIndex('vector', { config: Index.hnswSq({ distanceType: 'cosine' }) });

    // Act
    const migrated = await ensureIndexes(table, { rowsPerPartition: 100 });
    const vectorIndexes = async () =>
      (await table.table.listIndices()).filter((i) => i.columns.includes('vector')).map((i) => i.name);
    const indexesAfterMigration = await vectorIndexes();
    const unchanged = await ensureIndexes(table, { rowsPerPartition: 100 });
    await replaceSourceChunks(
      table,
      'more.md',
      await rowsOf('more.md', `# More\n\n${facts(300, 400).join('\n\n')}`),
    );
    const grown = await ensureIndexes(table, { rowsPerPartition: 100 });
    const indexesAfterGrowth = await vectorIndexes();
    const indexedColumns = (await table.table.listIndices()).flatMap((i) => i.columns);

    // Assert
    expect(migrated.vector).toBe('created');
    expect(indexesAfterMigration).toEqual([`${VECTOR_INDEX.namePrefix}${Math.ceil(migrated.rows / 100)}`]);
    expect(unchanged.vector).toBe('exists');
    expect(grown).toMatchObject({ vector: 'created' });
    expect(indexesAfterGrowth).toEqual([`${VECTOR_INDEX.namePrefix}${Math.ceil(grown.rows / 100)}`]);
    expect(indexedColumns.sort()).toEqual(['collection', 'text', 'vector']);
    expect(await sourcesFor(table, 'How much does widget 650 weigh?')).toContain('more.md');
  });
  it('trains the index again once Optimize has left it in more segments than allowed (8 by default), and not before', async () => {
    // Arrange: one partition (the default 10,000 rows per partition), which LanceDB never splits at this size, so
    // every Optimize after a write adds a delta segment.
    const table = await writer();
    const fact = (n: number) => `# Fact ${n}\n\nGadget ${n} costs ${n} euros.`;
    await replaceSourceChunks(
      table,
      'facts.md',
      await rowsOf('facts.md', Array.from({ length: 300 }, (_, i) => fact(i)).join('\n\n')),
    );
    await ensureIndexes(table);
    await optimize(table);
    const segments = async () =>
      (await table.table.listIndices()).find((i) => i.columns.includes('vector'))?.numSegments;
    const sync = async (n: number) => {
      await replaceSourceChunks(table, `fact-${n}.md`, await rowsOf(`fact-${n}.md`, fact(1000 + n)));
      await optimize(table);
    };
    for (let n = 1; n <= 3; n++) await sync(n);

    // Act
    const segmentsAfterThreeSyncs = await segments();
    const kept = await ensureIndexes(table, { maxVectorSegments: 4 });
    await sync(4);
    const segmentsAfterFourSyncs = await segments();
    const keptByDefault = await ensureIndexes(table);
    const retrained = await ensureIndexes(table, { maxVectorSegments: 4 });

    // Assert
    expect(segmentsAfterThreeSyncs).toBe(4);
    expect(kept.vector).toBe('exists');
    expect(segmentsAfterFourSyncs).toBe(5);
    expect(keptByDefault.vector).toBe('exists');
    expect(retrained.vector).toBe('created');
    expect(await segments()).toBe(1);
    expect(await sourcesFor(table, 'How much does gadget 1004 cost?')).toContain('fact-4.md');
  });
});

describe('fuseByRank', () => {
  it('puts a passage found by both searches first, then keeps each ranking’s order, the first ranking winning ties', () => {
    // Arrange
    const vector = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    const fullText = [{ id: 'd' }, { id: 'b' }];

    // Act
    const fused = fuseByRank([vector, fullText], 3, (row) => row.id);

    // Assert
    expect(fused.map((f) => f.row.id)).toEqual(['b', 'a', 'd']);
    expect(fused[0]?.score).toBeCloseTo(1 / 62 + 1 / 62);
    expect(fused[1]?.score).toBeCloseTo(1 / 61);
  });
});

describe("a fold's new indexes load behind the questions", () => {
  /** A sync of one document, then the Optimize step's fold of it: what the fold returned, and the folded version. */
  async function syncAndFold(table: DocumentTable, source: string, markdown: string) {
    await replaceSourceChunks(table, source, await rowsOf(source, markdown));
    const fold = await foldOrDefer(table, {
      built: false,
      indexTailRows: 0,
      keepVersionsSeconds: 3_600,
      now: Date.now(),
    });
    return { fold, folded: await table.table.version() };
  }

  /**
   * An indexed table held by a warm reader that loads its indexes (its loads behind the questions held in `deferred`,
   * as Retrieve's extension holds them until the answer is out), then a sync's new document and the Optimize step's
   * fold of it: the version before the fold (its rows outside the indexes) and the folded one.
   */
  async function foldedUnderWarmReader(options: { prewarm: boolean }) {
    const table = await writer();
    await replaceSourceChunks(table, 'vpn.md', await rowsOf('vpn.md', VPN));
    await ensureIndexes(table, { vectorIndexMinRows: 1 });
    const connection = await connectVectorStore(dir);
    cleanup.push(() => connection.close());
    const deferred: Array<() => Promise<void>> = [];
    const reader = createDocumentTableReader(connection, {
      ...READER,
      ...(options.prewarm ? { prewarmIndexBytes: 10_000_000 } : {}),
      runBehind: (load) => deferred.push(load),
    });
    cleanup.push(() => reader.forget());
    await reader.open(64, await table.table.version());
    await Promise.all(deferred.splice(0).map((load) => load()));
    const { fold, folded } = await syncAndFold(table, 'parking.md', PARKING);
    // Every index load from here on, with the version of the table it was made through.
    const loads: string[] = [];
    const tableClass = Object.getPrototypeOf(table.table) as { prewarmIndex(name: string): Promise<void> };
    const original = tableClass.prewarmIndex;
    const spy = jest.spyOn(tableClass, 'prewarmIndex').mockImplementation(async function (
      this: { version(): Promise<number> },
      name: string,
    ) {
      loads.push(`${name}@${await this.version()}`);
      return original.call(this, name);
    });
    cleanup.push(() => spy.mockRestore());
    return { table, reader, deferred, fold, folded, loads };
  }

  const QUESTION = 'where do visitors park';

  it('answers from the version before the fold, as the folded one would, loads its indexes after the answer, then moves to it', async () => {
    // Arrange
    const { table, reader, deferred, fold, folded, loads } = await foldedUnderWarmReader({ prewarm: true });
    const beforeFold = fold.foldedVersion as number;

    // Act: the question after the fold; the work after its answer; the question after that.
    const first = await reader.open(64, folded, beforeFold);
    const firstVersion = await first?.table.version();
    const firstAnswer = await searchPassages(first, { queryText: QUESTION, k: 5 });
    const loadsDuringFirst = [...loads];
    await Promise.all(deferred.splice(0).map((load) => load()));
    const loadsBehind = loads.splice(0);
    const second = await reader.open(64, folded, beforeFold);
    const secondVersion = await second?.table.version();
    const secondAnswer = await searchPassages(second, { queryText: QUESTION, k: 5 });

    // Assert: the fold was of the version its sync committed, and left that version's rows as they were; the first
    // question waited for no index and was answered from it, with the folded version's passages; its indexes loaded
    // behind it, through the folded version; the next question was answered from the folded version, loading nothing.
    expect(beforeFold).toBeLessThan(folded);
    expect(firstVersion).toBe(beforeFold);
    expect(loadsDuringFirst).toEqual([]);
    expect(firstAnswer.passages[0]?.source).toBe('parking.md');
    expect(firstAnswer.passages.map((p) => p.text)).toEqual(secondAnswer.passages.map((p) => p.text));
    expect(loadsBehind.length).toBeGreaterThan(0);
    expect(loadsBehind.every((load) => load.endsWith(`@${folded}`))).toBe(true);
    expect(secondVersion).toBe(folded);
    expect(loads).toEqual([]);
    expect((await sourcesFor(table, QUESTION))[0]).toBe('parking.md');
  });

  it('two folds in a row: each answered from the version before it, then the folded one', async () => {
    // Arrange: the first fold, answered and loaded behind; then a second sync and fold.
    const { table, reader, deferred, fold, folded } = await foldedUnderWarmReader({ prewarm: true });
    await reader.open(64, folded, fold.foldedVersion);
    await Promise.all(deferred.splice(0).map((load) => load()));
    await reader.open(64, folded, fold.foldedVersion);
    const { fold: second, folded: foldedAgain } = await syncAndFold(table, 'canteen.md', CANTEEN);

    // Act
    const first = await reader.open(64, foldedAgain, second.foldedVersion);
    const firstVersion = await first?.table.version();
    const firstSources = await sourcesFor(first, 'when does the canteen open');
    await Promise.all(deferred.splice(0).map((load) => load()));
    const next = await reader.open(64, foldedAgain, second.foldedVersion);

    // Assert
    expect(firstVersion).toBe(second.foldedVersion);
    expect(firstSources[0]).toBe('canteen.md');
    expect(await next?.table.version()).toBe(foldedAgain);
    expect((await sourcesFor(next, 'when does the canteen open'))[0]).toBe('canteen.md');
    expect((await sourcesFor(next, QUESTION))[0]).toBe('parking.md');
  });

  it('answers from the folded version when the reader holds no indexes in memory, or the version before is gone', async () => {
    // Arrange: one reader that preloads nothing; then, on a new table, one whose version before the fold was removed
    // from storage (as Optimize's cleanup removes versions past their keep time).
    const cold = await foldedUnderWarmReader({ prewarm: false });
    const coldHandle = await cold.reader.open(64, cold.folded, cold.fold.foldedVersion);
    const coldVersion = await coldHandle?.table.version();
    const coldAnswer = await sourcesFor(coldHandle, QUESTION);
    for (const close of cleanup.splice(0)) close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'table-reader-'));
    const gone = await foldedUnderWarmReader({ prewarm: true });
    // LanceDB names a version's manifest by its distance to the largest 64-bit number.
    const manifest = `${(2n ** 64n - 1n - BigInt(gone.fold.foldedVersion as number)).toString()}.manifest`;
    rmSync(join(dir, 'documents.lance', '_versions', manifest));

    // Act
    const goneHandle = await gone.reader.open(64, gone.folded, gone.fold.foldedVersion);
    const goneVersion = await goneHandle?.table.version();
    const goneAnswer = await sourcesFor(goneHandle, QUESTION);

    // Assert: both answered from the folded version, the second loading its indexes for the question.
    expect(cold.fold.foldedVersion).toEqual(expect.any(Number));
    expect(coldVersion).toBe(cold.folded);
    expect(coldAnswer[0]).toBe('parking.md');
    expect(goneVersion).toBe(gone.folded);
    expect(goneAnswer[0]).toBe('parking.md');
    expect(gone.loads.length).toBeGreaterThan(0);
    expect(gone.deferred).toEqual([]);
  });
});
