import { PermanentError } from '../../functions/core/errors';
import {
  LocalFileOrigin,
  type OriginListing,
  SourceGoneError,
  SourceTooLargeError,
} from '../../functions/core/ingest/document-origins';
import {
  extractLinks,
  WEB_USER_AGENT,
  WebListingTooSlowError,
  WebOrigin,
} from '../../functions/core/ingest/web-origin';
import { type DocSite, htmlPage, type SiteRoute, startDocSite } from '../support/doc-site';

const MAX_BYTES = 1024 * 1024;
const TIMEOUT_MS = 1_000;

/** A small documentation site under /docs/ with every page a crawler must get right. */
function docsRoutes(): Record<string, SiteRoute> {
  return {
    '/docs/': htmlPage('Handbook', 'Start here.', [
      'guide.html',
      'guide.html#install',
      'faq.html',
      'search?q=vpn',
      'manual.pdf',
      'private/secret.html',
      'loop-a.html',
      'away.html',
      'moved.html',
      'huge.html',
      'slow.html',
      '/blog/post.html',
      'logo.png',
      // Off the site: the same server under another host name, never to be asked.
      'http://localhost:1/docs/offsite.html',
    ]),
    '/docs/guide.html': htmlPage('Guide', 'Install the VPN client.', ['deep/page.html', '../docs/faq.html']),
    '/docs/faq.html': htmlPage('FAQ', 'Questions people ask.', ['./']),
    '/docs/deep/page.html': htmlPage('Deep page', 'Found only through the guide.'),
    '/docs/manual.pdf': { kind: 'page', body: '%PDF-1.4 stand-in', contentType: 'application/pdf' },
    '/docs/private/secret.html': htmlPage('Secret', 'robots.txt keeps this out.'),
    '/docs/loop-a.html': { kind: 'redirect', to: '/docs/loop-b.html' },
    '/docs/loop-b.html': { kind: 'redirect', to: '/docs/loop-a.html' },
    '/docs/away.html': { kind: 'redirect', to: 'http://169.254.169.254/latest/meta-data/' },
    '/docs/moved.html': { kind: 'redirect', to: '/docs/deep/page.html', status: 301 },
    '/docs/huge.html': { kind: 'huge', bytes: 10 * 1024 * 1024, declareLength: false },
    '/docs/slow.html': { kind: 'hang' },
    '/docs/search': htmlPage('Search', 'Results.'),
    '/docs/logo.png': { kind: 'page', body: 'PNG', contentType: 'image/png' },
    '/blog/post.html': htmlPage('Blog', 'Not under /docs/.'),
  };
}

const ROBOTS = 'User-agent: *\nDisallow: /docs/private/\n';

function origin(options: ConstructorParameters<typeof WebOrigin>[0] = {}): WebOrigin {
  return new WebOrigin({ timeoutMs: TIMEOUT_MS, requestsPerSecond: 100, ...options });
}

function versionsOf(listing: OriginListing): Map<string, string> {
  return new Map(listing.sources.map((s) => [s.source, s.version]));
}

function pagePaths(site: DocSite, listing: OriginListing): string[] {
  return listing.sources.map((s) => s.source.slice(site.origin.length));
}

function pageRequests(site: DocSite) {
  return site.requests.filter((r) => r.path !== '/robots.txt' && r.path !== '/sitemap.xml');
}

