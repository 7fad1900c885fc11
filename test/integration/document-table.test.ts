import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, Table, TakeQuery } from '@lancedb/lancedb';
import { PermanentError } from '../../functions/core/errors';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import type { Passage } from '../../functions/core/types';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import {
  countRows,
  createDocumentTable,
  type DocumentTable,
  type DocumentTableOptions,
  deleteSources,
  ensureIndexes,
  listSourceHashes,
  openDocumentTable,
  openOrCreateDocumentTable,
  optimize,
  replaceSourceChunks,
  replaceSources,
} from '../../functions/core/vector-store/document-table';
import { embedChunks } from '../../functions/core/vector-store/embed-chunks';
import { EmbeddingMismatchError } from '../../functions/core/vector-store/errors';
import {
  fuseByRank,
  REFINE_CANDIDATES,
  searchPassages,
} from '../../functions/core/vector-store/search-passages';
import { sqlIn } from '../../functions/core/vector-store/sql';
import { BagOfWordsEmbeddings } from '../support/bag-of-words-embeddings';

const embeddings = new BagOfWordsEmbeddings(64);
const OPTIONS: DocumentTableOptions = {
  table: 'documents',
  embeddings,
  embedderName: 'bag-of-words-64',
  dimensions: 64,
};

const VPN = `---
title: VPN handbook
collection: platform
---
# VPN

## Installing the client

Download the VPN client from the self-service portal and sign in with single sign-on.

## Rotating keys

Rotate your VPN key every 90 days: run rotate-vpn-key, then restart the VPN client.
`;

const EXPENSES = `---
collection: finance
---
# Expenses

## Receipts

Photograph every receipt and attach it to the expense claim within 30 days.

## Travel

Book flights through the travel portal; economy class for trips under six hours.
`;

const ERROR_CODES = `---
collection: platform
---
# Error codes

## Build agents

Error ZX-4471 means the build agent lost its license seat. Ask for a seat to be reassigned.
`;

const JAPANESE = `---
collection: finance
---
# 入社手続き

## 経費精算

領収書は三十日以内に経費精算システムへ登録してください。
`;

const NOTES = 'The office is closed on public holidays. Nobody answers the phone then.';

let dir: string;
let conn: Connection;
const opened: DocumentTable[] = [];

async function rowsOf(source: string, text: string, updatedAt = 1_700_000_000_000): Promise<DocumentRow[]> {
  const loaded = await loadDocument(new TextEncoder().encode(text), source);
  if (!loaded.ok) throw new Error(loaded.message);
  return embedChunks(embeddings, await splitDocument(loaded.document), { dimensions: 64, updatedAt });
}

async function track(handle: Promise<DocumentTable>): Promise<DocumentTable> {
  const table = await handle;
  opened.push(table);
  return table;
}

/** A table holding the five fixture documents, as an ingest would leave it. */
async function indexedTable(): Promise<DocumentTable> {
  const handle = await track(createDocumentTable(conn, OPTIONS));
  for (const [source, text] of [
    ['platform/vpn.md', VPN],
    ['finance/expenses.md', EXPENSES],
    ['platform/error-codes.md', ERROR_CODES],
    ['finance/ja/onboarding.md', JAPANESE],
    ['notes.txt', NOTES],
  ] as const) {
    await replaceSourceChunks(handle, source, await rowsOf(source, text));
  }
  return handle;
}

/** Words for the facts: each fact draws its own, so no two facts sit at the same distance from a question. */
const VOCABULARY = (
  'audit badge budget cable client cluster contract desk device disk expense firewall invoice kernel laptop ' +
  'license mailbox meeting monitor network office password payroll printer proxy receipt router schedule server ' +
  'shift storage switch ticket token travel update vendor visitor wallet'
).split(' ');

