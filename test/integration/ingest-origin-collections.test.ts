import { createHash } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../functions/core/config';
import type { ManifestEntry } from '../../functions/core/ingest/manifest-store';
import { createEmbeddings, embeddingNameOf } from '../../functions/core/llm/providers';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { openDocumentTable } from '../../functions/core/vector-store/document-table';
import { searchPassages } from '../../functions/core/vector-store/search-passages';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { embeddingRequests, fakeOpenAIEnv, ingestWorkspace, readRows, writeFiles } from '../support/ingest';

/**
 * Origins that declare the collection of their documents (`{"uri": "hr", "collection": "hr"}`), through the real
 * ingest state machine (local executor, dynalite, LanceDB on disk), embedding through the real OpenAI client
 * against the fake OpenAI server, which counts every call: a PDF and an HTML page, which carry no front matter, are
 * placed by their origin; a change of the declaration re-files them in place, with no embedding call, and the
 * Retrieve step's collection filter then finds them under the new collection only.
 */

let fake: FakeOpenAI;
let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});

afterAll(async () => {
  await fake.close();
});

beforeEach(async () => {
  fake.requests.splice(0);
  workspace = await ingestWorkspace({ samples: 'all' });
  await mkdir(join(workspace.root, 'hr-files'));
  await copyFile(
    join(workspace.root, 'docs/travel-policy.pdf'),
    join(workspace.root, 'hr-files/travel-policy.pdf'),
  );
  await writeFiles(workspace.root, {
    'hr-files/benefits.html':
      '<html><head><title>Benefits</title></head><body><h1>Benefits</h1>' +
      '<p>Dental cover for the zephyrine plan starts on your first day.</p></body></html>',
  });
});

afterEach(async () => {
  await workspace.remove();
});

/** The sources the Retrieve step's search finds for `question` among `collections` only. */
async function sourcesFound(question: string, collections: string[]): Promise<string[]> {
  const env = fakeOpenAIEnv(fake);
  const embeddings = createEmbeddings(loadConfig(env).llm, env.OPENAI_API_KEY);
  const connection = await connectVectorStore(workspace.lancedbUri, { readConsistencySeconds: 0 });
  const handle = await openDocumentTable(connection, {
    table: 'documents',
    embeddings,
    embedderName: embeddingNameOf(embeddings),
    dimensions: (await embeddings.embedQuery('x')).length,
  });
  if (handle === undefined) throw new Error('no table');
  try {
    const { passages } = await searchPassages(handle, { queryText: question, k: 10, collections });
    return [...new Set(passages.map((p) => p.source))].sort();
  } finally {
    handle.close();
    connection.close();
  }
}

/** Each source's collections (one per distinct value among its rows). */
async function collectionsBySource(): Promise<Record<string, (string | null)[]>> {
  const result: Record<string, (string | null)[]> = {};
  for (const row of await readRows(workspace.lancedbUri)) {
    const known = result[row.source] ?? [];
    if (!known.includes(row.collection)) known.push(row.collection);
    result[row.source] = known;
  }
  return result;
}

const QUESTION = 'When does dental cover for the zephyrine plan start?';

