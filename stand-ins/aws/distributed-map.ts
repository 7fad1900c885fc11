import { StateMachine } from 'aws-local-stepfunctions';

/**
 * A Distributed Map for the local Step Functions stand-in, hand-written because `aws-local-stepfunctions` 3.0.0
 * runs only inline Maps: it has no ItemReader, ItemBatcher, ResultWriter, tolerated failures or child executions.
 * Everything it can do it still does: the Map state becomes a Task whose Parameters carry the Map's own payload
 * templates (ItemReader's and ResultWriter's Parameters, the `…Path` fields), so the package evaluates every path,
 * and ItemSelector runs in a one-state inline Map of the package. This file only orchestrates, as the service does:
 * reads the items from S3 (the stand-in's object store), batches them per ItemBatcher, starts one child execution
 * of the ItemProcessor per batch (each its own record, trace and status), at most MaxConcurrency at once, fails the
 * Map Run with `States.ExceedToleratedFailureThreshold` past ToleratedFailurePercentage/Count, writes the results
 * per ResultWriter (manifest.json, SUCCEEDED_0.json, FAILED_0.json, PENDING_0.json) and, on a redrive of the parent,
 * runs again only the children that did not succeed.
 *
 * Not modelled: ItemReader over an S3 listing, CSV or a manifest (refused when the definition is loaded), Express
 * children, ResultWriter's WriterConfig, and a redriven child restarting at its failed state (locally it runs again
 * from its start, which the ingest's idempotent steps make equivalent).
 */

/** Where ItemReader reads and ResultWriter writes: the stand-in's S3. */
export interface LocalObjectStore {
  get(bucket: string, key: string): Promise<Uint8Array | undefined>;
  put(bucket: string, key: string, body: string): Promise<void>;
}

type Template = Record<string, unknown>;

export interface DistributedMapDefinition {
  Type: 'Map';
  Comment?: string;
  InputPath?: string | null;
  OutputPath?: string | null;
  ResultPath?: string | null;
  ResultSelector?: Template;
  Retry?: unknown[];
  Catch?: unknown[];
  Next?: string;
  End?: boolean;
  Label?: string;
  ItemsPath?: string;
  ItemReader?: {
    Resource: string;
    ReaderConfig?: { InputType?: string; MaxItems?: number; MaxItemsPath?: string };
    Parameters?: Template;
  };
  ItemSelector?: Template;
  ItemBatcher?: {
    MaxItemsPerBatch?: number;
    MaxItemsPerBatchPath?: string;
    MaxInputBytesPerBatch?: number;
    MaxInputBytesPerBatchPath?: string;
    BatchInput?: Template;
  };
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  ResultWriter?: { Resource: string; Parameters?: Template };
  ItemProcessor: {
    ProcessorConfig?: { Mode?: string; ExecutionType?: string };
    StartAt: string;
    States: Record<string, unknown>;
  };
}

/** What the Task standing in for the Map is given, once the package has evaluated its Parameters. */
interface MapTaskInput {
  input: unknown;
  execution: { Id: string; Name: string };
  items?: unknown;
  reader?: { Bucket?: string; Key?: string };
  writer?: { Bucket?: string; Prefix?: string };
  maxItems?: number;
  maxItemsPerBatch?: number;
  maxInputBytesPerBatch?: number;
  batchInput?: unknown;
  maxConcurrency?: number;
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
}

export function isDistributedMap(state: { Type?: string; ItemProcessor?: unknown }): boolean {
  const config = (state.ItemProcessor as DistributedMapDefinition['ItemProcessor'] | undefined)
    ?.ProcessorConfig;
  return state.Type === 'Map' && config?.Mode === 'DISTRIBUTED';
}

/** The resource of the Task standing in for a Distributed Map (a Lambda ARN, so the package's checks pass). */
const STAND_IN_RESOURCE = 'arn:aws:lambda:us-east-1:000000000000:function:LocalDistributedMap';

/** Node's timers hold at most 2^31-1 ms: the stand-in Task's own timeout stays under it (the execution's governs). */
const MAP_TASK_TIMEOUT_SECONDS = 2_000_000;

/**
 * The Task that stands in for `state` in the package: the Map's fields that take paths become Parameters for the
 * package to evaluate; its input/output processing, Retry and Catch are kept as written.
 */
