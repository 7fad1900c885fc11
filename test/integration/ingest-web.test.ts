import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { type DocSite, startDocSite } from '../support/doc-site';
import { embeddingRequests, fakeOpenAIEnv, ingestWorkspace, readRows } from '../support/ingest';

/**
 * A web site synced through the real ingest state machine (local executor, dynalite, LanceDB, the fake OpenAI):
 * Markdown and text pages from a sitemap, and an HTML site crawled by its links, as a MkDocs or intranet site is.
 */

let fake: FakeOpenAI;
let site: DocSite;
let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

const page = (body: string, contentType = 'text/markdown; charset=utf-8') => ({
  kind: 'page' as const,
  body,
  contentType,
});

beforeAll(async () => {
  fake = await startFakeOpenAI();
});

afterAll(async () => {
  await fake.close();
});

beforeEach(async () => {
  fake.requests.splice(0);
  workspace = await ingestWorkspace();
  site = await startDocSite({
    robots: 'User-agent: *\nDisallow: /docs/private/\n',
    sitemap: [
      '/docs/vpn.md',
      '/docs/laptops.md',
      '/docs/holidays.txt',
      '/docs/huge.md',
      '/docs/loop.md',
      '/docs/private/secret.md',
    ],
    routes: {
      '/docs/vpn.md': page('# VPN guide\n\n## Rotating your key\n\nRotate the VPN key every 90 days.\n'),
      '/docs/laptops.md': page('# Laptops\n\nEvery engineer gets a laptop on the first day.\n'),
      '/docs/holidays.txt': page('The office is closed on the first of January.\n', 'text/plain'),
      '/docs/huge.md': { kind: 'huge', bytes: 10 * 1024 * 1024, declareLength: false },
      '/docs/loop.md': { kind: 'redirect', to: '/docs/loop.md' },
      '/docs/private/secret.md': page('# Secret\n\nNot for the bot.\n'),
    },
  });
});

afterEach(async () => {
  await site.close();
  await workspace.remove();
});

function env() {
  return fakeOpenAIEnv(fake, {
    INGEST_WEB_TIMEOUT_MS: '2000',
    INGEST_WEB_REQUESTS_PER_SECOND: '100',
  });
}