describe('an origin that declares a collection', () => {
  it('places a PDF and an HTML page in it, and re-files them in place when the declaration changes, with no embedding call', async () => {
    // Arrange
    const ingest = await workspace.start({ env: fakeOpenAIEnv(fake) });
    try {
      const placed = await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'hr' }], prune: false });
      const rowsPlaced = await readRows(workspace.lancedbUri);
      const placedCollections = await collectionsBySource();
      const foundUnderHr = await sourcesFound(QUESTION, ['hr']);
      fake.requests.splice(0);

      // Act
      const moved = await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'people' }], prune: false });
      const movedRequests = embeddingRequests(fake).length;
      const rowsMoved = await readRows(workspace.lancedbUri);

      // Assert
      expect(placed.report).toMatchObject({ added: 2, failedCount: 0 });
      expect(placedCollections).toEqual({
        'hr-files/benefits.html': ['hr'],
        'hr-files/travel-policy.pdf': ['hr'],
      });
      expect(foundUnderHr).toContain('hr-files/benefits.html');
      expect(movedRequests).toBe(0);
      expect(moved.report).toMatchObject({
        added: 0,
        updated: 0,
        unchanged: 0,
        refiled: 2,
        embeddedChunks: 0,
      });
      expect(moved.report?.changes).toEqual([
        expect.objectContaining({
          source: 'hr-files/benefits.html',
          change: 'refiled',
          collection: { from: 'hr', to: 'people' },
        }),
        expect.objectContaining({
          source: 'hr-files/travel-policy.pdf',
          change: 'refiled',
          collection: { from: 'hr', to: 'people' },
        }),
      ]);
      expect(await collectionsBySource()).toEqual({
        'hr-files/benefits.html': ['people'],
        'hr-files/travel-policy.pdf': ['people'],
      });
      // The same rows, not new ones: same ids, same write time, only the collection changed.
      expect(rowsMoved.map(({ collection: _c, ...row }) => row)).toEqual(
        rowsPlaced.map(({ collection: _c, ...row }) => row),
      );
      expect(await sourcesFound(QUESTION, ['hr'])).toEqual([]);
      expect(await sourcesFound(QUESTION, ['people'])).toContain('hr-files/benefits.html');
    } finally {
      await ingest.close();
    }
  });

  it('takes its documents out of every collection when the declaration is dropped, and a next sync finds nothing to do', async () => {
    // Arrange
    const ingest = await workspace.start({ env: fakeOpenAIEnv(fake) });
    try {
      await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'hr' }], prune: false });
      fake.requests.splice(0);

      // Act
      const dropped = await ingest.sync({ origins: ['hr-files'], prune: false });
      const again = await ingest.sync({ origins: ['hr-files'], prune: false });

      // Assert
      expect(dropped.report).toMatchObject({ refiled: 2, embeddedChunks: 0 });
      expect(again.report).toMatchObject({ refiled: 0, unchanged: 2, embeddedChunks: 0 });
      expect(embeddingRequests(fake)).toEqual([]);
      expect(await collectionsBySource()).toEqual({
        'hr-files/benefits.html': [null],
        'hr-files/travel-policy.pdf': [null],
      });
      expect(await sourcesFound(QUESTION, ['hr'])).toEqual([]);
    } finally {
      await ingest.close();
    }
  });

  it("is overridden by a Markdown document's front matter, and wins over the sync's collection", async () => {
    // (Every sample Markdown document names its collection in its front matter: docs/vpn-guide.md names "it".)
    // Arrange
    await writeFiles(workspace.root, {
      'hr-files/canteen.md': '---\ncollection: public\n---\n# Canteen\n\nThe canteen opens at noon.\n',
      'hr-files/pay.md': '# Pay\n\nSalaries are paid on the 25th.\n',
    });
    const ingest = await workspace.start({ env: fakeOpenAIEnv(fake) });
    try {
      // Act
      await ingest.sync({
        origins: ['docs', { uri: 'hr-files', collection: 'hr' }],
        prune: false,
        collection: 'handbook',
      });
      const placed = await collectionsBySource();
      fake.requests.splice(0);
      const moved = await ingest.sync({
        origins: ['docs', { uri: 'hr-files', collection: 'people' }],
        prune: false,
        collection: 'handbook',
      });

      // Assert
      expect(placed).toMatchObject({
        'hr-files/canteen.md': ['public'],
        'hr-files/pay.md': ['hr'],
        'hr-files/benefits.html': ['hr'],
        'docs/vpn-guide.md': ['it'],
        'docs/travel-policy.pdf': ['handbook'],
        'docs/equipment-handbook.docx': ['handbook'],
      });
      expect(moved.report).toMatchObject({ refiled: 3, updated: 0, added: 0, embeddedChunks: 0 });
      expect(moved.report?.changes?.map((c) => c.source)).toEqual([
        'hr-files/benefits.html',
        'hr-files/pay.md',
        'hr-files/travel-policy.pdf',
      ]);
      expect(embeddingRequests(fake)).toEqual([]);
      expect(await collectionsBySource()).toMatchObject({
        'hr-files/canteen.md': ['public'],
        'hr-files/pay.md': ['people'],
        'docs/vpn-guide.md': ['it'],
        'docs/travel-policy.pdf': ['handbook'],
      });
    } finally {
      await ingest.close();
    }
  });

  it("re-files a Markdown document whose front matter's collection alone changed, and re-embeds one whose text changed", async () => {
    // Arrange
    const canteen = (collection: string, hours = 'noon') =>
      `---\ntitle: Canteen\ncollection: ${collection}\n---\n# Canteen\n\nThe zephyrine canteen opens at ${hours}.\n`;
    await writeFiles(workspace.root, { 'hr-files/canteen.md': canteen('public') });
    const ingest = await workspace.start({ env: fakeOpenAIEnv(fake) });
    try {
      await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'hr' }], prune: false });
      const before = (await readRows(workspace.lancedbUri)).filter((r) => r.source === 'hr-files/canteen.md');
      fake.requests.splice(0);

      // Act
      await writeFiles(workspace.root, { 'hr-files/canteen.md': canteen('staff') });
      const moved = await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'hr' }], prune: false });
      const requestsForMove = embeddingRequests(fake).length;
      const after = (await readRows(workspace.lancedbUri)).filter((r) => r.source === 'hr-files/canteen.md');
      const again = await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'hr' }], prune: false });
      await writeFiles(workspace.root, { 'hr-files/canteen.md': canteen('staff', 'one') });
      const edited = await ingest.sync({ origins: [{ uri: 'hr-files', collection: 'hr' }], prune: false });

      // Assert
      expect(before.map((r) => r.collection)).toEqual(['public']);
      expect(requestsForMove).toBe(0);
      expect(moved.report).toMatchObject({ refiled: 1, updated: 0, unchanged: 2, embeddedChunks: 0 });
      expect(moved.report?.changes).toEqual([
        expect.objectContaining({
          source: 'hr-files/canteen.md',
          change: 'refiled',
          collection: { from: 'public', to: 'staff' },
        }),
      ]);
      expect(after.map(({ id, updatedAt, collection }) => ({ id, updatedAt, collection }))).toEqual(
        before.map(({ id, updatedAt }) => ({ id, updatedAt, collection: 'staff' })),
      );
      expect(after[0]?.contentHash).not.toBe(before[0]?.contentHash);
      expect(again.report).toMatchObject({ unchanged: 3, refiled: 0, updated: 0 });
      expect(await sourcesFound('When does the zephyrine canteen open?', ['public'])).toEqual([]);
      expect(await sourcesFound('When does the zephyrine canteen open?', ['staff'])).toEqual([
        'hr-files/canteen.md',
      ]);
      expect(edited.report).toMatchObject({ updated: 1, refiled: 0, embeddedChunks: 1 });
    } finally {
      await ingest.close();
    }
  });

  it('gives a document listed by two origins the collection of the one with the longer address', async () => {
    // Arrange
    const ingest = await workspace.start();
    try {
      // Act
      await ingest.sync({
        origins: [
          { uri: '.', collection: 'everyone' },
          { uri: 'hr-files', collection: 'hr' },
        ],
        prune: false,
      });

      // Assert
      expect(await collectionsBySource()).toMatchObject({
        'hr-files/benefits.html': ['hr'],
        'docs/travel-policy.pdf': ['everyone'],
        'docs/vpn-guide.md': ['it'],
      });
    } finally {
      await ingest.close();
    }
  });

  it('fails the sync, writing nothing, for an origin object that is not one', async () => {
    // Arrange
    const ingest = await workspace.start();
    try {
      // Act
      const result = await ingest.sync({
        origins: [{ uri: 'hr-files', collection: "hr' OR '1'='1" }],
        prune: false,
      });

      // Assert
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(
        /the sync input "origins": origin hr-files: the collection name "hr' OR '1'='1" must be 1 to 64 letters, digits/,
      );
      expect(await readRows(workspace.lancedbUri)).toEqual([]);
    } finally {
      await ingest.close();
    }
  });
});