describe('WebOrigin, a site without a sitemap (crawled by links)', () => {
  let site: DocSite;
  beforeEach(async () => {
    site = await startDocSite({ routes: docsRoutes(), robots: ROBOTS });
  });
  afterEach(() => site.close());

  it('lists every page under the start path, following links within the site only', async () => {
    const started = Date.now();
    const listing = await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });
    const elapsed = Date.now() - started;

    expect(pagePaths(site, listing)).toEqual([
      '/docs/',
      '/docs/deep/page.html',
      '/docs/faq.html',
      '/docs/guide.html',
      '/docs/huge.html',
      '/docs/manual.pdf',
    ]);
    const skipped = Object.fromEntries(listing.skipped.map((s) => [s.source.slice(site.origin.length), s]));
    expect(skipped['/docs/private/secret.html']?.reason).toContain('robots.txt');
    expect(skipped['/docs/loop-a.html']?.reason).toMatch(/more than 5 redirects/);
    expect(skipped['/docs/away.html']?.reason).toContain(
      'redirects off the site (to http://169.254.169.254/',
    );
    expect(skipped['/docs/slow.html']?.reason).toContain(`within ${TIMEOUT_MS} ms`);
    // The 10 MB page is listed at the size seen, over the limit: Plan reports it as too large, alone.
    const huge = listing.sources.find((s) => s.source.endsWith('/docs/huge.html'));
    expect(huge?.size).toBeGreaterThan(MAX_BYTES);
    expect(huge?.size).toBeLessThan(MAX_BYTES + 1024 * 1024);

    const asked = new Set(site.requests.map((r) => r.path));
    expect(asked.has('/docs/private/secret.html')).toBe(false);
    expect(asked.has('/blog/post.html')).toBe(false);
    expect(asked.has('/docs/offsite.html')).toBe(false);
    expect(asked.has('/docs/search')).toBe(false);
    expect(asked.has('/docs/logo.png')).toBe(false);
    expect(asked.has('/docs/loop-b.html')).toBe(true);
    // The page that never finishes cost one time-out, not the listing.
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 4_000);
    expect(listing.covers(`${site.origin}/docs/gone.html`)).toBe(true);
    expect(listing.covers(`${site.origin}/blog/post.html`)).toBe(false);
  });

  it('re-lists an unchanged site with conditional requests only, following the links its versions kept', async () => {
    const web = origin();
    const first = await web.list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });
    site.requests.length = 0;

    const again = await origin().list(`${site.origin}/docs/`, {
      maxBytes: MAX_BYTES,
      previousVersions: versionsOf(first),
    });

    expect(versionsOf(again)).toEqual(versionsOf(first));
    const documents = pageRequests(site).filter((r) =>
      ['/docs/', '/docs/guide.html', '/docs/faq.html', '/docs/deep/page.html', '/docs/manual.pdf'].includes(
        r.path,
      ),
    );
    // deep/page.html is asked twice: by its own link, and at the end of moved.html's redirect.
    expect(new Set(documents.map((r) => r.path)).size).toBe(5);
    expect(documents.every((r) => r.conditional && r.status === 304 && r.bodyBytes === 0)).toBe(true);
  });

  it('sees a changed page, and drops a removed one (it is still covered, so --prune removes it)', async () => {
    const first = await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });
    site.routes.set('/docs/faq.html', htmlPage('FAQ', 'Questions people ask, and a new one.', ['./']));
    site.routes.delete('/docs/deep/page.html');

    const again = await origin().list(`${site.origin}/docs/`, {
      maxBytes: MAX_BYTES,
      previousVersions: versionsOf(first),
    });

    const before = versionsOf(first);
    const after = versionsOf(again);
    const faq = `${site.origin}/docs/faq.html`;
    const deep = `${site.origin}/docs/deep/page.html`;
    expect(after.get(faq)).not.toEqual(before.get(faq));
    expect(after.has(deep)).toBe(false);
    expect(again.covers(deep)).toBe(true);
    expect(after.get(`${site.origin}/docs/guide.html`)).toEqual(before.get(`${site.origin}/docs/guide.html`));
  });

  it('keeps a page that fails for a while (5xx, time-out) at its old version, so it keeps its chunks', async () => {
    const first = await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });
    site.routes.set('/docs/guide.html', { kind: 'status', status: 503 });
    site.routes.set('/docs/faq.html', { kind: 'hang' });

    const again = await origin().list(`${site.origin}/docs/`, {
      maxBytes: MAX_BYTES,
      previousVersions: versionsOf(first),
    });

    const before = versionsOf(first);
    const after = versionsOf(again);
    for (const path of ['/docs/guide.html', '/docs/faq.html', '/docs/deep/page.html']) {
      expect(after.get(`${site.origin}${path}`)).toEqual(before.get(`${site.origin}${path}`));
    }
  });

  it('keeps no links for a page with too many to store, and downloads it at every sync instead', async () => {
    const many = Array.from({ length: 3_000 }, (_, i) => `generated/page-${i}-with-a-long-name.html`);
    site.routes.set('/docs/', htmlPage('Handbook', 'Start here.', ['guide.html', ...many]));
    const web = origin({ maxPages: 3 });
    const first = await web.list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });
    const index = `${site.origin}/docs/`;
    site.requests.length = 0;

    const again = await origin({ maxPages: 3 }).list(`${site.origin}/docs/`, {
      maxBytes: MAX_BYTES,
      previousVersions: versionsOf(first),
    });

    expect(versionsOf(first).get(index)?.length).toBeLessThan(200);
    expect(versionsOf(again).get(index)).toEqual(versionsOf(first).get(index));
    expect(site.requests.find((r) => r.path === '/docs/')).toMatchObject({ conditional: false, status: 200 });
    expect(again.sources.map((s) => s.source)).toContain(`${site.origin}/docs/guide.html`);
  });

  it('stops at the page limit and says what it left out', async () => {
    const listing = await origin({ maxPages: 2 }).list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });

    expect(listing.sources).toHaveLength(2);
    expect(listing.skipped.some((s) => s.kind === 'page limit')).toBe(true);
  });

  it('fails a listing that would outlast its budget, rather than prune what it did not reach', async () => {
    await expect(
      origin({ listingBudgetMs: 1 }).list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES }),
    ).rejects.toBeInstanceOf(WebListingTooSlowError);
  });

  it('honours Crawl-delay as the pace', async () => {
    site.robots = 'User-agent: SlackRagBot\nCrawl-delay: 1\n';
    site.routes = new Map([
      ['/docs/', htmlPage('Handbook', 'Start.', ['a.html', 'b.html'])],
      ['/docs/a.html', htmlPage('A', 'a')],
      ['/docs/b.html', htmlPage('B', 'b')],
    ]);

    await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });

    const times = pageRequests(site).map((r) => r.at);
    expect(times).toHaveLength(3);
    for (let i = 1; i < times.length; i++) {
      expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(950);
    }
  });
});

