import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Lambda's Runtime API as its extensions see it (Lambda developer guide, "Lambda Extensions API", API version
 * 2020-01-01): `Register` and `Next`, on loopback, for a harness that runs a function's process the way Lambda does
 * and plays the runtime's side itself (it sends the invocations; the process answers them). What it checks, as
 * Lambda does:
 * - `Register` only during the init (before `initDone`), with a `Lambda-Extension-Name`, for `INVOKE` and
 *   `SHUTDOWN` only, at most 10 extensions; and, the extensions here being internal ones (registered from inside the
 *   function's process, not launched from /opt/extensions), never for `SHUTDOWN`. 400 or 403 otherwise.
 * - `Next` only with the `Lambda-Extension-Identifier` that `Register` returned (403 otherwise); it is held open
 *   until there is an event.
 * - The init ends when the runtime is done (`initDone`) and every extension has called `Next`; an invocation's
 *   Invoke phase ends when every extension registered for `INVOKE` has called `Next` again after its event, however
 *   long after the response, and no later than the invocation's deadline: past it, Lambda times the invocation out.
 * What it does not do: the runtime's own endpoints (`/2018-06-01/runtime/...`), the Telemetry and Logs APIs,
 * `SHUTDOWN` events, and Lambda's error bodies (the status codes are the API reference's, the messages are its own).
 */
export interface LambdaRuntimeApi {
  /** `host:port`, for the process's `AWS_LAMBDA_RUNTIME_API`. */
  readonly address: string;
  /** The runtime's init is over: resolves once every extension has called `Next`; later registrations get 403. */
  initDone(): Promise<void>;
  /**
   * Sends an `INVOKE` event to the extensions. `ended` resolves when each has called `Next` again (the Invoke phase's
   * end, when Lambda freezes the environment), and rejects at `deadlineMs` if one has not.
   */
  invoke(requestId: string, deadlineMs: number): { ended: Promise<void> };
  /** The extensions registered, by name. */
  readonly extensions: readonly string[];
  close(): Promise<void>;
}

const MAX_EXTENSIONS = 10;
const EVENTS = new Set(['INVOKE', 'SHUTDOWN']);

interface Extension {
  id: string;
  name: string;
  invoke: boolean;
  /** Its `Next` request, held until there is an event. */
  waiting?: ServerResponse;
  /** Events not yet taken. */
  queued: string[];
  /** Called when it next calls `Next`. */
  onNext?: () => void;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * @param options.registerDelayMs answers each `Register` this long after it arrives (a test's slow Runtime API, to see
 *   whether an init waits for its registration).
 */
export async function startLambdaRuntimeApi(
  options: { functionName?: string; registerDelayMs?: number } = {},
): Promise<LambdaRuntimeApi> {
  const extensions = new Map<string, Extension>();
  let initOver = false;

  const deliver = (extension: Extension) => {
    const res = extension.waiting;
    const event = extension.queued.shift();
    if (res === undefined || event === undefined) return;
    extension.waiting = undefined;
    send(res, 200, JSON.parse(event), { 'Lambda-Extension-Event-Identifier': randomUUID() });
  };

  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/2020-01-01/extension/register') {
        const name = req.headers['lambda-extension-name'];
        const text = await readBody(req);
        if (options.registerDelayMs !== undefined)
          await new Promise((resolve) => setTimeout(resolve, options.registerDelayMs));
        if (initOver)
          return send(res, 403, {
            errorType: 'Extension.InitOver',
            errorMessage: 'registration after the init',
          });
        if (typeof name !== 'string' || name === '')
          return send(res, 400, {
            errorType: 'InvalidRequest',
            errorMessage: 'Lambda-Extension-Name is required',
          });
        if (extensions.size >= MAX_EXTENSIONS)
          return send(res, 400, { errorType: 'TooManyExtensions', errorMessage: 'at most 10 extensions' });
        let events: unknown;
        try {
          events = text === '' ? [] : (JSON.parse(text) as { events?: unknown }).events;
        } catch {
          return send(res, 400, { errorType: 'InvalidRequest', errorMessage: 'the body is not JSON' });
        }
        if (
          events !== undefined &&
          (!Array.isArray(events) || events.some((e) => typeof e !== 'string' || !EVENTS.has(e)))
        )
          return send(res, 400, { errorType: 'InvalidEventType', errorMessage: 'events: INVOKE, SHUTDOWN' });
        const list = (events ?? []) as string[];
        if (list.includes('SHUTDOWN'))
          return send(res, 400, {
            errorType: 'ShutdownEventNotSupportedForInternalExtension',
            errorMessage: 'an internal extension cannot register for SHUTDOWN',
          });
        const id = randomUUID();
        extensions.set(id, { id, name, invoke: list.includes('INVOKE'), queued: [] });
        return send(
          res,
          200,
          {
            functionName: options.functionName ?? 'local-function',
            functionVersion: '$LATEST',
            handler: 'index.handler',
          },
          { 'Lambda-Extension-Identifier': id },
        );
      }
      if (req.method === 'GET' && path === '/2020-01-01/extension/event/next') {
        const id = req.headers['lambda-extension-identifier'];
        const extension = typeof id === 'string' ? extensions.get(id) : undefined;
        if (extension === undefined)
          return send(res, 403, {
            errorType: 'Extension.UnknownExtensionIdentifier',
            errorMessage: 'unknown id',
          });
        if (extension.waiting !== undefined)
          return send(res, 400, { errorType: 'InvalidRequest', errorMessage: 'Next is already waiting' });
        extension.waiting = res;
        // A Next that picks up an event queued while the extension was busy is not the end of its work on it.
        if (extension.queued.length > 0) return deliver(extension);
        const onNext = extension.onNext;
        extension.onNext = undefined;
        onNext?.();
        return;
      }
      send(res, 404, { errorType: 'NotFound', errorMessage: `${req.method} ${path}` });
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { errorType: 'Container', errorMessage: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  /** Resolves once `extension` has called `Next` (at once if it is waiting there). */
  const untilNext = (extension: Extension): Promise<void> =>
    extension.waiting !== undefined && extension.queued.length === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          extension.onNext = resolve;
        });

  return {
    address: `127.0.0.1:${port}`,
    get extensions() {
      return [...extensions.values()].map((e) => e.name);
    },
    async initDone() {
      initOver = true;
      await Promise.all([...extensions.values()].map(untilNext));
    },
    invoke(requestId, deadlineMs) {
      const invoked = [...extensions.values()].filter((e) => e.invoke);
      const nexts = invoked.map((extension) => {
        const again = new Promise<void>((resolve) => {
          extension.onNext = resolve;
        });
        extension.queued.push(
          JSON.stringify({
            eventType: 'INVOKE',
            deadlineMs,
            requestId,
            invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${options.functionName ?? 'local-function'}`,
            tracing: { type: 'X-Amzn-Trace-Id', value: `Root=1-${requestId.slice(0, 8)}` },
          }),
        );
        deliver(extension);
        return again;
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `the invocation ${requestId} timed out: an extension had not called Next by its deadline`,
              ),
            ),
          Math.max(0, deadlineMs - Date.now()),
        );
      });
      const ended = Promise.race([Promise.all(nexts).then(() => undefined), late]).finally(() =>
        clearTimeout(timer),
      );
      // Observed here too, so that a caller that never looks does not leave an unhandled rejection.
      ended.catch(() => undefined);
      return { ended };
    },
    async close() {
      for (const extension of extensions.values()) extension.waiting?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
