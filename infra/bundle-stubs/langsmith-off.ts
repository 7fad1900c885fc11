import { randomUUID } from 'node:crypto';

/**
 * What the Lambda bundles hold in place of `langsmith`, LangSmith's tracing SDK (aliased in
 * infra/lambda-bundling.ts): the functions never trace to LangSmith, and the SDK is a quarter of a megabyte
 * that every function calling a model loaded on each cold start.
 *
 * `@langchain/core` imports it even with tracing off: every runnable invocation puts a `RunTree` with tracing
 * disabled in AsyncLocalStorage to carry its config, reads it back through `getCurrentRunTree`, and asks
 * `isTraceableFunction` of the functions it wraps. Those are here, as the SDK implements them with tracing off.
 * Anything that would send a trace throws `LangSmithLeftOutError`: turning tracing on (`LANGSMITH_TRACING=true`
 * and the like) makes LangChain build a tracer, whose `Client` fails the step with this error, instead of the
 * setting being silently ignored.
 */

export class LangSmithLeftOutError extends Error {
  override name = 'LangSmithLeftOutError';
  constructor(use: string) {
    super(
      `${use}: LangSmith tracing is left out of the Lambda bundles (infra/lambda-bundling.ts). ` +
        'Unset LANGSMITH_TRACING / LANGCHAIN_TRACING_V2, or bundle the real langsmith package.',
    );
  }
}

/** LangSmith's client: only created when tracing is on. */
export class Client {
  constructor() {
    throw new LangSmithLeftOutError('A LangSmith client was created');
  }
}

interface RunTreeConfig {
  name?: string;
  id?: string;
  tracingEnabled?: boolean;
  metadata?: Record<string, unknown>;
  extra?: Record<string, unknown> & { metadata?: Record<string, unknown> };
  [field: string]: unknown;
}

/** As the SDK's: an object with the two methods a run tree has. */
export function isRunTree(x: unknown): x is RunTree {
  const candidate = x as { createChild?: unknown; postRun?: unknown } | null | undefined;
  return typeof candidate?.createChild === 'function' && typeof candidate.postRun === 'function';
}

/**
 * A run tree with tracing off: the fields LangChain reads from the one it creates per invocation (`extra`,
 * `tracingEnabled`), set as the SDK sets them; a copy when given a run tree, as the SDK makes one.
 */
export class RunTree {
  id!: string;
  name!: string;
  run_type = 'chain';
  start_time = Date.now();
  execution_order = 1;
  child_execution_order = 1;
  child_runs: RunTree[] = [];
  extra: Record<string, unknown> = {};
  tracingEnabled = false;

  constructor(config: RunTreeConfig | RunTree) {
    if (isRunTree(config)) {
      Object.assign(this, { ...config });
      return;
    }
    if (config.tracingEnabled === true) throw new LangSmithLeftOutError('A traced LangSmith run was started');
    const { metadata, ...fields } = config;
    Object.assign(this, {
      ...fields,
      id: fields.id ?? randomUUID(),
      extra: { ...fields.extra, metadata: { ...metadata, ...fields.extra?.metadata } },
      tracingEnabled: false,
    });
  }

  createChild(): RunTree {
    throw new LangSmithLeftOutError('A LangSmith child run was started');
  }

  async postRun(): Promise<void> {
    throw new LangSmithLeftOutError('A LangSmith run was posted');
  }

  async patchRun(): Promise<void> {
    throw new LangSmithLeftOutError('A LangSmith run was updated');
  }

  async end(): Promise<void> {
    throw new LangSmithLeftOutError('A LangSmith run was ended');
  }
}

/** As the SDK's: the run's start time with microsecond ordering, then its id (LangChain's tracers sort by it). */
export function convertToDottedOrderFormat(
  epoch: number,
  runId: string,
  executionOrder = 1,
): { dottedOrder: string; microsecondPrecisionDatestring: string } {
  const paddedOrder = executionOrder.toFixed(0).slice(0, 3).padStart(3, '0');
  const microsecondPrecisionDatestring = `${new Date(epoch).toISOString().slice(0, -1)}${paddedOrder}Z`;
  return {
    dottedOrder: microsecondPrecisionDatestring.replace(/[-:.]/g, '') + runId,
    microsecondPrecisionDatestring,
  };
}

/** The AsyncLocalStorage LangChain and LangSmith share, under the SDK's global key. */
const TRACING_ALS_KEY = Symbol.for('ls:tracing_async_local_storage');

/** As the SDK's: the run tree in the current async context, if any. */
export function getCurrentRunTree(permitAbsentRunTree = false): unknown {
  const storage = (globalThis as Record<symbol, { getStore(): unknown } | undefined>)[TRACING_ALS_KEY];
  const runTree = storage?.getStore();
  if (!permitAbsentRunTree && runTree === undefined) {
    throw new Error(
      'Could not get the current run tree.\n\nPlease make sure you are calling this method within a traceable function and that tracing is enabled.',
    );
  }
  return runTree;
}

/** As the SDK's: whether `x` was wrapped by LangSmith's `traceable` (never, here). */
export function isTraceableFunction(x: unknown): boolean {
  return typeof x === 'function' && 'langsmith:traceable' in x;
}
