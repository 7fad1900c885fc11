import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * A loopback stand-in for Slack's Socket Mode: the Web API method `apps.connections.open` (an app-level token in,
 * a one-time WebSocket URL out) and the WebSocket server behind that URL, which says `hello`, sends envelopes
 * (`events_api`, `interactive`, `slash_commands`) as Slack does, records the app's acknowledgements and can ask the
 * app to reconnect (`disconnect`). The real `SocketModeClient` of `@slack/socket-mode` connects to it unchanged,
 * given its `apiUrl` as `slackApiUrl`. Only what a Socket Mode app meets is implemented.
 */

/** Options of {@link startFakeSocketMode}. */
export interface FakeSocketModeOptions {
  /** The app-level token `apps.connections.open` accepts. @default a fresh `xapp-1-…` token */
  appToken?: string;
  /** The app the connection belongs to, as `hello` reports it. @default 'A0LOCAL001' */
  appId?: string;
  /**
   * Where every other Web API method goes (a fake Slack's `apiUrl`), so that one URL serves the whole Slack API as
   * Slack's does (`SLACK_API_URL` of `npm run dev -- --socket`). Unset, other methods answer `unknown_method`.
   */
  webApiUrl?: string;
}

/** An envelope as Slack sends it over the socket. */
export interface SocketModeEnvelope {
  type: 'events_api' | 'interactive' | 'slash_commands';
  envelope_id: string;
  payload: unknown;
  accepts_response_payload: boolean;
  /** Events API envelopes only: 0 for a first delivery, then 1, 2, 3 for Slack's retries. */
  retry_attempt?: number;
  retry_reason?: string;
}

/** An acknowledgement the app sent for an envelope. */
export interface SocketModeAck {
  envelope_id: string;
  /** The response payload (a slash command's reply, a view submission's `response_action`), when any. */
  payload?: Record<string, unknown>;
  /** When it arrived, in epoch milliseconds. */
  at: number;
}

