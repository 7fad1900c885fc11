import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A documentation web site on loopback, for the web origin's tests: pages with ETag and Last-Modified that answer
 * conditional requests with 304, a robots.txt, an optional sitemap, and the hostile pages a crawler meets (a
 * redirect loop, a redirect off the site, a page of many megabytes, a page that never finishes). Every request is
 * recorded, so a test can count what a sync downloaded.
 */

export type SiteRoute =
  | { kind: 'page'; body: string; contentType?: string; lastModified?: string }
  | { kind: 'redirect'; to: string; status?: number }
  | { kind: 'status'; status: number }
  /** `bytes` of `x`, streamed, with or without a Content-Length. */
  | { kind: 'huge'; bytes: number; declareLength: boolean; contentType?: string }
  /** Headers and a first line, then nothing, ever. */
  | { kind: 'hang'; contentType?: string };

export interface SiteRequest {
  path: string;
  status: number;
  /** The request carried If-None-Match or If-Modified-Since. */
  conditional: boolean;
  /** Bytes of body sent (0 for a 304). */
  bodyBytes: number;
  at: number;
}

export interface DocSite {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  origin: string;
  routes: Map<string, SiteRoute>;
  requests: SiteRequest[];
  /** robots.txt's text; undefined answers 404. */
  robots: string | undefined;
  /** Paths the sitemap lists; undefined answers 404 for /sitemap.xml. */
  sitemap: string[] | undefined;
  close(): Promise<void>;
}

function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

const DEFAULT_LAST_MODIFIED = 'Sat, 05 Dec 2026 10:00:00 GMT';

/** Starts a site on a free loopback port. */
export async function startDocSite(
  init: { routes?: Record<string, SiteRoute>; robots?: string; sitemap?: string[] } = {},
): Promise<DocSite> {
  const site: DocSite = {
    origin: '',
    routes: new Map(Object.entries(init.routes ?? {})),
    requests: [],
    robots: init.robots,
    sitemap: init.sitemap,
    close: async () => undefined,
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://site').pathname;
    const conditional =
      request.headers['if-none-match'] !== undefined || request.headers['if-modified-since'] !== undefined;
    const record = (status: number, bodyBytes: number) =>
      site.requests.push({ path, status, conditional, bodyBytes, at: Date.now() });
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      record(status, Buffer.byteLength(body));
      response.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
      response.end(body);
    };

    if (path === '/robots.txt') {
      if (site.robots === undefined) send(404, 'not found');
      else send(200, site.robots, { 'content-type': 'text/plain' });
      return;
    }
    if (path === '/sitemap.xml') {
      if (site.sitemap === undefined) send(404, 'not found');
      else send(200, sitemapXml(site.origin, site.sitemap), { 'content-type': 'application/xml' });
      return;
    }
    const route = site.routes.get(path);
    if (route === undefined) {
      send(404, 'not found', { 'content-type': 'text/plain' });
      return;
    }
    switch (route.kind) {
      case 'page': {
        const etag = etagOf(route.body);
        const lastModified = route.lastModified ?? DEFAULT_LAST_MODIFIED;
        const validators = { etag, 'last-modified': lastModified };
        if (request.headers['if-none-match'] === etag) {
          record(304, 0);
          response.writeHead(304, validators);
          response.end();
          return;
        }
        send(200, route.body, {
          'content-type': route.contentType ?? 'text/html; charset=utf-8',
          ...validators,
        });
        return;
      }
      case 'redirect':
        send(route.status ?? 302, '', { location: route.to });
        return;
      case 'status':
        send(route.status, `HTTP ${route.status}`, { 'content-type': 'text/plain' });
        return;
      case 'huge': {
        response.writeHead(200, {
          'content-type': route.contentType ?? 'text/html',
          ...(route.declareLength ? { 'content-length': String(route.bytes) } : {}),
        });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let sent = 0;
        const pump = () => {
          while (sent < route.bytes) {
            const part = chunk.subarray(0, Math.min(chunk.length, route.bytes - sent));
            sent += part.length;
            if (!response.write(part)) {
              response.once('drain', pump);
              return;
            }
          }
          response.end();
        };
        response.on('close', () => record(200, sent));
        pump();
        return;
      }
      case 'hang':
        record(200, 0);
        response.writeHead(200, { 'content-type': route.contentType ?? 'text/html' });
        response.write('<html><body><p>This page never ends');
        return;
    }
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  site.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  site.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return site;
}

function sitemapXml(origin: string, paths: readonly string[]): string {
  const urls = paths.map((path) => `  <url><loc>${origin}${path}</loc><lastmod>2026-12-05</lastmod></url>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${urls.join('\n')}\n</urlset>\n`;
}

/** An HTML page with a title, a heading, a paragraph and links. */
export function htmlPage(title: string, text: string, links: readonly string[] = []): SiteRoute {
  const anchors = links.map((href) => `<li><a href="${href}">${href}</a></li>`).join('');
  return {
    kind: 'page',
    body: `<!doctype html><html><head><title>${title}</title><link rel="stylesheet" href="/docs/site.css"></head><body><nav><ul>${anchors}</ul></nav><main><h1 id="top">${title}</h1><p>${text}</p></main></body></html>`,
  };
}
