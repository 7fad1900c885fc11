import { request } from 'node:http';

/**
 * Work a function does once its answer has gone back, before Lambda freezes the environment: a Lambda internal
 * extension registered from inside the function's own process (Lambda developer guide, "Lambda Extensions API").
 *
 * Lambda freezes an environment when the runtime and every registered extension have asked for their next event.
 * Work left running behind a handler's return (an index still loading) would otherwise go on only while a later
 * invocation runs, slowing the questions it shares the CPU and the network with. Registered for `INVOKE`, this
 * extension holds its `Next` request back after each response until the work deferred meanwhile is done, or until
 * `marginMs` before the invocation's deadline: Lambda has already returned the response (the AWS Compute Blog's
 * "Running code after returning a response from an AWS Lambda function" does the same from Python), while the
 * invocation's billed duration and its timeout include this time (the "Invoke phase" of the Extensions API). An
 * environment busy with it is not given the next invocation; a concurrent one goes to another environment.
 *
 * Where no Lambda Runtime API is set (`AWS_LAMBDA_RUNTIME_API`: a local stack, a test) or the registration is
 * refused, deferred work runs at once, as it would without this module.
 *
 * Hand-written against the documented HTTP API (two calls): the Powertools and runtime clients for Node offer no
 * internal extension.
 */
export interface AfterResponse {
  /**
   * Runs `task` after the current invocation's response (or the next invocation's, when deferred during the init or
   * while no invocation runs), within that invocation. A failure is reported through `onError`, never thrown.
   */
  defer(task: () => Promise<unknown>): void;
  /**
   * Marks the invocation `requestId` (Lambda's `context.awsRequestId`) as answered: the handler has returned or
   * thrown, so its work after the response may start. Without an id, the invocation the extension was last told of.
   */
  answered(requestId: string | undefined): void;
  /** Whether Lambda took the extension: false when work runs at once. Settles during the init; never rejects. */
  readonly registered: Promise<boolean>;
}

export interface AfterResponseOptions {
  /** Lambda's Runtime API, `host:port` (`AWS_LAMBDA_RUNTIME_API`); undefined: no Lambda, work runs at once. */
  runtimeApi: string | undefined;
  /** A failed task, a refused registration, a Runtime API that stopped answering. */
  onError(message: string, error: unknown): void;
  /** How long before the invocation's deadline the extension stops waiting for the work: 1,000 ms. */
  marginMs?: number;
}

/** The name the extension registers under: any name does for one registered from inside the runtime's process. */
export const EXTENSION_NAME = 'retrieve-after-response';

/** The invocations' request ids answered before the extension heard of them, kept at most this many. */
const MAX_EARLY_ANSWERS = 16;

interface InvokeEvent {
  eventType: string;
  requestId?: string;
  deadlineMs?: number;
}

/**
 * One HTTP call to the Runtime API, on `node:http` with no timeout: a `Next` request stays open while the environment
 * is frozen, for hours, and must not be ended by a client's timer (`fetch`'s 300-s headers timeout would fire on the
 * first thaw after a long freeze). The API is on loopback: a plain connection per call.
 */
