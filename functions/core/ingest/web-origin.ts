import { createHash } from 'node:crypto';
import { parse as parseXml } from 'fast-xml-parser';
import robotsParser from 'robots-parser';
import { PermanentError, TransientError } from '../errors';
import {
  type DocumentOrigin,
  type ListedSource,
  type ListOptions,
  type OriginListing,
  OriginNotFoundError,
  type ReadOptions,
  type SkippedSource,
  type SourceContent,
  SourceGoneError,
  SourceTooLargeError,
} from './document-origins';
import { isWebUrl } from './web-url';

/**
 * A documentation web site as an origin (`https://docs.example.internal/handbook/`): every page of one site under
 * the start address's path, found from the site's sitemap (declared in robots.txt, else `/sitemap.xml`, sitemap
 * index files included) or, without one, by following links from the start page. Pages are named by their
 * normalised address (no fragment), after redirects within the site.
 *
 * **Unchanged pages are not downloaded.** A page's version records its validators (ETag, Last-Modified), a hash of
 * its bytes and, for an HTML page, the links it holds (as paths under the site). Plan passes the versions the
 * manifest holds ({@link ListOptions.previousVersions}); the listing asks for each page conditionally
 * (If-None-Match, If-Modified-Since), and a 304 lists the page with its old version, unchanged, without a body.
 * The links kept in that version are what a crawl by links follows from an unchanged page, so an unchanged site
 * is crawled from 304s alone. Links live in the version rather than in a store of their own because the manifest
 * is written in the same Commit as the chunks: the links known for a page are always those of the indexed copy,
 * and a page without a manifest entry is simply downloaded again.
 *
 * **What prunes and what does not.** A page that answers 404 or 410, or that the sitemap or the links no longer
 * reach, is not listed: like a deleted file, `--prune` removes it (the origin covers every address under its
 * prefix). A page that fails for a reason a later sync may not meet (a 5xx, a time-out, a dropped connection) is
 * listed with its previous version, so it keeps its chunks and its links are still followed; one never indexed
 * is skipped with the reason. A page that redirects off the site or in a loop, answers 401/403, or is not a
 * document (an image) is skipped with its reason.
 *
 * **Bounds, against a slow or hostile site.** Only http and https, no credentials in addresses, never another
 * scheme, host or port (a redirect to `169.254.169.254` or `localhost` from a public site is refused like any
 * other host), at most {@link MAX_REDIRECTS} redirects, robots.txt honoured for {@link WEB_USER_AGENT} (its
 * Crawl-delay slows the pace, up to {@link MAX_CRAWL_DELAY_SECONDS}), at most `maxPages` pages, at most
 * `maxConcurrent` requests at once and `requestsPerSecond` a second, each request ended after `timeoutMs` (body
 * included), and never more than `maxBytes` + 1 bytes of a response kept in memory.
 *
 * Query strings: a crawl by links does not follow addresses with a query. On documentation sites they are
 * searches, sort orders, tracking parameters or session ids: an unbounded space of duplicates of the same pages.
 * A sitemap's addresses are taken as the site declares them, queries included.
 */

/** The user agent the crawler sends and robots.txt is read for. */
export const WEB_USER_AGENT = 'SlackRagBot';

/** Redirects followed for one request, within the site. */
export const MAX_REDIRECTS = 5;

/** The longest Crawl-delay honoured: a longer one would make a listing outlast the Plan step. */
export const MAX_CRAWL_DELAY_SECONDS = 10;

/** The most characters of links a page's version keeps (see the module comment). */
const MAX_KEPT_LINKS_CHARS = 64_000;

/** Sitemap pages kept beyond the page limit, to report as over it. */
const SITEMAP_PAGES_OVER_LIMIT = 1_000;

const NO_VERSIONS: ReadonlyMap<string, string> = new Map();

/** Sitemaps read for one listing, index files included: bounds a sitemap index pointing at itself or at many. */
const MAX_SITEMAPS = 50;