describe('a manifest written before collections were tracked apart', () => {
  /** The fingerprint an entry got before: the splitting settings and the sync's collection of its day. */
  const fingerprintBefore = (collection: string | null) =>
    createHash('sha256')
      .update(JSON.stringify([1, 1000, 150, collection]))
      .digest('hex')
      .slice(0, 16);

  it('re-embeds nothing on the first sync after the upgrade, and re-files without embedding when the collection then changes', async () => {
    // Arrange: a sync with --collection handbook, its manifest rewritten as the previous version wrote it
    await writeFiles(workspace.root, {
      'docs/canteen.md': '---\ncollection: public\n---\n# Canteen\n\nThe canteen opens at noon.\n',
      'docs/plain.md': '# Plain\n\nNo front matter here.\n',
    });
    const ingest = await workspace.start({ env: fakeOpenAIEnv(fake) });
    try {
      await ingest.sync({ origins: ['docs'], prune: false, collection: 'handbook' });
      const manifest = ingest.services.manifest();
      const old: ManifestEntry[] = [...(await manifest.load()).values()].map(
        ({ ownCollection: _own, ...entry }) => ({ ...entry, fingerprint: fingerprintBefore('handbook') }),
      );
      await manifest.apply({ put: old, remove: [] });
      expect([...(await manifest.load()).values()].every((e) => e.ownCollection === undefined)).toBe(true);
      fake.requests.splice(0);

      // Act
      const upgraded = await ingest.sync({ origins: ['docs'], prune: false, collection: 'handbook' });
      const moved = await ingest.sync({ origins: ['docs'], prune: false, collection: 'manuals' });

      // Assert
      // Five Markdown documents name their collection in their front matter; plain.md and the PDF and Word files do not.
      expect(upgraded.report).toMatchObject({ unchanged: 8, refiled: 0, updated: 0, embeddedChunks: 0 });
      expect(moved.report).toMatchObject({ unchanged: 5, refiled: 3, updated: 0, embeddedChunks: 0 });
      expect(embeddingRequests(fake)).toEqual([]);
      expect(await collectionsBySource()).toMatchObject({
        'docs/canteen.md': ['public'],
        'docs/vpn-guide.md': ['it'],
        'docs/plain.md': ['manuals'],
        'docs/travel-policy.pdf': ['manuals'],
        'docs/equipment-handbook.docx': ['manuals'],
      });
    } finally {
      await ingest.close();
    }
  });
});