describe('a web site as an origin', () => {
  it('indexes its pages, re-syncs an unchanged site with 304s and no embedding, then re-reads a changed page and prunes a removed one', async () => {
    // Arrange
    const ingest = await workspace.start({ env: env() });
    const origin = `${site.origin}/docs/`;
    try {
      // Act: the first sync
      const first = await ingest.sync({ origins: [origin], prune: true });
      const callsAfterFirst = embeddingRequests(fake).length;
      const sources = [...new Set((await readRows(workspace.lancedbUri)).map((r) => r.source))];

      // Assert
      expect(first.status).toBe('committed');
      expect(first.report).toMatchObject({ added: 3, updated: 0, deleted: 0 });
      expect(sources.sort()).toEqual([
        `${site.origin}/docs/holidays.txt`,
        `${site.origin}/docs/laptops.md`,
        `${site.origin}/docs/vpn.md`,
      ]);
      const failed = first.report?.failed.map((f) => f.source) ?? [];
      expect(failed).toEqual([`${site.origin}/docs/huge.md`]);
      const skipped = Object.fromEntries((first.report?.skipped ?? []).map((s) => [s.source, s.reason]));
      expect(skipped[`${site.origin}/docs/loop.md`]).toMatch(/redirects/);
      expect(skipped[`${site.origin}/docs/private/secret.md`]).toMatch(/robots.txt/);

      // Act: an unchanged site
      site.requests.length = 0;
      const second = await ingest.sync({ origins: [origin], prune: true });

      // Assert: conditional requests only for the indexed pages, no body, nothing embedded
      expect(second.report).toMatchObject({
        added: 0,
        updated: 0,
        unchanged: 3,
        deleted: 0,
        embeddedChunks: 0,
      });
      expect(embeddingRequests(fake).length).toBe(callsAfterFirst);
      const indexedPages = site.requests.filter((r) =>
        ['/docs/vpn.md', '/docs/laptops.md', '/docs/holidays.txt'].includes(r.path),
      );
      expect(indexedPages).toHaveLength(3);
      expect(indexedPages.every((r) => r.conditional && r.status === 304 && r.bodyBytes === 0)).toBe(true);

      // Act: one page changed, one removed
      site.routes.set(
        '/docs/vpn.md',
        page('# VPN guide\n\n## Rotating your key\n\nRotate it every 30 days.\n'),
      );
      site.routes.delete('/docs/laptops.md');
      const third = await ingest.sync({ origins: [origin], prune: true });

      // Assert
      expect(third.report).toMatchObject({ added: 0, updated: 1, unchanged: 1, deleted: 1 });
      const rows = await readRows(workspace.lancedbUri);
      expect(rows.some((r) => r.text.includes('every 30 days'))).toBe(true);
      expect(rows.some((r) => r.source.endsWith('/docs/laptops.md'))).toBe(false);
    } finally {
      await ingest.close();
    }
  });

  it('crawls an HTML site by its links: main content only, a section per heading linking to its anchor, and a page that never finishes failing alone', async () => {
    // Arrange: no sitemap; every page has the site's navigation, header and footer around its <main>.
    await site.close();
    const chrome = (main: string) =>
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Handbook</title><style>nav{}</style>
<script>var tracking = 1;</script></head><body>
<header>Acme intranet · Sign in</header>
<nav><a href="/handbook/">Home</a> <a href="/handbook/travel.html">Travel</a> <a href="/handbook/slow.html">Slow</a>
<a href="https://elsewhere.example/">Another site</a> <a href="/other/">Outside the prefix</a></nav>
<main>${main}</main>
<footer>© Acme · Cookie settings</footer></body></html>`;
    const html = (main: string) => page(chrome(main), 'text/html; charset=utf-8');
    site = await startDocSite({
      robots: 'User-agent: *\nAllow: /\n',
      sitemap: undefined,
      routes: {
        '/handbook/': html('<h1>Handbook</h1><p>Start with the <a href="travel.html">travel rules</a>.</p>'),
        '/handbook/travel.html': html(
          `<h1 id="travel">Travel</h1><p>Book through the portal.</p>
<h2 id="hotels">Hotels</h2><p>The nightly hotel limit is 180 euros in capital cities.</p>
<table><tr><th>City</th><th>Limit</th></tr><tr><td>Paris</td><td>180 euros</td></tr></table>`,
        ),
        '/handbook/slow.html': { kind: 'hang', contentType: 'text/html' },
        '/other/': html('<h1>Not the handbook</h1><p>Out of scope.</p>'),
      },
    });
    const ingest = await workspace.start({ env: env() });
    try {
      // Act
      const result = await ingest.sync({ origins: [`${site.origin}/handbook/`], prune: true });
      const connection = await connectVectorStore(workspace.lancedbUri, { readConsistencySeconds: 0 });
      const table = await connection.openTable('documents');
      const rows = (await table
        .query()
        .where(`source LIKE '${site.origin}/%'`)
        .select(['source', 'title', 'heading', 'url', 'text'])
        .toArray()) as { source: string; title: string; heading: string; url: string | null; text: string }[];
      table.close();
      connection.close();

      // Assert: the two pages under the prefix, the hanging one failed on its time-out, nothing off the site
      expect(result.status).toBe('committed');
      expect(result.report).toMatchObject({ added: 2, failedCount: 0, skippedCount: 1 });
      expect(result.report?.skipped).toEqual([
        {
          source: `${site.origin}/handbook/slow.html`,
          reason: 'no complete answer within 2000 ms; the next sync tries again',
        },
      ]);
      expect(new Set(rows.map((r) => r.source))).toEqual(
        new Set([`${site.origin}/handbook/`, `${site.origin}/handbook/travel.html`]),
      );
      expect(site.requests.some((r) => r.path.startsWith('/other/'))).toBe(false);
      const hotels = rows.find((r) => r.heading.endsWith('Hotels'));
      expect(hotels?.url).toBe(`${site.origin}/handbook/travel.html#hotels`);
      expect(hotels?.text).toContain('The nightly hotel limit is 180 euros in capital cities.');
      expect(hotels?.text).toMatch(/\| *Paris *\| *180 euros *\|/);
      const everything = rows.map((r) => r.text).join('\n');
      expect(everything).not.toMatch(/Sign in|Cookie settings|tracking|Another site/);

      // Act: the travel page now hangs too, for one sync
      site.routes.set('/handbook/travel.html', { kind: 'hang', contentType: 'text/html' });
      const during = await ingest.sync({ origins: [`${site.origin}/handbook/`], prune: true });
      const sourcesDuring = new Set((await readRows(workspace.lancedbUri)).map((r) => r.source));

      // Assert: a page that did not answer this time is kept as last read, not pruned as if removed (the report
      // counts it unchanged: a known gap, see docs/documents.md)
      expect(during.report).toMatchObject({ deleted: 0, updated: 0, embeddedChunks: 0 });
      expect(sourcesDuring.has(`${site.origin}/handbook/travel.html`)).toBe(true);
    } finally {
      await ingest.close();
    }
  });
});