describe('WebOrigin, a site with a sitemap', () => {
  let site: DocSite;
  beforeEach(async () => {
    site = await startDocSite({
      routes: docsRoutes(),
      robots: ROBOTS,
      sitemap: [
        '/docs/',
        '/docs/guide.html',
        '/docs/faq.html',
        '/docs/deep/page.html',
        '/docs/private/secret.html',
        '/blog/post.html',
      ],
    });
  });
  afterEach(() => site.close());

  it('lists the pages the sitemap lists under the start path, and nothing else', async () => {
    const listing = await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });

    expect(pagePaths(site, listing)).toEqual([
      '/docs/',
      '/docs/deep/page.html',
      '/docs/faq.html',
      '/docs/guide.html',
    ]);
    expect(listing.skipped.map((s) => s.source)).toEqual([`${site.origin}/docs/private/secret.html`]);
    expect(site.requests.some((r) => r.path === '/docs/loop-a.html' || r.path === '/blog/post.html')).toBe(
      false,
    );
  });

  it('reads a sitemap index declared in robots.txt', async () => {
    site.robots = `${ROBOTS}Sitemap: ${site.origin}/maps/index.xml\n`;
    site.routes.set('/maps/index.xml', {
      kind: 'page',
      contentType: 'application/xml',
      body: `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>${site.origin}/maps/docs.xml</loc></sitemap><sitemap><loc>http://169.254.169.254/evil.xml</loc></sitemap></sitemapindex>`,
    });
    site.routes.set('/maps/docs.xml', {
      kind: 'page',
      contentType: 'application/xml',
      body: `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>${site.origin}/docs/faq.html</loc></url></urlset>`,
    });

    const listing = await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });

    expect(pagePaths(site, listing)).toEqual(['/docs/faq.html']);
  });

  it('re-lists an unchanged site without downloading a page', async () => {
    const first = await origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES });
    site.requests.length = 0;

    const again = await origin().list(`${site.origin}/docs/`, {
      maxBytes: MAX_BYTES,
      previousVersions: versionsOf(first),
    });

    expect(versionsOf(again)).toEqual(versionsOf(first));
    expect(pageRequests(site)).toHaveLength(4);
    expect(pageRequests(site).every((r) => r.status === 304 && r.conditional && r.bodyBytes === 0)).toBe(
      true,
    );
  });

  it('fails the listing, pruning nothing, when the sitemap answers 5xx', async () => {
    site.routes.set('/sitemap.xml', { kind: 'status', status: 503 });
    site.sitemap = undefined;
    // The stand-in serves /sitemap.xml itself: make it fail through robots.txt's declaration.
    site.robots = `${ROBOTS}Sitemap: ${site.origin}/maps/broken.xml\n`;
    site.routes.set('/maps/broken.xml', { kind: 'status', status: 503 });

    await expect(origin().list(`${site.origin}/docs/`, { maxBytes: MAX_BYTES })).rejects.toThrow(
      /HTTP 503; nothing was listed/,
    );
  });
});

