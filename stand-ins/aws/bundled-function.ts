import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import type { Env } from '../../functions/core/config';
import type { LocalInvocationContext } from './step-functions-local';

/**
 * A function run from its production bundle (`index.js`, as CDK builds it) the way Lambda runs it: in its own
 * Node process, started on the first invocation (a cold start) and kept for the next ones (warm), one invocation
 * at a time per process, more processes when invocations overlap. The process sees only the bundle, the
 * environment given and its working directory: no `node_modules` unless the bundle's directory has one (the
 * LanceDB functions' layer), no loader of this project. Events and results cross as JSON, as they do in AWS.
 */

/** The environment Lambda sets before init, besides the function's own configuration. */
const LAMBDA_ENV = ['PATH', 'TZ', 'LANG'] as const;

/**
 * What runs in the child: loads the bundle once, then runs each invocation it is sent with a Lambda-like context
 * and sends back the result or the error (its name and message, which Step Functions matches Retry and Catch on).
 */
const RUNNER = `
let bundle;
process.on('message', async ({ id, event, deadline }) => {
  const context = deadline === undefined ? undefined : {
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const value = await bundle.handler(event, context);
    process.send({ id, value: value === undefined ? null : JSON.parse(JSON.stringify(value)) });
  } catch (error) {
    process.send({ id, error: { name: error?.name ?? 'Error', message: String(error?.message ?? error) } });
  }
});
// An ES module handler (a function's init module, \`init.mjs\`) is imported, so that its top-level await is waited
// for before the first invocation, as Lambda's init waits for it.
(async () => {
  const file = process.argv[1];
  bundle = file.endsWith('.mjs') ? await import(require('node:url').pathToFileURL(file).href) : require(file);
  if (typeof bundle.handler !== 'function') throw new Error(file + ' exports no handler');
  process.send({ ready: true });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/** How a process is started, in `child_process.spawn`'s shape. */
export type SpawnProcess = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

const spawnProcess: SpawnProcess = (command, args, options) => spawn(command, args, options);

export type BundledHandler = (event: unknown, context?: LocalInvocationContext) => Promise<unknown>;

export interface BundledFunction {
  invoke: BundledHandler;
  /** Processes started so far: one per cold start. */
  readonly coldStarts: number;
  /** Ends its processes, as Lambda recycles idle environments: a later invocation is a cold start again. */
  close(): Promise<void>;
}

interface Reply {
  id?: number;
  ready?: boolean;
  value?: unknown;
  error?: { name: string; message: string };
}

interface Instance {
  child: ChildProcess;
  busy: boolean;
  ready: Promise<void>;
  stderr: string[];
  pending: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
}

function errorNamed(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * Runs `file` (a bundle's `index.js`, or the function's `init.mjs` beside it) as its Lambda would, with `env` as
 * the function's configuration.
 * @param options.cwd the processes' working directory (Lambda's is the bundle's own, /var/task).
 * @param options.spawn starts each process instead of `child_process.spawn` (the bench: inside a cgroup holding it
 *   to Lambda's CPU share); the process it returns must be the command's own, with the IPC channel asked for.
 */
export function startBundledFunction(
  file: string,
  env: Env,
  options: { cwd?: string; spawn?: SpawnProcess } = {},
): BundledFunction {
  const instances: Instance[] = [];
  let nextId = 0;
  let coldStarts = 0;

  const startInstance = (): Instance => {
    coldStarts += 1;
    const inherited = Object.fromEntries(
      LAMBDA_ENV.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])),
    );
    // LanceDB's thread settings are set in the real environment for every process (jest-global-setup.ts).
    const lance = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => name.startsWith('LANCE')),
    );
    const child = (options.spawn ?? spawnProcess)(process.execPath, ['-e', RUNNER, file], {
      cwd: options.cwd,
      env: { ...inherited, ...lance, ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const instance: Instance = {
      child,
      busy: false,
      ready: Promise.resolve(),
      stderr: [],
      pending: new Map(),
    };
    child.stderr?.on('data', (chunk: Buffer) => instance.stderr.push(chunk.toString('utf8')));
    instance.ready = new Promise((resolve, reject) => {
      child.once('message', (reply: Reply) =>
        reply.ready ? resolve() : reject(new Error('no ready message')),
      );
      child.once('exit', (code) =>
        reject(
          errorNamed('Lambda.Unknown', `${file} exited with ${code} on load: ${instance.stderr.join('')}`),
        ),
      );
    });
    child.on('message', (reply: Reply) => {
      if (reply.id === undefined) return;
      const waiting = instance.pending.get(reply.id);
      instance.pending.delete(reply.id);
      if (reply.error) waiting?.reject(errorNamed(reply.error.name, reply.error.message));
      else waiting?.resolve(reply.value);
    });
    child.on('exit', (code, signal) => {
      const gone = errorNamed(
        'Lambda.Unknown',
        `${file} exited (${signal ?? code}): ${instance.stderr.join('')}`,
      );
      for (const waiting of instance.pending.values()) waiting.reject(gone);
      instance.pending.clear();
      const index = instances.indexOf(instance);
      if (index >= 0) instances.splice(index, 1);
    });
    instances.push(instance);
    return instance;
  };

  return {
    get coldStarts() {
      return coldStarts;
    },
    async invoke(event, context) {
      const instance = instances.find((i) => !i.busy) ?? startInstance();
      instance.busy = true;
      try {
        await instance.ready;
        const id = nextId++;
        const deadline = context === undefined ? undefined : Date.now() + context.getRemainingTimeInMillis();
        return await new Promise((resolve, reject) => {
          instance.pending.set(id, { resolve, reject });
          instance.child.send({ id, event, deadline });
        });
      } finally {
        instance.busy = false;
      }
    },
    async close() {
      await Promise.all(
        instances.map(
          ({ child }) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill();
            }),
        ),
      );
    },
  };
}