/** Media types that are documents; only HTML is read for links. */
const DOCUMENT_MEDIA_TYPES = new Set([
  'text/html',
  'application/xhtml+xml',
  'text/markdown',
  'text/x-markdown',
  'text/plain',
  'application/pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
]);
const HTML_MEDIA_TYPES = new Set(['text/html', 'application/xhtml+xml']);

/** Links to these are assets of a page, not documents: never requested. */
const ASSET_EXTENSION =
  /\.(css|js|mjs|map|json|xml|png|jpe?g|gif|svg|webp|avif|ico|bmp|woff2?|ttf|otf|eot|zip|gz|tgz|tar|bz2|xz|7z|mp3|mp4|m4a|webm|ogg|wav|avi|mov|wasm|exe|dmg|iso)$/i;

export interface WebOriginOptions {
  /**
   * Pages listed from one site at most; the rest are reported as skipped.
   * @default 1000
   */
  maxPages?: number;
  /**
   * How long one request may take, headers and body; a page that never finishes fails alone after it.
   * @default 15000
   */
  timeoutMs?: number;
  /**
   * Requests started per second to the site at most (robots.txt's Crawl-delay can only slow it).
   * @default 5
   */
  requestsPerSecond?: number;
  /**
   * Requests to the site at once at most.
   * @default 2
   */
  maxConcurrent?: number;
  /**
   * How long listing one site may take. The Plan function has 290 s for everything; a site that would take longer
   * (too many pages for the pace, a long Crawl-delay) fails the sync with {@link WebListingTooSlowError}, pruning
   * nothing, rather than being cut short and its unlisted pages pruned.
   * @default 240000
   */
  listingBudgetMs?: number;
  /** The fetch to use (tests may count or fail requests). @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** What a page's version records (see the class comment); serialised as `web:` and JSON. */
interface PageVersion {
  /** ETag. */
  e?: string;
  /** Last-Modified. */
  m?: string;
  /** sha256 of the bytes, hex. */
  h?: string;
  /** An HTML page's links under the site, as paths with the site's origin removed. */
  l?: string[];
}

function formatVersion(version: PageVersion): string {
  return `web:${JSON.stringify(version)}`;
}

function parseVersion(version: string | undefined): PageVersion | undefined {
  if (version === undefined || !version.startsWith('web:')) return undefined;
  try {
    const parsed = JSON.parse(version.slice('web:'.length)) as PageVersion;
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A request that did not end in a usable response, with a reason for the report. */
class WebRequestError extends PermanentError {
  override name = 'WebRequestError';

  constructor(
    message: string,
    /** True when a later sync may not meet it (a 5xx, a time-out): the page keeps its chunks. */
    readonly transient: boolean,
    readonly kind: string,
  ) {
    super(message);
  }
}

/** The site answered for robots.txt with an error: nothing is listed (so nothing pruned) until it answers. */
export class WebSiteUnavailableError extends TransientError {
  override name = 'WebSiteUnavailableError';
}

/** Listing a site would outlast its budget (see {@link WebOriginOptions.listingBudgetMs}): nothing is synced. */
export class WebListingTooSlowError extends PermanentError {
  override name = 'WebListingTooSlowError';
}

/** One site: the scheme, host and port, and the path prefix pages must sit under. */
class Site {
  readonly origin: string;
  readonly prefix: string;

  constructor(start: URL) {
    this.origin = start.origin;
    this.prefix = start.pathname.slice(0, start.pathname.lastIndexOf('/') + 1);
  }

  /** The normalised address of `href` (resolved against `base`) when it is a page of this site, else undefined. */
  page(href: string, base?: string): URL | undefined {
    let url: URL;
    try {
      url = new URL(href, base);
    } catch {
      return undefined;
    }
    url.hash = '';
    if (url.username !== '' || url.password !== '') return undefined;
    return this.holds(url) ? url : undefined;
  }

  holds(url: URL): boolean {
    return url.origin === this.origin && url.pathname.startsWith(this.prefix);
  }

  covers(source: string): boolean {
    return source.startsWith(`${this.origin}${this.prefix}`);
  }
}

/** At most `maxConcurrent` requests at once, started at least `intervalMs` apart. */
class Pacer {
  private active = 0;
  private nextStart = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly maxConcurrent: number,
    public intervalMs: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxConcurrent) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active += 1;
    try {
      const now = Date.now();
      const start = Math.max(now, this.nextStart);
      this.nextStart = start + this.intervalMs;
      if (start > now) await new Promise((resolve) => setTimeout(resolve, start - now));
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

interface Fetched {
  /** The address answered, after redirects. */
  url: URL;
  status: number;
  headers: Headers;
  /** Undefined for a 304 and for a body not read. */
  bytes?: Uint8Array;
  /** Set when the body was over maxBytes: the size seen. */
  tooLarge?: number;
}

function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The `href`s of `<a>`, `<area>` and `<base>` tags, in a single pass over the tags (each `<` to the next `>`), so
 * the time is linear in the page whatever it holds. Only for finding pages: the HTML reader parses pages properly.
 */
export function extractLinks(html: string): { links: string[]; base?: string } {
  const links: string[] = [];
  let base: string | undefined;
  let at = html.indexOf('<');
  while (at !== -1) {
    const end = html.indexOf('>', at);
    if (end === -1) break;
    const tag = html.slice(at + 1, end);
    const name = /^(a|area|base)\s/i.exec(tag)?.[1]?.toLowerCase();
    if (name !== undefined) {
      const href = /\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i.exec(tag);
      const value = href?.[1] ?? href?.[2] ?? href?.[3];
      if (value !== undefined) {
        const decoded = value.trim().replaceAll('&amp;', '&');
        if (name === 'base') base ??= decoded;
        else links.push(decoded);
      }
    }
    at = html.indexOf('<', end + 1);
  }
  return { links, ...(base !== undefined ? { base } : {}) };
}

/** The `<loc>`s of a sitemap: pages of a `<urlset>`, or further sitemaps of a `<sitemapindex>`. */
function readSitemap(xml: string): { pages: string[]; sitemaps: string[] } {
  const parsed = parseXml(xml, { ignoreAttributes: true, ignoreNameSpace: true, parseNodeValue: false });
  const locs = (entries: unknown): string[] =>
    (Array.isArray(entries) ? entries : entries === undefined ? [] : [entries])
      .map((entry) => (entry as { loc?: unknown }).loc)
      .filter((loc): loc is string => typeof loc === 'string')
      .map((loc) => loc.trim());
  return { pages: locs(parsed?.urlset?.url), sitemaps: locs(parsed?.sitemapindex?.sitemap) };
}

/** A link a crawl follows: a page of the site, without a query, and not an asset (see the module comment). */
function followable(site: Site, href: string, base: string): URL | undefined {
  const page = site.page(href, base);
  return page === undefined || page.search !== '' || ASSET_EXTENSION.test(page.pathname) ? undefined : page;
}

/**
 * Web sites as origins (see the module comment). One instance serves any number of sites; the pace is kept per
 * site within this instance (a Plan, or one Batch invocation).
 */
export class WebOrigin implements DocumentOrigin {
  private readonly maxPages: number;
  private readonly timeoutMs: number;
  private readonly requestsPerSecond: number;
  private readonly maxConcurrent: number;
  private readonly listingBudgetMs: number;
  private readonly fetch: typeof fetch;
  private readonly pacers = new Map<string, Pacer>();

  constructor(options: WebOriginOptions = {}) {
    this.maxPages = options.maxPages ?? 1_000;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.requestsPerSecond = options.requestsPerSecond ?? 5;
    this.maxConcurrent = options.maxConcurrent ?? 2;
    this.listingBudgetMs = options.listingBudgetMs ?? 240_000;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  handles(specOrSource: string): boolean {
    return isWebUrl(specOrSource);
  }

  async list(spec: string, options: ListOptions = {}): Promise<OriginListing> {
    const started = Date.now();
    const start = startUrlOf(spec);
    const site = new Site(start);
    const previous = options.previousVersions ?? new Map<string, string>();
    const maxBytes = options.maxBytes;

    const robots = await this.robots(site);
    const delay = Math.min(robots.getCrawlDelay(WEB_USER_AGENT) ?? 0, MAX_CRAWL_DELAY_SECONDS);
    this.pacerFor(site).intervalMs = Math.max(1_000 / this.requestsPerSecond, delay * 1_000);
    const allowed = (url: URL) => robots.isAllowed(url.href, WEB_USER_AGENT) !== false;

    const sources: ListedSource[] = [];
    const skipped: SkippedSource[] = [];
    const seen = new Set<string>();
    const listed = new Set<string>();
    const queue: URL[] = [];
    const enqueue = (url: URL) => {
      if (seen.has(url.href)) return;
      seen.add(url.href);
      if (!allowed(url)) {
        skipped.push({
          source: url.href,
          reason: `robots.txt disallows it for ${WEB_USER_AGENT}`,
          kind: 'robots.txt',
        });
        return;
      }
      queue.push(url);
    };

    const sitemapPages = await this.sitemapPages(site, robots.getSitemaps(), maxBytes);
    const followLinks = sitemapPages === undefined;
    if (followLinks) enqueue(start);
    else for (const page of sitemapPages) enqueue(page);

    const visit = async (url: URL): Promise<void> => {
      const outcome = await this.listPage(site, url, previous, maxBytes);
      if ('skip' in outcome) {
        skipped.push(outcome.skip);
        return;
      }
      if ('gone' in outcome) return;
      const { entry, links } = outcome;
      // A page reached twice (through a redirect) is listed once.
      if (!listed.has(entry.source)) {
        listed.add(entry.source);
        seen.add(entry.source);
        sources.push(entry);
      }
      if (!followLinks) return;
      for (const link of links) {
        const page = followable(site, link, entry.source);
        if (page !== undefined) enqueue(page);
      }
    };

    // Breadth first, `maxConcurrent` pages at a time: the pacer spaces the requests.
    let visited = 0;
    while (queue.length > 0 && visited < this.maxPages) {
      const wave = queue.splice(0, Math.min(this.maxConcurrent, this.maxPages - visited));
      visited += wave.length;
      await Promise.all(wave.map(visit));
      if (queue.length > 0 && Date.now() - started > this.listingBudgetMs) {
        throw new WebListingTooSlowError(
          `${spec}: listing took over ${Math.round(this.listingBudgetMs / 1000)} s after ${visited} pages ` +
            `(${queue.length} more waiting); nothing was synced. Lower INGEST_WEB_MAX_PAGES, raise ` +
            'INGEST_WEB_REQUESTS_PER_SECOND (robots.txt Crawl-delay permitting), or name a narrower path',
        );
      }
    }
    for (const url of queue) {
      skipped.push({
        source: url.href,
        reason: `over the page limit of ${this.maxPages} pages a site (INGEST_WEB_MAX_PAGES)`,
        kind: 'page limit',
      });
    }
    return {
      origin: spec,
      shape: 'prefix',
      sources: sources.sort((a, b) => a.source.localeCompare(b.source)),
      skipped: skipped.sort((a, b) => a.source.localeCompare(b.source)),
      covers: (source) => site.covers(source),
    };
  }

  async read(source: string, options: ReadOptions = {}): Promise<SourceContent> {
    const start = startUrlOf(source);
    const site = new Site(new URL(`${start.origin}/`));
    let fetched: Fetched;
    try {
      fetched = await this.request(site, start, NO_VERSIONS, options.maxBytes);
    } catch (error) {
      if (error instanceof WebRequestError) throw new PermanentError(`${source}: ${error.message}`);
      throw error;
    }
    if (fetched.status === 404 || fetched.status === 410) {
      throw new SourceGoneError(`${source}: the page is gone (HTTP ${fetched.status})`);
    }
    if (fetched.tooLarge !== undefined && options.maxBytes !== undefined) {
      throw new SourceTooLargeError(source, fetched.tooLarge, options.maxBytes, false);
    }
    if (fetched.status !== 200 || fetched.bytes === undefined) {
      throw new PermanentError(`${source}: the site answered HTTP ${fetched.status}`);
    }
    const contentType = fetched.headers.get('content-type');
    return {
      bytes: fetched.bytes,
      ...(contentType !== null ? { contentType } : {}),
      url: fetched.url.href,
    };
  }

  private pacerFor(site: Site): Pacer {
    let pacer = this.pacers.get(site.origin);
    if (pacer === undefined) {
      pacer = new Pacer(this.maxConcurrent, 1_000 / this.requestsPerSecond);
      this.pacers.set(site.origin, pacer);
    }
    return pacer;
  }

  /** robots.txt: a missing one (4xx) allows everything; an error answer stops the listing (nothing pruned). */
  private async robots(site: Site): Promise<ReturnType<typeof robotsParser>> {
    const url = new URL('/robots.txt', site.origin);
    let fetched: Fetched;
    try {
      fetched = await this.request(site, url, NO_VERSIONS, 512 * 1024);
    } catch (error) {
      if (error instanceof WebRequestError && error.kind === 'network') {
        throw new OriginNotFoundError(`${site.origin} cannot be reached: ${error.message}`);
      }
      throw new WebSiteUnavailableError(
        `${url.href}: ${error instanceof Error ? error.message : String(error)}; nothing was listed`,
      );
    }
    if (fetched.status >= 500 || fetched.tooLarge !== undefined) {
      throw new WebSiteUnavailableError(`${url.href} answered HTTP ${fetched.status}; nothing was listed`);
    }
    const text =
      fetched.status === 200 && fetched.bytes !== undefined ? new TextDecoder().decode(fetched.bytes) : '';
    return robotsParser(url.href, text);
  }

  /** The pages the site's sitemaps list under its prefix, or undefined when it has no sitemap. */
  private async sitemapPages(
    site: Site,
    declared: readonly string[],
    maxBytes: number | undefined,
  ): Promise<URL[] | undefined> {
    const toRead = declared.length > 0 ? [...declared] : [new URL('/sitemap.xml', site.origin).href];
    const read = new Set<string>();
    const pages: URL[] = [];
    let found = false;
    while (toRead.length > 0 && read.size < MAX_SITEMAPS) {
      const href = toRead.shift() as string;
      let url: URL;
      try {
        url = new URL(href);
      } catch {
        continue;
      }
      // A sitemap on another host is not this site's to declare.
      if (url.origin !== site.origin || read.has(url.href)) continue;
      read.add(url.href);
      // A sitemap that errors must not turn the listing into a crawl by links, which may reach fewer pages.
      const fetched = await this.request(site, url, NO_VERSIONS, maxBytes).catch((error: unknown) => {
        throw new WebSiteUnavailableError(
          `${url.href}: ${error instanceof Error ? error.message : String(error)}; nothing was listed`,
        );
      });
      if (fetched.status >= 500) {
        throw new WebSiteUnavailableError(`${url.href} answered HTTP ${fetched.status}; nothing was listed`);
      }
      if (fetched.tooLarge !== undefined) {
        throw new PermanentError(
          `${url.href}: the sitemap is over the ${maxBytes}-byte limit (INGEST_MAX_FILE_BYTES); nothing was listed`,
        );
      }
      if (fetched.status !== 200 || fetched.bytes === undefined) continue;
      let sitemap: ReturnType<typeof readSitemap>;
      try {
        sitemap = readSitemap(new TextDecoder().decode(fetched.bytes));
      } catch {
        continue;
      }
      found = true;
      toRead.push(...sitemap.sitemaps);
      for (const loc of sitemap.pages) {
        const page = site.page(loc);
        if (page !== undefined) pages.push(page);
      }
      // Pages past the limit are only reported: a sitemap of millions costs no more than this in memory.
      if (pages.length > this.maxPages + SITEMAP_PAGES_OVER_LIMIT) {
        pages.length = this.maxPages + SITEMAP_PAGES_OVER_LIMIT;
        break;
      }
    }
    return found ? pages : undefined;
  }

  private async listPage(
    site: Site,
    url: URL,
    previous: ReadonlyMap<string, string>,
    maxBytes: number | undefined,
  ): Promise<{ entry: ListedSource; links: string[] } | { skip: SkippedSource } | { gone: true }> {
    let fetched: Fetched;
    try {
      fetched = await this.request(site, url, previous, maxBytes);
    } catch (error) {
      if (!(error instanceof WebRequestError)) throw error;
      const known = previous.get(url.href);
      if (error.transient && known !== undefined) return this.unchanged(site, url.href, known);
      return { skip: { source: url.href, reason: error.message, kind: error.kind } };
    }
    const source = fetched.url.href;
    const { status, headers } = fetched;
    const known = previous.get(source);
    if (status === 304 && known !== undefined) return this.unchanged(site, source, known);
    if (status === 404 || status === 410) return { gone: true };
    if (status >= 500 || status === 429 || status === 408) {
      if (known !== undefined) return this.unchanged(site, source, known);
      return {
        skip: {
          source,
          reason: `the site answered HTTP ${status}; the next sync tries again`,
          kind: `HTTP ${status}`,
        },
      };
    }
    if (status !== 200) {
      return { skip: { source, reason: `the site answered HTTP ${status}`, kind: `HTTP ${status}` } };
    }
    const mediaType = mediaTypeOf(headers.get('content-type'));
    if (!DOCUMENT_MEDIA_TYPES.has(mediaType)) {
      return {
        skip: {
          source,
          reason: `not a document (${mediaType || 'no content type'}): only HTML, Markdown, text, PDF and Word pages are indexed`,
          kind: mediaType || 'no content type',
        },
      };
    }
    if (fetched.tooLarge !== undefined) {
      // One version however far the body was read: Plan rejects it by its size, the same way at every sync.
      return { entry: { source, version: 'too-large', size: fetched.tooLarge }, links: [] };
    }
    const bytes = fetched.bytes ?? new Uint8Array();
    let links: string[] = [];
    if (HTML_MEDIA_TYPES.has(mediaType)) {
      const found = extractLinks(new TextDecoder().decode(bytes));
      const base = found.base !== undefined ? new URL(found.base, source).href : source;
      links = [
        ...new Set(
          found.links.flatMap((link) => {
            const page = followable(site, link, base);
            return page === undefined ? [] : [page.href.slice(site.origin.length)];
          }),
        ),
      ];
    }
    const etag = headers.get('etag');
    const modified = headers.get('last-modified');
    if (JSON.stringify(links).length > MAX_KEPT_LINKS_CHARS) {
      // Too many links to keep in a manifest item (DynamoDB's are at most 400 KB): without validators the page is
      // downloaded at every sync to find them, and an unchanged one is still known by its hash, and not re-embedded.
      return {
        entry: { source, version: formatVersion({ h: sha256(bytes) }), size: bytes.byteLength },
        links,
      };
    }
    const version: PageVersion = {
      ...(etag !== null ? { e: etag } : {}),
      ...(modified !== null ? { m: modified } : {}),
      h: sha256(bytes),
      ...(links.length > 0 ? { l: links } : {}),
    };
    return { entry: { source, version: formatVersion(version), size: bytes.byteLength }, links };
  }

  /** A page listed with the version it was indexed at, and the links that version recorded. */
  private unchanged(site: Site, source: string, version: string): { entry: ListedSource; links: string[] } {
    const links = (parseVersion(version)?.l ?? []).map((path) => `${site.origin}${path}`);
    return { entry: { source, version, size: 0 }, links };
  }

  /**
   * One GET, conditional when `previous` knows the address, following redirects within the site. The body is
   * read only for a 200, and at most `maxBytes` + 1 bytes of it.
   *
   * @throws {WebRequestError} on a time-out, a network error, a redirect off the site, or too many redirects.
   */
  private async request(
    site: Site,
    start: URL,
    previous: ReadonlyMap<string, string>,
    maxBytes: number | undefined,
  ): Promise<Fetched> {
    return this.pacerFor(site).run(async () => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeoutMs);
      try {
        let url = start;
        for (let redirects = 0; ; redirects++) {
          const known = parseVersion(previous.get(url.href));
          const response = await this.fetch(url, {
            redirect: 'manual',
            signal: controller.signal,
            headers: {
              'user-agent': WEB_USER_AGENT,
              ...(known?.e !== undefined ? { 'if-none-match': known.e } : {}),
              ...(known?.m !== undefined ? { 'if-modified-since': known.m } : {}),
            },
          });
          const location = response.headers.get('location');
          if (
            response.status >= 300 &&
            response.status < 400 &&
            response.status !== 304 &&
            location !== null
          ) {
            await response.body?.cancel();
            if (redirects >= MAX_REDIRECTS) {
              throw new WebRequestError(
                `more than ${MAX_REDIRECTS} redirects (a redirect loop?), last to ${location}`,
                false,
                'redirect loop',
              );
            }
            const next = site.page(location, url.href);
            if (next === undefined) {
              throw new WebRequestError(
                `it redirects off the site (to ${location}): only ${site.origin}${site.prefix} is read`,
                false,
                'redirect off the site',
              );
            }
            url = next;
            continue;
          }
          if (response.status !== 200) {
            await response.body?.cancel();
            return { url, status: response.status, headers: response.headers };
          }
          const declared = Number(response.headers.get('content-length') ?? Number.NaN);
          if (maxBytes !== undefined && Number.isFinite(declared) && declared > maxBytes) {
            await response.body?.cancel();
            return { url, status: 200, headers: response.headers, tooLarge: declared };
          }
          const body = await readAtMost(response, maxBytes);
          return { url, status: 200, headers: response.headers, ...body };
        }
      } catch (error) {
        if (error instanceof WebRequestError) throw error;
        if (controller.signal.aborted) {
          throw new WebRequestError(
            `no complete answer within ${this.timeoutMs} ms; the next sync tries again`,
            true,
            'timed out',
          );
        }
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new WebRequestError(
          `cannot be fetched (${cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))})`,
          true,
          'network',
        );
      } finally {
        clearTimeout(timer);
      }
    });
  }
}

/** Reads a body, cancelling it as soon as it is over `maxBytes`. */
async function readAtMost(
  response: Response,
  maxBytes: number | undefined,
): Promise<{ bytes: Uint8Array } | { tooLarge: number }> {
  const reader = response.body?.getReader();
  if (reader === undefined) return { bytes: new Uint8Array() };
  const parts: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (maxBytes !== undefined && length > maxBytes) {
      await reader.cancel();
      return { tooLarge: length };
    }
    parts.push(value);
  }
  return { bytes: Buffer.concat(parts, length) };
}

/** The address a person or a listing named, checked: http(s) only, no credentials, no fragment. */
function startUrlOf(spec: string): URL {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new PermanentError(`not a web address: ${spec}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PermanentError(`only http:// and https:// sites can be read: ${spec}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new PermanentError(
      `a web origin's address must not hold credentials (${url.protocol}//${url.host}${url.pathname}): only public or network-trusted sites are read`,
    );
  }
  url.hash = '';
  return url;
}