function call(
  runtimeApi: string,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${runtimeApi}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function startAfterResponse(options: AfterResponseOptions): AfterResponse {
  const marginMs = options.marginMs ?? 1_000;
  const queue: Array<() => Promise<unknown>> = [];
  let direct = options.runtimeApi === undefined;
  /** The work of the invocation being finished (after its response), or undefined outside that phase. */
  let finishing: Set<Promise<unknown>> | undefined;
  /** The invocation the extension was told of last, and the requests answered, by id. */
  let current: string | undefined;
  const answers = new Map<string, () => void>();
  const answeredEarly = new Set<string>();

  const run = (task: () => Promise<unknown>): Promise<unknown> =>
    Promise.resolve()
      .then(task)
      .catch((error: unknown) => options.onError('work after the answer failed', error));

  const runQueued = () => {
    for (const task of queue.splice(0)) {
      const running = run(task);
      finishing?.add(running);
    }
  };

  /** From now on, work runs at once: the queue too. */
  const goDirect = (message: string, error: unknown) => {
    if (!direct) options.onError(message, error);
    direct = true;
    runQueued();
  };

  const untilAnswered = (requestId: string): Promise<void> => {
    if (answeredEarly.delete(requestId)) return Promise.resolve();
    return new Promise((resolve) => answers.set(requestId, resolve));
  };

  const sleepUntil = (at: number) =>
    new Promise<'late'>((resolve) => {
      const timer = setTimeout(() => resolve('late'), Math.max(0, at - Date.now()));
      timer.unref?.();
    });

  async function next(id: string): Promise<InvokeEvent> {
    const reply = await call(options.runtimeApi as string, 'GET', '/2020-01-01/extension/event/next', {
      'Lambda-Extension-Identifier': id,
    });
    if (reply.status !== 200) throw new Error(`Next answered ${reply.status}: ${reply.body.slice(0, 200)}`);
    return JSON.parse(reply.body) as InvokeEvent;
  }

  async function loop(id: string): Promise<void> {
    for (;;) {
      let event: InvokeEvent;
      try {
        event = await next(id);
      } catch (error) {
        goDirect('the Lambda Runtime API stopped answering the extension; work runs at once', error);
        return;
      }
      if (event.eventType !== 'INVOKE') continue;
      const requestId = event.requestId ?? '';
      current = requestId;
      const stopAt = (event.deadlineMs ?? Date.now() + 3_000) - marginMs;
      await Promise.race([untilAnswered(requestId), sleepUntil(stopAt)]);
      answers.delete(requestId);
      // A turn of the event loop, so that the runtime has posted the response the handler returned.
      await new Promise((resolve) => setImmediate(resolve));
      finishing = new Set();
      runQueued();
      // Work deferred by the work itself joins the set; the wait ends when all of it is done, or at `stopAt`.
      while (finishing.size > 0) {
        const pending = [...finishing];
        const outcome = await Promise.race([
          Promise.all(pending).then(() => 'done' as const),
          sleepUntil(stopAt),
        ]);
        for (const p of pending) finishing.delete(p);
        if (outcome === 'late') break;
      }
      // Unfinished work goes on in the next invocation, as it would without the extension.
      finishing = undefined;
    }
  }

  const registered = (async (): Promise<boolean> => {
    if (options.runtimeApi === undefined) return false;
    try {
      const reply = await call(
        options.runtimeApi,
        'POST',
        '/2020-01-01/extension/register',
        { 'Lambda-Extension-Name': EXTENSION_NAME, 'Content-Type': 'application/json' },
        // An internal extension may not register for SHUTDOWN.
        JSON.stringify({ events: ['INVOKE'] }),
      );
      const id = reply.headers['lambda-extension-identifier'];
      if (reply.status !== 200 || typeof id !== 'string' || id === '')
        throw new Error(`Register answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      void loop(id);
      return true;
    } catch (error) {
      goDirect('Lambda did not take the extension that loads after the answer; work runs at once', error);
      return false;
    }
  })();

  return {
    defer(task) {
      if (direct) void run(task);
      else if (finishing !== undefined) finishing.add(run(task));
      else queue.push(task);
    },
    answered(requestId) {
      const id = requestId ?? current;
      if (id === undefined) return;
      const resolve = answers.get(id);
      if (resolve !== undefined) {
        answers.delete(id);
        resolve();
        return;
      }
      // Answered before the extension's Next returned this invocation: remembered for it.
      answeredEarly.add(id);
      if (answeredEarly.size > MAX_EARLY_ANSWERS) {
        const oldest = answeredEarly.values().next().value;
        if (oldest !== undefined) answeredEarly.delete(oldest);
      }
    },
    registered,
  };
}
