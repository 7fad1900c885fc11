import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What keeps the web pages a person has open in their browser away from the local servers `npm run dev` starts on
 * 127.0.0.1 (issue 18, point 17). Loopback is not private from the browser: any page can send requests to
 * http://127.0.0.1:PORT, and a page whose own name is rebound to 127.0.0.1 (DNS rebinding) can read the answers.
 *
 * - Host: only `127.0.0.1:PORT` or `localhost:PORT` (the server's own port). A rebound page's requests carry its own
 *   name, and are refused before anything is read or done.
 * - From a browser page: a request whose `Origin` is another origin, or whose `Sec-Fetch-Site` says it comes from
 *   another site (an image or form a page embeds sends no Origin on GET, but does send that), is refused.
 * - A state-changing request to a page's API: `Content-Type: application/json` (a cross-origin JSON request needs a
 *   CORS preflight, which none of these servers grants) and an `Origin` that is the server's own.
 *
 * Programs on this machine (the bot's Slack client, `npm run ask`, curl) send no Origin and no Sec-Fetch-*; they pass
 * the first two checks as they are.
 */

/** Why a request was refused, or undefined when it may go on. */
export type Refusal = { status: number; reason: string } | undefined;

/** The `Host` names a loopback server answers to on `port`. */
export function isLocalHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const lower = host.toLowerCase();
  return lower === `127.0.0.1:${port}` || lower === `localhost:${port}`;
}

function portOf(req: IncomingMessage): number {
  return req.socket.localPort ?? -1;
}

/**
 * Refuses a request not addressed to this loopback server by its own name (DNS rebinding) or sent by another site's
 * page. `ownPage`: the server serves a page of its own, whose same-origin requests are allowed; otherwise any request
 * carrying an Origin comes from a page and is refused.
 */
export function foreignRequest(req: IncomingMessage, options: { ownPage?: boolean } = {}): Refusal {
  const host = req.headers.host;
  if (!isLocalHost(host, portOf(req))) {
    return {
      status: 421,
      reason: `this local server answers to 127.0.0.1 or localhost only, not ${host ?? '(none)'}`,
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !(options.ownPage === true && origin === `http://${host}`)) {
    return { status: 403, reason: `requests from other origins (${origin}) are refused` };
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'none' && !(options.ownPage === true && site === 'same-origin')) {
    return { status: 403, reason: `requests from other sites (Sec-Fetch-Site: ${site}) are refused` };
  }
  return undefined;
}

/** A state-changing request a page of this server sends: JSON, from the page's own origin. */
export function foreignPageWrite(req: IncomingMessage): Refusal {
  const refused = foreignRequest(req, { ownPage: true });
  if (refused !== undefined) return refused;
  if (req.headers.origin === undefined) return { status: 403, reason: 'the page’s own Origin is required' };
  return nonJson(req);
}

/** Refuses a body that is not `application/json` (a form or text/plain post needs no preflight). */
export function nonJson(req: IncomingMessage): Refusal {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json'
    ? undefined
    : { status: 415, reason: 'only application/json is accepted' };
}

/** Answers the refusal (as plain text) and says whether there was one: `if (refuse(res, check(req))) return;`. */
export function refuse(res: ServerResponse, refusal: Refusal): boolean {
  if (refusal === undefined) return false;
  res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(refusal.reason);
  return true;
}

/** The one call fake-slack.ts makes: its Web API is for programs on this machine, never for a browser page. */
export function refuseForeignRequest(req: IncomingMessage, res: ServerResponse): boolean {
  return refuse(res, foreignRequest(req));
}