/** A running stand-in. */
export interface FakeSocketMode {
  /** The Web API base URL to give the client as `slackApiUrl`: `http://127.0.0.1:PORT/api/`. */
  readonly apiUrl: string;
  /** The app-level token it accepts. */
  readonly appToken: string;
  /** How many times `apps.connections.open` handed out a URL. */
  readonly connectionsOpened: number;
  /** How many WebSocket connections were greeted with `hello`, over the stand-in's life. */
  readonly connectionsGreeted: number;
  /** Every acknowledgement received, in order. */
  readonly acks: readonly SocketModeAck[];
  /** Resolves once `count` connections have been greeted (the first one by default). */
  waitForConnection(count?: number, timeoutMs?: number): Promise<void>;
  /** Sends an Events API envelope on the open connection (held until one is open, as Slack holds it) and returns its envelope id. */
  sendEvent(payload: unknown, options?: { retryAttempt?: number; retryReason?: string }): string;
  /** Sends an envelope of another type (an `interactive` payload, a slash command's fields). */
  sendEnvelope(type: SocketModeEnvelope['type'], payload: unknown, acceptsResponsePayload?: boolean): string;
  /** Resolves with the acknowledgement of `envelopeId`; rejects after `timeoutMs` (3,000, Slack's budget). */
  waitForAck(envelopeId: string, timeoutMs?: number): Promise<SocketModeAck>;
  /** Asks the app to reconnect, as Slack does before recycling a connection. */
  requestDisconnect(reason?: 'refresh_requested' | 'warning' | 'link_disabled'): void;
  /** Makes the next `apps.connections.open` answer `{ ok: false, error }`. */
  failNextOpen(error: string): void;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

/** Starts the stand-in on 127.0.0.1 (one port for the HTTP method and the WebSocket). */
export async function startFakeSocketMode(options: FakeSocketModeOptions = {}): Promise<FakeSocketMode> {
  const appId = options.appId ?? 'A0LOCAL001';
  const appToken = options.appToken ?? `xapp-1-${appId}-${Date.now()}-${randomBytes(32).toString('hex')}`;
  const tickets = new Set<string>();
  const acks: SocketModeAck[] = [];
  const ackWaiters = new Set<() => void>();
  const connectionWaiters = new Set<() => void>();
  let current: WebSocket | undefined;
  let connectionsOpened = 0;
  let connectionsGreeted = 0;
  let nextOpenError: string | undefined;

  const notify = (waiters: Set<() => void>) => {
    for (const waiter of [...waiters]) waiter();
  };

  const server: Server = createServer(async (req, res) => {
    const answer = (body: Record<string, unknown>) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', `http://${HOST}`).pathname;
    if (
      req.method === 'POST' &&
      path.startsWith('/api/') &&
      path !== '/api/apps.connections.open' &&
      options.webApiUrl
    ) {
      const forwarded = await fetch(`${options.webApiUrl}${path.slice('/api/'.length)}`, {
        method: 'POST',
        headers: {
          'Content-Type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded',
          ...(req.headers.authorization ? { Authorization: req.headers.authorization } : {}),
        },
        body,
      });
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      const retryAfter = forwarded.headers.get('retry-after');
      if (retryAfter !== null) headers['Retry-After'] = retryAfter;
      res.writeHead(forwarded.status, headers).end(await forwarded.text());
      return;
    }
    if (req.method !== 'POST' || path !== '/api/apps.connections.open') {
      answer({ ok: false, error: 'unknown_method' });
      return;
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    // Slack's answers: no token, a token of another kind (a bot or user token), or an app token it does not know.
    if (token === undefined) return answer({ ok: false, error: 'not_authed' });
    if (!token.startsWith('xapp-')) return answer({ ok: false, error: 'not_allowed_token_type' });
    if (token !== appToken) return answer({ ok: false, error: 'invalid_auth' });
    if (nextOpenError !== undefined) {
      const error = nextOpenError;
      nextOpenError = undefined;
      return answer({ ok: false, error });
    }
    const ticket = randomUUID();
    tickets.add(ticket);
    connectionsOpened += 1;
    const { port } = server.address() as AddressInfo;
    answer({ ok: true, url: `ws://${HOST}:${port}/link/?ticket=${ticket}&app_id=${appId}` });
  });

  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    const ticket = url.searchParams.get('ticket') ?? '';
    // A URL from apps.connections.open is good for one connection.
    if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
      current = ws;
      ws.on('message', (data) => {
        let message: { envelope_id?: unknown; payload?: unknown };
        try {
          message = JSON.parse(String(data)) as typeof message;
        } catch {
          return;
        }
        if (typeof message.envelope_id !== 'string') return;
        const payload = message.payload as Record<string, unknown> | undefined;
        acks.push({
          envelope_id: message.envelope_id,
          payload: payload !== undefined && Object.keys(payload).length > 0 ? payload : undefined,
          at: Date.now(),
        });
        notify(ackWaiters);
      });
      ws.on('close', () => {
        if (current === ws) current = undefined;
      });
      connectionsGreeted += 1;
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: 1,
          debug_info: { host: 'applink-local', build_number: 1, approximate_connection_time: 18_060 },
          connection_info: { app_id: appId },
        }),
      );
      for (const frame of held.splice(0)) ws.send(frame);
      notify(connectionWaiters);
    });
  });

  await new Promise<void>((done) => server.listen(0, HOST, done));
  const { port } = server.address() as AddressInfo;

  // Slack holds what it has to deliver while the app has no connection open (between a dropped connection and
  // the client's reconnection, which a busy client's missed ping causes) and delivers it on the next one.
  const held: string[] = [];
  const send = (envelope: SocketModeEnvelope): string => {
    const frame = JSON.stringify(envelope);
    if (current === undefined || current.readyState !== WebSocket.OPEN) held.push(frame);
    else current.send(frame);
    return envelope.envelope_id;
  };

  return {
    apiUrl: `http://${HOST}:${port}/api/`,
    appToken,
    get connectionsOpened() {
      return connectionsOpened;
    },
    get connectionsGreeted() {
      return connectionsGreeted;
    },
    acks,
    waitForConnection(count = 1, timeoutMs = 10_000) {
      return until(
        () => connectionsGreeted >= count,
        connectionWaiters,
        timeoutMs,
        () => {
          return `${connectionsGreeted} of ${count} Socket Mode connection(s) within ${timeoutMs} ms`;
        },
      );
    },
    sendEvent(payload, eventOptions = {}) {
      return send({
        type: 'events_api',
        envelope_id: randomUUID(),
        payload,
        accepts_response_payload: false,
        retry_attempt: eventOptions.retryAttempt ?? 0,
        retry_reason: eventOptions.retryReason ?? (eventOptions.retryAttempt ? 'timeout' : ''),
      });
    },
    sendEnvelope(type, payload, acceptsResponsePayload = type !== 'events_api') {
      return send({
        type,
        envelope_id: randomUUID(),
        payload,
        accepts_response_payload: acceptsResponsePayload,
      });
    },
    async waitForAck(envelopeId, timeoutMs = 3_000) {
      const found = () => acks.find((ack) => ack.envelope_id === envelopeId);
      await until(
        () => found() !== undefined,
        ackWaiters,
        timeoutMs,
        () => {
          return `no acknowledgement of envelope ${envelopeId} within ${timeoutMs} ms`;
        },
      );
      return found() as SocketModeAck;
    },
    requestDisconnect(reason = 'refresh_requested') {
      current?.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-local' } }));
    },
    failNextOpen(error) {
      nextOpenError = error;
    },
    async close() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      });
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function until(
  condition: () => boolean,
  waiters: Set<() => void>,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!condition()) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(describe()));
    }, timeoutMs);
    waiters.add(check);
  });
}