describe('WebOrigin.read', () => {
  let site: DocSite;
  beforeEach(async () => {
    site = await startDocSite({ routes: docsRoutes(), robots: ROBOTS });
  });
  afterEach(() => site.close());

  it('returns the bytes, the declared content type and the address after redirects within the site', async () => {
    const content = await origin().read(`${site.origin}/docs/moved.html`, { maxBytes: MAX_BYTES });

    expect(new TextDecoder().decode(content.bytes)).toContain('Found only through the guide.');
    expect(content.contentType).toBe('text/html; charset=utf-8');
    expect(content.url).toBe(`${site.origin}/docs/deep/page.html`);
  });

  it('fails a 10 MB page as too large without reading it all', async () => {
    await expect(
      origin().read(`${site.origin}/docs/huge.html`, { maxBytes: MAX_BYTES }),
    ).rejects.toBeInstanceOf(SourceTooLargeError);
    const sent = site.requests.find((r) => r.path === '/docs/huge.html')?.bodyBytes ?? 0;
    expect(sent).toBeLessThan(10 * 1024 * 1024);
  });

  it('fails a page that never finishes after the time-out', async () => {
    const started = Date.now();
    await expect(origin().read(`${site.origin}/docs/slow.html`, { maxBytes: MAX_BYTES })).rejects.toThrow(
      new RegExp(`within ${TIMEOUT_MS} ms`),
    );
    // Once, not retried into a multiple of it: loose enough for a busy machine's late timers.
    expect(Date.now() - started).toBeLessThan(3 * TIMEOUT_MS);
  });

  it('refuses a redirect to another host (the metadata address), and a loop', async () => {
    await expect(origin().read(`${site.origin}/docs/away.html`)).rejects.toThrow(/redirects off the site/);
    await expect(origin().read(`${site.origin}/docs/loop-a.html`)).rejects.toThrow(/more than 5 redirects/);
  });

  it('says a page that is gone is gone', async () => {
    await expect(origin().read(`${site.origin}/docs/nothing.html`)).rejects.toBeInstanceOf(SourceGoneError);
  });
});

describe('WebOrigin, what it accepts', () => {
  it('takes http and https only, and no credentials in the address', async () => {
    const web = origin();
    expect(web.handles('https://docs.example.internal/')).toBe(true);
    expect(web.handles('http://docs.example.internal/')).toBe(true);
    expect(web.handles('ftp://docs.example.internal/')).toBe(false);
    expect(web.handles('docs/')).toBe(false);
    await expect(web.list('https://user:secret@docs.example.internal/')).rejects.toThrow(
      /must not hold credentials \(https:\/\/docs.example.internal\/\)/,
    );
    await expect(web.list('https://user:secret@docs.example.internal/')).rejects.toBeInstanceOf(
      PermanentError,
    );
  });

  it('is the origin of web addresses beside local files, which no longer claim them', () => {
    const local = new LocalFileOrigin();
    expect(local.handles('https://docs.example.internal/')).toBe(false);
  });

  it('sends its user agent, and finds links in one pass over the tags', () => {
    expect(WEB_USER_AGENT).toBe('SlackRagBot');
    const { links, base } = extractLinks(
      `<base href="/docs/"><a class="x" href='a.html'>a</a><A HREF=b.html>b</A><p>no</p><area href="c.html">${'<a '.repeat(100_000)}`,
    );
    expect(links).toEqual(['a.html', 'b.html', 'c.html']);
    expect(base).toBe('/docs/');
  });
});
