import { createServer, request } from 'node:http';
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

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: { operation: string; type: string; status: number; times: number }[] = [];
  const failed: Record<string, number> = {};
  const server = createServer((req, res) => {
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    const fault = faults.find((f) => f.operation === operation);
    if (fault) {
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
      return;
    }
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
    failed,
    failNext(operation, { type, status = 400, times = 1 }) {
      faults.push({ operation, type, status, times });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