export function standInTask(stateName: string, state: DistributedMapDefinition): Record<string, unknown> {
  const reader = state.ItemReader;
  if (reader !== undefined) {
    const type = reader.ReaderConfig?.InputType ?? 'JSON';
    if (reader.Resource !== 'arn:aws:states:::s3:getObject' || !['JSON', 'JSONL'].includes(type)) {
      throw new Error(
        `"${stateName}": the local Distributed Map reads a JSON array or JSON Lines object (s3:getObject) only`,
      );
    }
  }
  if (state.ItemProcessor.ProcessorConfig?.ExecutionType === 'EXPRESS') {
    throw new Error(`"${stateName}": the local Distributed Map runs STANDARD child executions only`);
  }
  const parameters: Template = { 'input.$': '$', 'execution.$': '$$.Execution' };
  const valueOrPath = (name: string, value: unknown, path: string | undefined) => {
    if (path !== undefined) parameters[`${name}.$`] = path;
    else if (value !== undefined) parameters[name] = value;
  };
  if (reader !== undefined) {
    parameters.reader = reader.Parameters ?? {};
    valueOrPath('maxItems', reader.ReaderConfig?.MaxItems, reader.ReaderConfig?.MaxItemsPath);
  } else {
    parameters['items.$'] = state.ItemsPath ?? '$';
  }
  if (state.ResultWriter !== undefined) parameters.writer = state.ResultWriter.Parameters ?? {};
  const batcher = state.ItemBatcher;
  if (batcher !== undefined) {
    valueOrPath('maxItemsPerBatch', batcher.MaxItemsPerBatch, batcher.MaxItemsPerBatchPath);
    valueOrPath('maxInputBytesPerBatch', batcher.MaxInputBytesPerBatch, batcher.MaxInputBytesPerBatchPath);
    if (batcher.BatchInput !== undefined) parameters.batchInput = batcher.BatchInput;
  }
  valueOrPath('maxConcurrency', state.MaxConcurrency, state.MaxConcurrencyPath);
  valueOrPath(
    'toleratedFailurePercentage',
    state.ToleratedFailurePercentage,
    state.ToleratedFailurePercentagePath,
  );
  valueOrPath('toleratedFailureCount', state.ToleratedFailureCount, state.ToleratedFailureCountPath);
  const kept = ['Comment', 'InputPath', 'OutputPath', 'ResultPath', 'ResultSelector', 'Retry', 'Catch'];
  return {
    Type: 'Task',
    Resource: STAND_IN_RESOURCE,
    Parameters: parameters,
    TimeoutSeconds: MAP_TASK_TIMEOUT_SECONDS,
    ...Object.fromEntries(kept.filter((k) => k in state).map((k) => [k, state[k as keyof typeof state]])),
    ...(state.End ? { End: true } : { Next: state.Next }),
  };
}

/** One child execution of a Map Run, as the Map Run tracks it. */
export interface MapRunChild {
  index: number;
  input: unknown;
  /** How many of the Map's items it was given (ItemBatcher), for the failure threshold. */
  items: number;
  /** Its execution, once started. */
  execution?: ChildExecution;
}

/** The part of a child's execution record the Map Run reads. */
export interface ChildExecution {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  status: string;
  startDate: number;
  stopDate?: number;
  output?: unknown;
  error?: string;
  cause?: string;
  redriveCount?: number;
}

export interface MapRun {
  mapRunArn: string;
  stateName: string;
  children: MapRunChild[];
  /** Set by a redrive of the parent: the next run of this state reuses this Map Run. */
  redrivePending: boolean;
}

export interface DistributedMapRuntime {
  objects?: LocalObjectStore;
  /** The Map Runs of the parent execution (by state name), to redrive; undefined for an unknown execution. */
  mapRunsOf(executionArn: string): Map<string, MapRun> | undefined;
  /** Starts (or, given one, runs again) a child execution of the ItemProcessor; resolves when it ends. */
  runChild(
    parent: { executionArn: string; stateName: string; mapRunArn: string },
    input: unknown,
    previous?: ChildExecution,
  ): Promise<ChildExecution>;
}

function stateError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** Items as ItemSelector makes them, evaluated by the package in a one-state inline Map. */
async function selectItems(
  selector: Template | undefined,
  items: unknown[],
  input: unknown,
  execution: MapTaskInput['execution'],
): Promise<unknown[]> {
  if (selector === undefined || items.length === 0) return items;
  // The selector's `$` is the Map's input: the helper's input holds it beside the items.
  const rewrite = (template: Template): Template =>
    Object.fromEntries(
      Object.entries(template).map(([key, value]) => {
        if (key.endsWith('.$') && typeof value === 'string') {
          if (value === '$') return [key, '$.input'];
          if (value.startsWith('$.') || value.startsWith('$[')) return [key, `$.input${value.slice(1)}`];
          if (!value.startsWith('$$')) {
            throw new Error(`the local Distributed Map's ItemSelector takes paths only, not "${value}"`);
          }
          return [key, value];
        }
        return [
          key,
          typeof value === 'object' && value !== null && !Array.isArray(value)
            ? rewrite(value as Template)
            : value,
        ];
      }),
    );
  const helper = new StateMachine({
    StartAt: 'Select',
    States: {
      Select: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemSelector: rewrite(selector),
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'Item',
          States: { Item: { Type: 'Pass', End: true } },
        },
        End: true,
      },
    },
  } as never);
  const run = helper.run({ items, input } as never, { context: { Execution: execution } as never });
  return (await run.result) as unknown[];
}

