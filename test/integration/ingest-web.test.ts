import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { type DocSite, startDocSite } from '../support/doc-site';
import { embeddingRequests, fakeOpenAIEnv, ingestWorkspace, readRows } from '../support/ingest';

/**
 * A web site synced through the real ingest state machine (local executor, dynalite, LanceDB, the fake OpenAI).
 * The pages are Markdown and plain text, which today's loader reads; HTML pages join once the HTML reader is in.
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
});
