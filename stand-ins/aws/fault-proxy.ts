import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback proxy in front of an AWS JSON-protocol stand-in (dynalite) that can answer chosen operations with
 * the errors AWS returns under load, e.g. DynamoDB's `ProvisionedThroughputExceededException`. Everything else
 * passes through untouched, so the real SDK client sees exactly what it would see from AWS.
 */
export interface FaultProxy {
  endpoint: string;
  /** Fails the next `times` calls of `operation` (the X-Amz-Target suffix, e.g. `Query`, `PutItem`). */
  failNext(operation: string, fault: { type: string; status?: number; times?: number }): void;
  /** How many calls of each operation were failed so far. */
  failed: Record<string, number>;
  close(): Promise<void>;
}

/** A running loopback proxy. */
export interface LoopbackProxy {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Forwards every request to `target` unchanged, unless `intercept` answers it itself (returning true): the
 * place where a test injects a fault or a benchmark counts requests.
 */
export async function startLoopbackProxy(
  target: string,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
): Promise<LoopbackProxy> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (intercept(req, res)) return;
    const forward = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const faults: { operation: string; type: string; status: number; times: number }[] = [];
  const failed: Record<string, number> = {};
  const proxy = await startLoopbackProxy(target, (req, res) => {
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    const fault = faults.find((f) => f.operation === operation);
    if (!fault) return false;
    fault.times -= 1;
    if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
    failed[operation] = (failed[operation] ?? 0) + 1;
    req.resume();
    res.writeHead(fault.status, { 'Content-Type': 'application/x-amz-json-1.0' });
    res.end(
      JSON.stringify({
        __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`,
        message: `injected ${fault.type}`,
      }),
    );
    return true;
  });
  return {
    endpoint: proxy.endpoint,
    failed,
    failNext(operation, { type, status = 400, times = 1 }) {
      faults.push({ operation, type, status, times });
    },
    close: proxy.close,
  };
}