function parseItems(text: string, type: string, where: string): unknown[] {
  try {
    if (type === 'JSONL') {
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as unknown);
    }
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) throw new Error('not a JSON array');
    return parsed;
  } catch (error) {
    throw stateError(
      'States.ItemReaderFailed',
      `${where} is not a ${type} list of items: ${(error as Error).message}`,
    );
  }
}

/** The children's inputs: one item each, or per ItemBatcher `{BatchInput?, Items}` within its limits. */
function childInputs(
  items: unknown[],
  task: MapTaskInput,
  batched: boolean,
): Array<{ input: unknown; items: number }> {
  if (!batched) return items.map((item) => ({ input: item, items: 1 }));
  const maxItems =
    task.maxItemsPerBatch && task.maxItemsPerBatch > 0 ? task.maxItemsPerBatch : Number.POSITIVE_INFINITY;
  const maxBytes =
    task.maxInputBytesPerBatch && task.maxInputBytesPerBatch > 0 ? task.maxInputBytesPerBatch : 256 * 1024;
  const make = (batch: unknown[]) => ({
    input: { ...(task.batchInput !== undefined ? { BatchInput: task.batchInput } : {}), Items: batch },
    items: batch.length,
  });
  const overhead = Buffer.byteLength(JSON.stringify(make([]).input));
  const children: Array<{ input: unknown; items: number }> = [];
  let current: unknown[] = [];
  let bytes = overhead;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (overhead + size > maxBytes) {
      throw stateError(
        'States.Runtime',
        `an item of ${size} bytes does not fit MaxInputBytesPerBatch (${maxBytes})`,
      );
    }
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      children.push(make(current));
      current = [];
      bytes = overhead;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) children.push(make(current));
  return children;
}

function describeChild(child: ChildExecution, input: unknown) {
  return {
    ExecutionArn: child.executionArn,
    Name: child.name,
    StateMachineArn: child.stateMachineArn,
    Status: child.status,
    StartDate: new Date(child.startDate).toISOString(),
    ...(child.stopDate === undefined ? {} : { StopDate: new Date(child.stopDate).toISOString() }),
    Input: JSON.stringify(input),
    ...(child.output === undefined ? {} : { Output: JSON.stringify(child.output) }),
    ...(child.error === undefined ? {} : { Error: child.error, Cause: child.cause }),
    RedriveCount: child.redriveCount ?? 0,
  };
}

/**
 * The handler of the Task standing in for the Distributed Map `stateName`: one Map Run, or the redrive of the
 * parent's last one when the parent was redriven.
 */
