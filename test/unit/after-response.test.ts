import { request } from 'node:http';
import { type AfterResponse, startAfterResponse } from '../../functions/core/after-response';
import { type LambdaRuntimeApi, startLambdaRuntimeApi } from '../../stand-ins/aws/lambda-runtime-api';

/**
 * Work after the answer (issue 23): Retrieve registers a Lambda internal extension, so that an index load left behind
 * a question runs after its response and before Lambda freezes the environment, instead of slowing the next
 * questions. Against the Runtime API stand-in, which enforces the Extensions API's rules (registration only during
 * the init, the Invoke phase ending only when the extension calls Next again, no later than the deadline).
 */

let api: LambdaRuntimeApi;
// Each test's own: an extension left from a test before reports the stand-in's closing (its Next hangs up).
let errors: string[] = [];

beforeEach(async () => {
  errors = [];
  api = await startLambdaRuntimeApi({ functionName: 'Retrieve' });
});
afterEach(async () => {
  await api.close();
});

function extension(marginMs?: number): AfterResponse {
  const reported = errors;
  return startAfterResponse({
    runtimeApi: api.address,
    onError: (message, error) =>
      reported.push(`${message}: ${error instanceof Error ? error.message : String(error)}`),
    ...(marginMs === undefined ? {} : { marginMs }),
  });
}

/** A promise with its resolve, to hold a task until the test lets it go. */
function gate(): { promise: Promise<void>; open(): void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Waits (polling) until `condition` holds, up to 5 s: a busy machine may take a while. */
async function until(condition: () => boolean): Promise<void> {
  const end = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error('the condition never held');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const settled = (p: Promise<unknown>) =>
  Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise((r) => setTimeout(() => r(false), 50)),
  ]);

describe('work deferred until the answer is out', () => {
  it('runs a load deferred during the init after the first answer, and Lambda may freeze only once it is done', async () => {
    const after = extension();
    await expect(after.registered).resolves.toBe(true);
    const order: string[] = [];
    const hold = gate();
    after.defer(async () => {
      order.push('load started');
      await hold.promise;
      order.push('load done');
    });
    await api.initDone();
    expect(api.extensions).toEqual(['retrieve-after-response']);
    // Nothing runs during the init, nor while the first question does.
    await new Promise((r) => setTimeout(r, 30));
    expect(order).toEqual([]);

    const { ended } = api.invoke('req-1', Date.now() + 10_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(order).toEqual([]);
    order.push('answered');
    after.answered('req-1');
    await until(() => order.length === 2);
    expect(order).toEqual(['answered', 'load started']);
    // The Invoke phase goes on (the environment is not frozen) while the load runs, and ends with it.
    expect(await settled(ended)).toBe(false);
    hold.open();
    await ended;
    expect(order).toEqual(['answered', 'load started', 'load done']);

    // The next invocation, with nothing deferred, ends as soon as it is answered.
    const second = api.invoke('req-2', Date.now() + 10_000);
    after.answered('req-2');
    await second.ended;
    expect(errors).toEqual([]);
  });

  it('stops holding the invocation open before its deadline; the load goes on in the next one', async () => {
    const after = extension(500);
    await after.registered;
    await api.initDone();
    let done = false;
    const hold = gate();
    after.defer(async () => {
      await hold.promise;
      done = true;
    });
    const started = Date.now();
    const { ended } = api.invoke('req-1', started + 1_500);
    after.answered('req-1');
    // Ended (frozen) at the deadline less the margin, not timed out (which rejects), while the load is unfinished.
    await ended;
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(done).toBe(false);
    hold.open();
    await until(() => done);
  });

  it('pairs an answer that comes before the extension hears of its invocation', async () => {
    const after = extension();
    await after.registered;
    await api.initDone();
    let ran = false;
    after.defer(async () => {
      ran = true;
    });
    // The handler's answer is reported first (a fast question), the event reaches the extension after.
    after.answered('req-early');
    const { ended } = api.invoke('req-early', Date.now() + 10_000);
    await ended;
    expect(ran).toBe(true);
  });

  it('reports a failed load and keeps serving the next invocations', async () => {
    const after = extension();
    await after.registered;
    await api.initDone();
    after.defer(async () => {
      throw new Error('S3 said no');
    });
    const first = api.invoke('req-1', Date.now() + 10_000);
    after.answered('req-1');
    await first.ended;
    expect(errors).toEqual(['work after the answer failed: S3 said no']);
    let ran = false;
    const second = api.invoke('req-2', Date.now() + 10_000);
    after.defer(async () => {
      ran = true;
    });
    after.answered('req-2');
    await second.ended;
    expect(ran).toBe(true);
  });

  it('runs work at once where Lambda refuses the extension (registered after the init) or there is no Lambda', async () => {
    await api.initDone();
    const late = extension();
    await expect(late.registered).resolves.toBe(false);
    expect(errors[0]).toMatch(/^Lambda did not take the extension .*Register answered 403/);
    let ran = false;
    late.defer(async () => {
      ran = true;
    });
    await until(() => ran);

    const none = startAfterResponse({ runtimeApi: undefined, onError: () => undefined });
    await expect(none.registered).resolves.toBe(false);
    let alsoRan = false;
    none.defer(async () => {
      alsoRan = true;
    });
    await until(() => alsoRan);
  });
});

/** A raw call to the stand-in, as an extension that gets it wrong would make it: its status and headers. */
function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${api.address}${path}`, { method, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end(body);
  });
}
const raw = async (method: string, path: string, headers: Record<string, string>, body?: string) =>
  (await call(method, path, headers, body)).status;

describe("the Runtime API stand-in holds extensions to Lambda's rules", () => {
  it('refuses a registration without a name, for SHUTDOWN (an internal extension), or for an unknown event', async () => {
    const path = '/2020-01-01/extension/register';
    expect(await raw('POST', path, {}, JSON.stringify({ events: ['INVOKE'] }))).toBe(400);
    expect(
      await raw('POST', path, { 'Lambda-Extension-Name': 'x' }, JSON.stringify({ events: ['SHUTDOWN'] })),
    ).toBe(400);
    expect(
      await raw('POST', path, { 'Lambda-Extension-Name': 'x' }, JSON.stringify({ events: ['LOGS'] })),
    ).toBe(400);
    expect(
      await raw('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': 'nobody' }),
    ).toBe(403);
    expect(api.extensions).toEqual([]);
  });

  it('times the invocation out when an extension never calls Next again', async () => {
    const path = '/2020-01-01/extension/register';
    const registered = await call(
      'POST',
      path,
      { 'Lambda-Extension-Name': 'stuck' },
      JSON.stringify({ events: ['INVOKE'] }),
    );
    const id = String(registered.headers['lambda-extension-identifier']);
    // Its first Next (the end of its init), whose answer is the event it then never finishes.
    const first = raw('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id });
    await api.initDone();
    const { ended } = api.invoke('req-1', Date.now() + 200);
    expect(await first).toBe(200);
    await expect(ended).rejects.toThrow(/timed out: an extension had not called Next by its deadline/);
  });
});