/** The fixture documents and 300 facts, indexed as a sync leaves them: full-text index and a vector index. */
async function factsTable(): Promise<DocumentTable> {
  const handle = await indexedTable();
  let seed = 7;
  const word = () => {
    seed = (seed * 48_271) % 2_147_483_647;
    return VOCABULARY[seed % VOCABULARY.length] as string;
  };
  const sections = Array.from(
    { length: 300 },
    (_, i) => `## Topic ${i}\n\n${Array.from({ length: 9 }, word).join(' ')}.`,
  );
  await replaceSourceChunks(
    handle,
    'platform/facts.md',
    await rowsOf('platform/facts.md', `---\ncollection: platform\n---\n# Facts\n\n${sections.join('\n\n')}`),
  );
  const indexes = await ensureIndexes(handle, { vectorIndexMinRows: 300 });
  expect(indexes).toMatchObject({ fullText: 'created', vector: 'created' });
  return handle;
}

/**
 * Two rankings of [passage, score] agree: the same scores in turn, and the same passages at each score. Passages at
 * the same score may come in either order, and those at the last score may differ (the cut falls among them).
 */
function expectSameRanking(actual: [string, number][], expected: [string, number][]): void {
  expect(actual.map(([, score]) => score)).toEqual(
    expected.map(([, score]) => expect.closeTo(score, 5)) as unknown as number[],
  );
  const last = expected.at(-1)?.[1];
  const before = (ranking: [string, number][]) =>
    ranking
      .filter(([, score]) => last === undefined || Math.abs(score - last) > 1e-5)
      .map(([passage, score]) => `${score.toFixed(4)} ${passage}`)
      .sort();
  expect(before(actual)).toEqual(before(expected));
}