export function distributedMapHandler(
  machineName: string,
  stateName: string,
  state: DistributedMapDefinition,
  runtime: DistributedMapRuntime,
): (input: unknown) => Promise<unknown> {
  return async (raw) => {
    const task = raw as MapTaskInput;
    const parentArn = task.execution.Id;
    const runs = runtime.mapRunsOf(parentArn);
    let run = runs?.get(stateName);
    if (run?.redrivePending) {
      run.redrivePending = false;
    } else {
      let items: unknown[];
      if (state.ItemReader !== undefined) {
        const { Bucket: bucket, Key: key } = task.reader ?? {};
        const where = `s3://${bucket}/${key}`;
        if (typeof bucket !== 'string' || typeof key !== 'string') {
          throw stateError('States.ItemReaderFailed', 'ItemReader needs a Bucket and a Key');
        }
        if (runtime.objects === undefined) {
          throw stateError('States.ItemReaderFailed', `no local object store to read ${where} from`);
        }
        const body = await runtime.objects.get(bucket, key);
        if (body === undefined) throw stateError('States.ItemReaderFailed', `${where} does not exist`);
        items = parseItems(
          Buffer.from(body).toString('utf8'),
          state.ItemReader.ReaderConfig?.InputType ?? 'JSON',
          where,
        );
        if (task.maxItems !== undefined && task.maxItems > 0) items = items.slice(0, task.maxItems);
      } else {
        if (!Array.isArray(task.items))
          throw stateError('States.Runtime', `"${stateName}": ItemsPath is not an array`);
        items = task.items;
      }
      const selected = await selectItems(state.ItemSelector, items, task.input, task.execution);
      const label = state.Label ?? stateName.replace(/[^A-Za-z0-9_-]/g, '');
      run = {
        mapRunArn: `arn:aws:states:us-east-1:000000000000:mapRun:${machineName}/${label}:${crypto.randomUUID()}`,
        stateName,
        children: childInputs(selected, task, state.ItemBatcher !== undefined).map((child, index) => ({
          index,
          ...child,
        })),
        redrivePending: false,
      };
      runs?.set(stateName, run);
    }
    const current = run;
    const totalItems = current.children.reduce((sum, child) => sum + child.items, 0);
    const failedItems = () =>
      current.children
        .filter(
          (child) =>
            child.execution !== undefined &&
            child.execution.status !== 'SUCCEEDED' &&
            child.execution.status !== 'RUNNING',
        )
        .reduce((sum, child) => sum + child.items, 0);
    const exceeded = () => {
      const failed = failedItems();
      if (failed === 0) return false;
      if (task.toleratedFailureCount !== undefined && failed > task.toleratedFailureCount) return true;
      return (failed / Math.max(1, totalItems)) * 100 > (task.toleratedFailurePercentage ?? 0);
    };
    // A new Map Run runs every child; a redriven one, those that did not succeed.
    const toRun = current.children.filter((child) => child.execution?.status !== 'SUCCEEDED');
    const limit = task.maxConcurrency && task.maxConcurrency > 0 ? task.maxConcurrency : 10_000;
    let next = 0;
    let stopped = false;
    const worker = async () => {
      while (!stopped && next < toRun.length) {
        const child = toRun[next++] as MapRunChild;
        child.execution = await runtime.runChild(
          { executionArn: parentArn, stateName, mapRunArn: current.mapRunArn },
          child.input,
          child.execution,
        );
        // Past the threshold the Map Run fails: no further child starts (the running ones end on their own).
        if (exceeded()) stopped = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, toRun.length) }, worker));

    let details: { Bucket: string; Key: string } | undefined;
    if (state.ResultWriter !== undefined) details = await writeResults(current, task, runtime);
    const failed = failedItems();
    if (exceeded()) {
      throw stateError(
        'States.ExceedToleratedFailureThreshold',
        `the Map Run ${current.mapRunArn} failed: ${failed} of its ${totalItems} items are in child executions that did not succeed`,
      );
    }
    if (details !== undefined) return { MapRunArn: current.mapRunArn, ResultWriterDetails: details };
    return current.children.map((child) => child.execution?.output ?? null);
  };
}

async function writeResults(
  run: MapRun,
  task: MapTaskInput,
  runtime: DistributedMapRuntime,
): Promise<{ Bucket: string; Key: string }> {
  const bucket = task.writer?.Bucket;
  if (typeof bucket !== 'string')
    throw stateError('States.ResultWriterFailed', 'ResultWriter needs a Bucket');
  if (runtime.objects === undefined)
    throw stateError('States.ResultWriterFailed', 'no local object store to write to');
  const prefix = task.writer?.Prefix ? `${task.writer.Prefix.replace(/\/+$/, '')}/` : '';
  const base = `${prefix}${run.mapRunArn.slice(run.mapRunArn.lastIndexOf(':') + 1)}/`;
  const groups: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', unknown[]> = {
    SUCCEEDED: [],
    FAILED: [],
    PENDING: [],
  };
  for (const child of run.children) {
    if (child.execution === undefined) groups.PENDING.push({ Input: JSON.stringify(child.input) });
    else
      groups[child.execution.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED'].push(
        describeChild(child.execution, child.input),
      );
  }
  const files: Record<string, Array<{ Key: string; Size: number }>> = {
    SUCCEEDED: [],
    FAILED: [],
    PENDING: [],
  };
  for (const [status, entries] of Object.entries(groups)) {
    if (entries.length === 0) continue;
    const key = `${base}${status}_0.json`;
    const body = JSON.stringify(entries);
    await runtime.objects.put(bucket, key, body);
    files[status]?.push({ Key: key, Size: Buffer.byteLength(body) });
  }
  const manifestKey = `${base}manifest.json`;
  await runtime.objects.put(
    bucket,
    manifestKey,
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: run.mapRunArn, ResultFiles: files }),
  );
  return { Bucket: bucket, Key: manifestKey };
}