/** `table` whose takes by row id are shown to `onTake` before they run: to count them, or to act before they read. */
function watchingTakes(table: Table, onTake: (take: TakeQuery) => void): Table {
  return new Proxy(table, {
    get(target, property) {
      if (property === 'takeRowIds') {
        return (ids: readonly bigint[]) => {
          const take = target.takeRowIds(ids);
          onTake(take);
          return take;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'document-table-'));
  conn = await connectVectorStore(dir);
});

afterEach(() => {
  for (const handle of opened.splice(0)) handle.close();
  conn.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Asserts that searchPassages ranks as LanceDB's own search with its refine factor, vector-only and hybrid (fused
 * as the product fuses), for each filter; returns the hybrid results with their filter.
 */
async function expectLanceDbRanking(
  handle: DocumentTable,
  filters: ({ collections: string[] } | { excludedCollections: string[] } | undefined)[],
): Promise<{ filter: object | undefined; passages: Passage[] }[]> {
  const results: { filter: object | undefined; passages: Passage[] }[] = [];
  const questions = [
    'How do I rotate my VPN key?',
    'printer ticket for the office',
    'receipts for the expense claim',
    'ZX-4471',
  ];
  const columns = ['text', 'source', 'title', 'heading'];
  const key = (row: { source: string; heading: string; text: string }) =>
    `${row.source}|${row.heading}|${row.text}`;

  for (const filter of filters) {
    for (const queryText of questions) {
      const queryVector = await embeddings.embedQuery(queryText);
      const where =
        filter === undefined
          ? undefined
          : 'collections' in filter
            ? sqlIn('collection', filter.collections)
            : `(collection IS NULL OR NOT (${sqlIn('collection', filter.excludedCollections)}))`;
      // What LanceDB returns with its refine factor, and the full-text half, fused as the product fuses them.
      let nearest = handle.table
        .query()
        .nearestTo(queryVector)
        .distanceType('cosine')
        .limit(5)
        .refineFactor(Math.ceil(REFINE_CANDIDATES / 5))
        .select([...columns, '_distance']);
      let fullText = handle.table
        .query()
        .fullTextSearch(queryText, { columns: 'text' })
        .limit(5)
        .select([...columns, '_score']);
      if (where !== undefined) {
        nearest = nearest.where(where);
        fullText = fullText.where(where);
      }
      const similar = await nearest.toArray();

      // Act
      const vectorOnly = await searchPassages(handle, {
        queryText: '',
        queryVector,
        k: 5,
        ...filter,
      });
      const hybrid = await searchPassages(handle, {
        queryText,
        queryVector,
        k: 5,
        ...filter,
      });

      // Assert: the same ranking (rows at the same distance may come in either order), and the hybrid search
      // fuses that ranking with the full-text half as before.
      expect(vectorOnly.search).toBe('vector');
      expectSameRanking(
        vectorOnly.passages.map((p) => [key(p), 1 - p.score]),
        similar.map((r) => [key(r), r._distance as number]),
      );
      const expectedHybrid = fuseByRank([vectorOnly.passages, await fullText.toArray()], 5, key);
      expect(hybrid.search).toBe('hybrid');
      expect(hybrid.passages.map(key)).toEqual(expectedHybrid.map((r) => key(r.row)));
      expect(hybrid.passages.map((p) => p.score)).toEqual(expectedHybrid.map((r) => r.score));
      if (filter !== undefined && 'collections' in filter) {
        expect(hybrid.passages.every((p) => p.source.startsWith('platform/'))).toBe(true);
      }
      results.push({ filter, passages: [...vectorOnly.passages, ...hybrid.passages] });
    }
  }
  return results;
}

describe('searchPassages', () => {
  it('returns the passage that answers the question first, with its source, title, heading and score', async () => {
    // Arrange
    const handle = await indexedTable();

    // Act
    const result = await searchPassages(handle, { queryText: 'How do I rotate my VPN key?', k: 3 });

    // Assert
    expect(result).toMatchObject({ status: 'ok', search: 'vector' });
    expect(result.passages).toHaveLength(3);
    expect(result.passages[0]).toMatchObject({
      source: 'platform/vpn.md',
      title: 'VPN handbook',
      heading: 'VPN › Rotating keys',
      text: 'Rotate your VPN key every 90 days: run rotate-vpn-key, then restart the VPN client.',
    });
    const scores = result.passages.map((p) => p.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(scores[0]).toBeGreaterThan(0.3);
    expect(scores[0]).toBeLessThanOrEqual(1);
  });

  it('turns hybrid once indexed, so an exact keyword finds its chunk even when the vectors miss it', async () => {
    // Arrange
    const handle = await indexedTable();
    const unrelatedVector = await embeddings.embedQuery(
      'photograph receipts for expense claims and travel flights',
    );
    const query = { queryText: 'ZX-4471', queryVector: unrelatedVector, k: 2 };
    const before = await searchPassages(handle, query);

    // Act
    const indexes = await ensureIndexes(handle);
    const after = await searchPassages(handle, query);
    const japanese = await searchPassages(handle, { ...query, queryText: '経費精算' });

    // Assert
    expect(indexes).toMatchObject({ fullText: 'created', vector: 'skipped' });
    expect(before.search).toBe('vector');
    expect(before.passages.map((p) => p.source)).not.toContain('platform/error-codes.md');
    expect(after.search).toBe('hybrid');
    expect(after.passages.map((p) => p.source)).toContain('platform/error-codes.md');
    expect(japanese.passages.map((p) => p.source)).toContain('finance/ja/onboarding.md');
    const scores = after.passages.map((p) => p.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('keeps the full-text index on a second run and searches rows added after it was built', async () => {
    // Arrange
    const handle = await indexedTable();
    await ensureIndexes(handle);
    await replaceSourceChunks(
      handle,
      'platform/new.md',
      await rowsOf('platform/new.md', '# New\n\nCode QW-9012.'),
    );
    const unrelatedVector = await embeddings.embedQuery(
      'photograph receipts for expense claims and travel flights',
    );

    // Act
    const again = await ensureIndexes(handle);
    const result = await searchPassages(handle, { queryText: 'QW-9012', queryVector: unrelatedVector, k: 2 });

    // Assert
    expect(again.fullText).toBe('exists');
    expect(result.search).toBe('hybrid');
    expect(result.passages.map((p) => p.source)).toContain('platform/new.md');
  });

  it('reports an empty index when the table does not exist or holds no rows', async () => {
    // Arrange
    const missing = await openDocumentTable(conn, OPTIONS);
    const query = { queryText: 'anything', k: 3 };

    // Act
    const whenMissing = await searchPassages(missing, query);
    const empty = await track(createDocumentTable(conn, OPTIONS));
    const whenEmpty = await searchPassages(empty, query);

    // Assert
    expect(missing).toBeUndefined();
    expect(whenMissing).toEqual({ status: 'empty-index', search: 'none', passages: [] });
    expect(whenEmpty).toEqual({ status: 'empty-index', search: 'none', passages: [] });
  });

  it('never returns a passage from a collection outside the filter, in vector or hybrid search', async () => {
    // Arrange
    const handle = await indexedTable();
    const query = { queryText: 'rotate VPN key ZX-4471', k: 10 };
    const allowed = ['finance'];

    // Act
    const unfiltered = await searchPassages(handle, query);
    const vector = await searchPassages(handle, { ...query, collections: allowed });
    await ensureIndexes(handle);
    const hybrid = await searchPassages(handle, { ...query, collections: allowed });
    const injected = await searchPassages(handle, { ...query, collections: ["finance') OR ('1'='1"] });
    const none = await searchPassages(handle, { ...query, collections: [] });

    // Assert
    expect(unfiltered.passages.map((p) => p.source)).toEqual(
      expect.arrayContaining(['platform/vpn.md', 'platform/error-codes.md', 'notes.txt']),
    );
    expect(vector.search).toBe('vector');
    expect(hybrid.search).toBe('hybrid');
    for (const result of [vector, hybrid]) {
      expect(result.passages.length).toBeGreaterThan(0);
      expect(new Set(result.passages.map((p) => p.source))).toEqual(
        new Set(['finance/expenses.md', 'finance/ja/onboarding.md']),
      );
    }
    expect(injected.passages).toEqual([]);
    expect(none.passages).toEqual([]);
  });

  it("with a vector index, returns what LanceDB's own re-ranking returns: same passages, order and scores", async () => {
    // Arrange: past the vector index's threshold, so the vector half ranks candidates on the index's codes and the
    // search re-ranks them on their full vectors (one read for both halves' rows instead of LanceDB's two).
    const handle = await factsTable();

    // Act and assert
    await expectLanceDbRanking(handle, [undefined, { collections: ['platform'] }]);
  });

  it("with rows the vector index does not cover yet, ranks them as LanceDB's flat search does, filters included, reading them once per version", async () => {
    // Arrange: a sync after the index was built (Optimize left its rows as a tail): a new document, a replaced one
    // (its old rows deleted from the indexed part) and a document of a closed collection, all nearest to the questions.
    const handle = await factsTable();
    let seed = 11;
    const word = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return VOCABULARY[seed % VOCABULARY.length] as string;
    };
    // Words drawn as the facts' are, and each section of its own length (the facts have 9 words), so that no two
    // sections tie in either half's ranking: LanceDB returns rows of the same score in any order.
    let words = 10;
    const tailText = (topic: string) =>
      `# ${topic}\n\n${Array.from(
        { length: 12 },
        (_, i) =>
          `## ${topic} ${i}\n\n${Array.from({ length: words++ }, word).join(' ')} printer ticket receipt.`,
      ).join('\n\n')}`;
    const printers = () => `---\ncollection: platform\n---\n${tailText('Printers')}`;
    for (const [source, text] of <[string, string][]>[
      ['platform/printers.md', printers()],
      ['platform/vpn.md', VPN.replace('90', '60')],
      ['secret/payroll.md', `---\ncollection: secret\n---\n${tailText('Payroll')}`],
      // A second sync of the new document: its first rows, in the tail, are deleted and its new ones follow.
      ['platform/printers.md', printers()],
    ]) {
      await replaceSourceChunks(handle, source, await rowsOf(source, text));
    }
    const vectorIndex = (await handle.table.listIndices()).find((i) => i.columns.includes('vector'));
    const stats = await handle.table.indexStats(vectorIndex?.name as string);
    expect(stats?.numUnindexedRows).toBeGreaterThanOrEqual(25);
    // What the search rests on: the rows the index does not cover are the table's last, after deletions in both parts.
    const last = await handle.table
      .query()
      .select(['source'])
      .offset(stats?.numIndexedRows as number)
      .limit(1_000)
      .toArray();
    expect(last).toHaveLength(stats?.numUnindexedRows as number);
    expect(new Set(last.map((r) => r.source))).toEqual(
      new Set(['platform/printers.md', 'platform/vpn.md', 'secret/payroll.md']),
    );
    let scans = 0;
    const counting = new Proxy(handle.table, {
      get(target, property) {
        if (property === 'query') {
          return () => {
            const q = target.query();
            const offset = q.offset.bind(q);
            q.offset = (n: number) => {
              scans += 1;
              return offset(n);
            };
            return q;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    // Act and assert: the same rankings as LanceDB's own search, whose flat search reads the tail itself.
    const results = await expectLanceDbRanking({ ...handle, table: counting }, [
      undefined,
      { collections: ['platform'] },
      { excludedCollections: ['secret'] },
    ]);

    // Assert: the tail's rows are found, a closed collection's never, and the tail was read once for them all.
    const sources = results.flatMap((r) => r.passages.map((p) => p.source));
    expect(sources).toContain('platform/printers.md');
    expect(sources).toContain('secret/payroll.md');
    const filtered = results.filter((r) => r.filter !== undefined).flatMap((r) => r.passages);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.map((p) => p.source)).not.toContain('secret/payroll.md');
    expect(scans).toBe(1);
  });

  it('reads a passage the exact re-ranking brings up from past the likely ones in a second round, and returns it', async () => {
    // Arrange: k = 1, so only the best 2 candidates on the index's codes have their columns read with the vectors;
    // over these questions the exact re-ranking brings one from further down to the top at least once.
    const handle = await factsTable();
    let takes = 0;
    const counting = watchingTakes(handle.table, () => {
      takes += 1;
    });
    const rounds: number[] = [];

    const pairs = VOCABULARY.flatMap((a, i) => VOCABULARY.slice(i + 1).map((b) => `${a} ${b}`));
    for (const queryText of pairs) {
      if (rounds.includes(3)) break;
      const queryVector = await embeddings.embedQuery(queryText);
      const expected = await handle.table
        .query()
        .nearestTo(queryVector)
        .distanceType('cosine')
        .limit(1)
        .refineFactor(REFINE_CANDIDATES)
        .select(['source', 'heading', 'text', '_distance'])
        .toArray();

      // Act
      takes = 0;
      const result = await searchPassages(
        { ...handle, table: counting },
        { queryText: '', queryVector, k: 1 },
      );
      rounds.push(takes);

      // Assert: the passage LanceDB's refine returns (or one at the same distance), with all its columns.
      expect(result.passages).toHaveLength(1);
      expect(1 - (result.passages[0]?.score as number)).toBeCloseTo(expected[0]._distance, 5);
      expect(result.passages[0]).toMatchObject({ source: expect.any(String), text: expect.any(String) });
    }
    expect(rounds).toContain(2);
    expect(rounds).toContain(3);
  });

  it('answers from one table version when the table moves to another between the search and its read', async () => {
    // Arrange: version A holds the expenses document; B deleted it and compacted the table, so A's row ids do not
    // address B's rows. The search ranks on A, then (as another question in the same process following a sync
    // would) the table moves to B before the rows are read.
    const handle = await factsTable();
    const versionA = await handle.table.version();
    await deleteSources(handle, ['finance/expenses.md']);
    await optimize(handle, { keepVersionsMs: 3_600_000 });
    const latest = await track(openOrCreateDocumentTable(conn, OPTIONS));
    await handle.table.checkout(versionA);
    const table = handle.table;
    let moved = 0;
    const moving = watchingTakes(table, (take) => {
      moved += 1;
      // The take runs after the move: the query builder reads the table when it executes.
      const toArray = take.toArray.bind(take);
      take.toArray = async (...args) => {
        await table.checkoutLatest();
        return toArray(...args);
      };
    });
    const queryText = 'Photograph every receipt for the expense claim';
    const query = { queryText: '', queryVector: await embeddings.embedQuery(queryText), k: 5 };

    // Act
    const result = await searchPassages({ ...handle, table: moving }, query);
    const onB = await searchPassages(latest, query);

    // Assert
    expect(moved).toBeGreaterThanOrEqual(1);
    expect(result.passages.map((p) => p.source)).not.toContain('finance/expenses.md');
    expect(result.passages).toHaveLength(5);
    const ranking = (passages: Passage[]): [string, number][] =>
      passages.map((p) => [`${p.source}|${p.heading}|${p.text}`, p.score]);
    expectSameRanking(ranking(result.passages), ranking(onB.passages));
  });

  it('trims long passages at a word boundary', async () => {
    // Arrange
    const handle = await track(createDocumentTable(conn, OPTIONS));
    const long = `# Policy\n\n${'Every laptop must use full disk encryption and a screen lock. '.repeat(40)}`;
    const loaded = await loadDocument(new TextEncoder().encode(long), 'policy.md');
    if (!loaded.ok) throw new Error(loaded.message);
    const chunks = await splitDocument(loaded.document, { chunkSize: 3000, chunkOverlap: 0 });
    await replaceSourceChunks(
      handle,
      'policy.md',
      await embedChunks(embeddings, chunks, { dimensions: 64, updatedAt: 0 }),
    );

    // Act
    const standard = await searchPassages(handle, { queryText: 'disk encryption', k: 1 });
    const short = await searchPassages(handle, { queryText: 'disk encryption', k: 1, maxPassageChars: 200 });

    // Assert
    expect(chunks[0]?.text.length).toBeGreaterThan(1500);
    const [standardText, shortText] = [standard.passages[0]?.text ?? '', short.passages[0]?.text ?? ''];
    expect(standardText.length).toBeLessThanOrEqual(1500);
    expect(standardText.length).toBeGreaterThan(1000);
    expect(shortText.length).toBeLessThanOrEqual(200);
    expect(shortText).toMatch(/(lock\.|[a-z])…$/);
    expect(long).toContain(shortText.slice(0, -1));
  });
});

describe('the embedder check', () => {
  it('refuses a table built by another embedder, naming both and the rebuild command', async () => {
    // Arrange
    (await track(createDocumentTable(conn, OPTIONS))).close();
    const other = { ...OPTIONS, embedderName: 'text-embedding-3-small', dimensions: 1536 };

    // Act
    const opening = openDocumentTable(conn, other);

    // Assert
    await expect(opening).rejects.toThrow(EmbeddingMismatchError);
    await expect(opening).rejects.toThrow(PermanentError);
    await expect(opening).rejects.toThrow(
      /"bag-of-words-64" \(64 dimensions\).*"text-embedding-3-small" \(1536 dimensions\).*npm run ingest -- --rebuild/,
    );
  });

  it('refuses the same embedder name with another dimension, for writes as for searches', async () => {
    // Arrange
    (await track(createDocumentTable(conn, OPTIONS))).close();

    // Act
    const writing = openOrCreateDocumentTable(conn, { ...OPTIONS, dimensions: 32 });

    // Assert
    await expect(writing).rejects.toThrow(/64 dimensions.*32 dimensions.*--rebuild/);
  });

  it('refuses a query vector of another dimension', async () => {
    // Arrange
    const handle = await indexedTable();

    // Act
    const searching = searchPassages(handle, {
      queryText: 'VPN',
      queryVector: new Array(32).fill(0.1),
      k: 3,
    });

    // Assert
    await expect(searching).rejects.toThrow(EmbeddingMismatchError);
  });

  it('accepts the new embedder once the table is rebuilt', async () => {
    // Arrange
    (await indexedTable()).close();
    const rebuiltOptions = {
      ...OPTIONS,
      embeddings: new BagOfWordsEmbeddings(32),
      embedderName: 'bow-32',
      dimensions: 32,
    };

    // Act
    await track(createDocumentTable(conn, rebuiltOptions, { overwrite: true }));
    const reopened = await track(openOrCreateDocumentTable(conn, rebuiltOptions));

    // Assert
    expect(await searchPassages(reopened, { queryText: 'VPN', k: 3 })).toMatchObject({
      status: 'empty-index',
    });
    await expect(openDocumentTable(conn, OPTIONS)).rejects.toThrow(EmbeddingMismatchError);
  });
});

describe('writes', () => {
  it('replaces only the given source, keeping its unchanged chunks', async () => {
    // Arrange
    const handle = await indexedTable();
    const hashesBefore = await listSourceHashes(handle);
    const rowsBefore = await countRows(handle);
    const edited = VPN.replace('every 90 days', 'every 60 days');

    // Act
    const result = await replaceSourceChunks(
      handle,
      'platform/vpn.md',
      await rowsOf('platform/vpn.md', edited),
    );

    // Assert
    expect(result).toEqual({ inserted: 1, updated: 1, deleted: 1 });
    expect(await countRows(handle)).toBe(rowsBefore);
    const hashesAfter = await listSourceHashes(handle);
    expect(hashesAfter.get('platform/vpn.md')).not.toBe(hashesBefore.get('platform/vpn.md'));
    for (const source of [
      'finance/expenses.md',
      'platform/error-codes.md',
      'finance/ja/onboarding.md',
      'notes.txt',
    ]) {
      expect(hashesAfter.get(source)).toBe(hashesBefore.get(source));
    }
    const texts = (await searchPassages(handle, { queryText: 'rotate VPN key days', k: 10 })).passages
      .filter((p) => p.source === 'platform/vpn.md')
      .map((p) => p.text);
    expect(texts.some((t) => t.includes('every 60 days'))).toBe(true);
    expect(texts.some((t) => t.includes('every 90 days'))).toBe(false);
  });

  it('writes new documents and replaced ones together, each ending with exactly its new chunks', async () => {
    // Arrange: a new document alone (nothing to remove: the merge only inserts), then a new one with a changed one
    const handle = await indexedTable();
    const before = await listSourceHashes(handle);
    const rowsBefore = await countRows(handle);
    const added = await rowsOf(
      'platform/printers.md',
      '# Printers\n\nBadges release print jobs on floor three.\n',
    );
    const alsoAdded = await rowsOf('platform/parking.md', '# Parking\n\nVisitors park on level two.\n');
    const edited = await rowsOf('platform/vpn.md', VPN.replace('every 90 days', 'every 60 days'));

    // Act
    const alone = await replaceSources(handle, ['platform/printers.md'], added);
    const together = await replaceSources(
      handle,
      ['platform/parking.md', 'platform/vpn.md'],
      [...alsoAdded, ...edited],
    );

    // Assert
    expect(alone).toEqual({ inserted: added.length, updated: 0, deleted: 0 });
    expect(together.deleted).toBe(1);
    expect(await countRows(handle)).toBe(rowsBefore + added.length + alsoAdded.length);
    const after = await listSourceHashes(handle);
    expect(after.get('platform/printers.md')).toBe(added[0]?.contentHash);
    expect(after.get('platform/parking.md')).toBe(alsoAdded[0]?.contentHash);
    expect(after.get('platform/vpn.md')).not.toBe(before.get('platform/vpn.md'));
    expect(after.get('finance/expenses.md')).toBe(before.get('finance/expenses.md'));
  });

  it('deletes every chunk of the given sources and nothing else', async () => {
    // Arrange
    const handle = await indexedTable();
    const rowsBefore = await countRows(handle);

    // Act
    const deleted = await deleteSources(handle, ['platform/vpn.md', 'never-indexed.md']);

    // Assert
    expect(deleted).toBe(2);
    expect(await countRows(handle)).toBe(rowsBefore - 2);
    expect([...(await listSourceHashes(handle)).keys()].sort()).toEqual([
      'finance/expenses.md',
      'finance/ja/onboarding.md',
      'notes.txt',
      'platform/error-codes.md',
    ]);
    const sources = (await searchPassages(handle, { queryText: 'VPN client key', k: 10 })).passages.map(
      (p) => p.source,
    );
    expect(sources).not.toContain('platform/vpn.md');
  });

  it('deletes a source given no chunks, and reports an empty index once nothing is left', async () => {
    // Arrange
    const handle = await track(createDocumentTable(conn, OPTIONS));
    await replaceSourceChunks(handle, 'notes.txt', await rowsOf('notes.txt', NOTES));

    // Act
    const result = await replaceSourceChunks(handle, 'notes.txt', []);

    // Assert
    expect(result).toEqual({ inserted: 0, updated: 0, deleted: 1 });
    expect(await searchPassages(handle, { queryText: 'office', k: 3 })).toMatchObject({
      status: 'empty-index',
    });
  });

  it('rejects rows of another source or another dimension', async () => {
    // Arrange
    const handle = await track(createDocumentTable(conn, OPTIONS));
    const rows = await rowsOf('notes.txt', NOTES);
    const [row] = rows;
    if (row === undefined) throw new Error('no row');

    // Act
    const wrongSource = replaceSourceChunks(handle, 'other.txt', rows);
    const wrongDimension = replaceSourceChunks(handle, 'notes.txt', [
      { ...row, vector: row.vector.slice(0, 32) },
    ]);

    // Assert
    await expect(wrongSource).rejects.toThrow(/belongs to "notes.txt", not to "other.txt"/);
    await expect(wrongDimension).rejects.toThrow(/32-dimensional/);
    expect(await countRows(handle)).toBe(0);
  });

  it('builds a vector index past the threshold, and optimizing keeps the table readable', async () => {
    // Arrange
    const handle = await indexedTable();
    const sections = Array.from(
      { length: 300 },
      (_, i) => `## Topic ${i}\n\nFact number ${i} about widget ${i}.`,
    );
    await replaceSourceChunks(
      handle,
      'facts.md',
      await rowsOf('facts.md', `# Facts\n\n${sections.join('\n\n')}`),
    );

    // Act
    const belowThreshold = await ensureIndexes(handle, { vectorIndexMinRows: 10_000 });
    const pastThreshold = await ensureIndexes(handle, { vectorIndexMinRows: 300 });
    const stats = await optimize(handle, { keepVersionsMs: 0 });
    const reopened = await track(openOrCreateDocumentTable(conn, OPTIONS));
    const result = await searchPassages(reopened, { queryText: 'How do I rotate my VPN key?', k: 3 });

    // Assert
    expect(belowThreshold.vector).toBe('skipped');
    expect(pastThreshold).toMatchObject({ fullText: 'exists', vector: 'created' });
    expect(stats.prune.oldVersionsRemoved).toBeGreaterThan(0);
    expect(result.search).toBe('hybrid');
    expect(result.passages.map((p) => p.source)).toContain('platform/vpn.md');
  });
});
