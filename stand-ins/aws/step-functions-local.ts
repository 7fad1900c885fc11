import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type ChildExecution,
  type DistributedMapDefinition,
  distributedMapHandler,
  isDistributedMap,
  type LocalObjectStore,
  type MapRun,
  standInTask,
} from './distributed-map';

export type { LocalObjectStore } from './distributed-map';

/**
 * The part of the executor's event log the trace reads (the package does not export its types). A state inside
 * a Map iteration carries the iteration's `index`.
 */
type EventLog = {
  type: string;
  timestamp: number;
  state?: { name: string; input?: unknown };
  parentState?: unknown;
  index?: number;
};

/**
 * A loopback Step Functions endpoint: the real `@aws-sdk/client-sfn` (AWS JSON 1.0 protocol) reaches it
 * unchanged, and it runs the very ASL files CDK deploys in `aws-local-stepfunctions`, with each Task's
 * `${Placeholder}` mapped to the handler its Lambda would run. It keeps every execution and a per-state trace.
 */

/**
 * What a local Task handler is given besides its input: the part of Lambda's context the handlers read. Its
 * remaining time counts down from the state's TimeoutSeconds (after any override), as a Lambda's counts down from
 * its own timeout, so a handler that budgets its time behaves here as it does in AWS.
 */
export interface LocalInvocationContext {
  getRemainingTimeInMillis(): number;
}

export type TaskHandler = (input: unknown, context?: LocalInvocationContext) => Promise<unknown>;

export interface MachineRegistration {
  name: string;
  definitionFile: string;
  /** The handler behind each `${Placeholder}` of the definition. */
  handlers: Record<string, TaskHandler>;
  /**
   * The Lambda timeout of each placeholder's function, in seconds as deployed. A handler's remaining time then
   * counts down from it (in the same proportion to its state's TimeoutSeconds as deployed, once the clock is scaled
   * or the timeout overridden), as a Lambda's does; without one, from the state's TimeoutSeconds.
   */
  lambdaTimeoutSeconds?: Record<string, number>;
}

export interface TraceEntry {
  state: string;
  ms: number;
  attempts: number;
  outcome: 'succeeded' | 'failed' | 'caught';
}

export interface ExecutionRecord {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  input: unknown;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  output?: unknown;
  error?: string;
  cause?: string;
  trace: TraceEntry[];
  done: Promise<void>;
  /** How many times it was redriven (RedriveExecution). */
  redriveCount: number;
  /** The child executions its Distributed Maps started, in the order they started. */
  children: ExecutionRecord[];
  /** The execution whose Distributed Map started this one. */
  parentExecutionArn?: string;
  /** Its Distributed Maps' last Map Runs, by state name (a redrive runs their unsuccessful children again). */
  mapRuns: Map<string, MapRun>;
}

export interface LocalStepFunctions {
  endpoint: string;
  arnOf(machineName: string): string;
  executions: ExecutionRecord[];
  /** Resolves when no execution is running (and at least `count` have been started, when given). */
  waitForIdle(options?: { count?: number; timeoutMs?: number }): Promise<ExecutionRecord[]>;
  /**
   * Redrives a failed execution as RedriveExecution does: from the top-level state it did not leave, with that
   * state's input; a Distributed Map there runs again only its children that did not succeed.
   */
  redrive(executionArn: string): Promise<ExecutionRecord>;
  /** Makes the next StartExecution calls fail as Step Functions would under load. */
  failNextStart(fault: { type: string; status?: number; times?: number }): void;
  close(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

type AslRetrier = { IntervalSeconds?: number; MaxDelaySeconds?: number };

type AslState = {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  Retry?: AslRetrier[];
  ItemProcessor?: { States: Record<string, AslState>; StartAt?: string; ProcessorConfig?: { Mode?: string } };
  Iterator?: { States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
};

function lambdaArn(placeholder: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${placeholder.replace(/FunctionArn$/, '')}`;
}

/** The executor's timeout of a Task that sets none. */
const DEFAULT_TASK_TIMEOUT_SECONDS = 60;

/**
 * Maps each Task state (nested ones included) to its handler, failing loudly on a placeholder with none. Each
 * call gets a context whose remaining time counts down from its Lambda's timeout (see `lambdaTimeoutSeconds`), else
 * from the state's TimeoutSeconds. `deployed` holds the states as written, before any scaling or override.
 */
function taskHandlersOf(
  states: Record<string, AslState>,
  deployed: Record<string, AslState>,
  handlers: Record<string, TaskHandler>,
  lambdaTimeoutSeconds: Record<string, number> = {},
): Record<string, (input: unknown) => Promise<unknown>> {
  const byState: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [stateName, state] of Object.entries(states)) {
    const placeholder = /^\$\{(\w+)\}$/.exec(state.Resource ?? '')?.[1];
    if (state.Type === 'Task' && placeholder) {
      const handler = handlers[placeholder];
      if (!handler) throw new Error(`no local handler for ${placeholder} (state "${stateName}")`);
      const taskMs = (state.TimeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS) * 1000;
      const lambdaSeconds = Object.hasOwn(lambdaTimeoutSeconds, placeholder)
        ? lambdaTimeoutSeconds[placeholder]
        : undefined;
      const deployedSeconds = deployed[stateName]?.TimeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS;
      const timeoutMs =
        lambdaSeconds === undefined ? taskMs : taskMs * Math.min(1, lambdaSeconds / deployedSeconds);
      byState[stateName] = (input) => {
        const deadline = Date.now() + timeoutMs;
        return handler(input, { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) });
      };
    }
    const deployedState = deployed[stateName];
    const deployedChildren = deployedState === undefined ? [] : nestedMachinesOf(deployedState);
    for (const [i, child] of nestedMachinesOf(state).entries()) {
      const deployedChild = deployedChildren[i]?.States ?? {};
      Object.assign(byState, taskHandlersOf(child.States, deployedChild, handlers, lambdaTimeoutSeconds));
    }
  }
  return byState;
}

function nestedMachinesOf(state: AslState): { States: Record<string, AslState> }[] {
  return [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].filter((c) => c !== undefined);
}

/** Replaces the TimeoutSeconds of the named states, at any depth. */
function overrideTimeouts(states: Record<string, AslState>, overrides: Record<string, number>): void {
  for (const [stateName, state] of Object.entries(states)) {
    const seconds = overrides[stateName];
    if (seconds !== undefined) state.TimeoutSeconds = seconds;
    for (const child of nestedMachinesOf(state)) overrideTimeouts(child.States, overrides);
  }
}

/** The ASL's defaults for what `scaleTime` shortens when a definition leaves it out. */
const DEFAULT_RETRY_INTERVAL_SECONDS = 1;

/**
 * Runs a definition's clock faster: the execution's TimeoutSeconds, every Task's TimeoutSeconds and every Retry's
 * IntervalSeconds and MaxDelaySeconds multiplied by `scale` (backoff and jitter then work as written, in scaled
 * time). A Task's timeout never drops below `minTaskSeconds`: what a local step costs (a DynamoDB call, a Slack
 * edit) does not shrink with the clock, and a step that cannot even start in time would test nothing.
 */
export function scaleTime(
  definition: { TimeoutSeconds?: number; States: Record<string, AslState> },
  scale: number,
  minTaskSeconds = 0,
): void {
  if (definition.TimeoutSeconds !== undefined) definition.TimeoutSeconds *= scale;
  const scaleStates = (states: Record<string, AslState>) => {
    for (const state of Object.values(states)) {
      if (state.Type === 'Task') {
        state.TimeoutSeconds = Math.max(
          (state.TimeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS) * scale,
          minTaskSeconds,
        );
      }
      for (const retrier of state.Retry ?? []) {
        retrier.IntervalSeconds = (retrier.IntervalSeconds ?? DEFAULT_RETRY_INTERVAL_SECONDS) * scale;
        if (retrier.MaxDelaySeconds !== undefined) retrier.MaxDelaySeconds *= scale;
      }
      for (const child of nestedMachinesOf(state)) scaleStates(child.States);
    }
  };
  scaleStates(definition.States);
}

function retryStatesOf(states: Record<string, AslState>): string[] {
  return Object.entries(states).flatMap(([name, state]) => [
    ...('Retry' in state ? [name] : []),
    ...nestedMachinesOf(state).flatMap((c) => retryStatesOf(c.States)),
  ]);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
  res.end(JSON.stringify(body));
}

/**
 * Starts the endpoint. `retryIntervalMs` shortens the ASL's Retry pauses (tests); by default they run as
 * written, backoff and jitter included.
 */
export async function startLocalStepFunctions(options: {
  machines: MachineRegistration[];
  retryIntervalMs?: number;
  /** Replaces the TimeoutSeconds of the named states, nested ones included (tests of the timeout path). */
  timeoutOverrides?: Record<string, number>;
  /**
   * Runs the definitions' clocks faster (tests of the time budget): see `scaleTime`. Applied before
   * `timeoutOverrides`; with `retryIntervalMs` the pauses are that instead.
   */
  timeScale?: { scale: number; minTaskSeconds?: number };
  /** The S3 a Distributed Map's ItemReader reads and its ResultWriter writes. */
  objects?: LocalObjectStore;
}): Promise<LocalStepFunctions> {
  type Entry = {
    machine: StateMachine;
    /** The definition the package runs (each Distributed Map replaced by its stand-in Task). */
    definition: { StartAt: string; States: Record<string, unknown> };
    name: string;
    overrides: Record<string, (input: unknown) => Promise<unknown>>;
    retry: Record<string, number>;
  };
  const machines = new Map<string, Entry>();
  const validationOptions = { checkPaths: true, checkArn: true };
  const executions: ExecutionRecord[] = [];

  /**
   * Registers a definition (substituted, scaled) under `arn`: each top-level Distributed Map becomes its stand-in
   * Task, and its ItemProcessor a machine of its own, `arn/<state name>`, that its child executions run.
   */
  function register(
    arn: string,
    name: string,
    definition: { StartAt: string; States: Record<string, AslState>; TimeoutSeconds?: number },
    overrides: Record<string, (input: unknown) => Promise<unknown>>,
    retry: Record<string, number>,
  ): void {
    const states: Record<string, unknown> = {};
    const own = { ...overrides };
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (!isDistributedMap(state)) {
        states[stateName] = state;
        continue;
      }
      const map = state as unknown as DistributedMapDefinition;
      states[stateName] = standInTask(stateName, map);
      const childArn = `${arn}/${stateName}`;
      register(
        childArn,
        `${name}/${map.Label ?? stateName.replace(/[^A-Za-z0-9_-]/g, '')}`,
        // A child execution runs the ItemProcessor as a machine of its own (ProcessorConfig is the Map's).
        { StartAt: map.ItemProcessor.StartAt, States: map.ItemProcessor.States as Record<string, AslState> },
        overrides,
        retry,
      );
      own[stateName] = distributedMapHandler(name, stateName, map, {
        ...(options.objects !== undefined ? { objects: options.objects } : {}),
        mapRunsOf: (executionArn) => executions.find((e) => e.executionArn === executionArn)?.mapRuns,
        runChild: (parent, input, previous) => runChild(childArn, parent, input, previous),
      });
    }
    const runnable = { ...definition, States: states };
    machines.set(arn, {
      machine: new StateMachine(runnable as never, { validationOptions }),
      definition: runnable,
      name,
      overrides: own,
      retry,
    });
  }
  for (const registration of options.machines) {
    const text = readFileSync(registration.definitionFile, 'utf8');
    const raw = JSON.parse(text) as { TimeoutSeconds?: number; States: Record<string, AslState> };
    const substituted = JSON.parse(text.replace(/\$\{(\w+)\}/g, (_m, name: string) => lambdaArn(name)));
    if (options.timeScale !== undefined) {
      for (const definition of [raw, substituted])
        scaleTime(definition, options.timeScale.scale, options.timeScale.minTaskSeconds);
    }
    overrideTimeouts(raw.States, options.timeoutOverrides ?? {});
    overrideTimeouts(substituted.States, options.timeoutOverrides ?? {});
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${registration.name}`;
    const retry: Record<string, number> = {};
    if (options.retryIntervalMs !== undefined) {
      for (const state of retryStatesOf(raw.States)) retry[state] = options.retryIntervalMs;
    }
    register(
      arn,
      registration.name,
      substituted,
      taskHandlersOf(
        raw.States,
        (JSON.parse(text) as { States: Record<string, AslState> }).States,
        registration.handlers,
        registration.lambdaTimeoutSeconds,
      ),
      retry,
    );
  }

  const faults: { type: string; status: number; times: number }[] = [];
  /** The top-level state each execution entered and did not leave (with its input): where a redrive resumes. */
  const unfinished = new Map<string, { state: string; input: unknown }>();

  function machineOf(stateMachineArn: string): Entry {
    const entry = machines.get(stateMachineArn);
    if (!entry)
      throw Object.assign(new Error(`State machine does not exist: ${stateMachineArn}`), {
        type: 'StateMachineDoesNotExist',
      });
    return entry;
  }

  function start(
    stateMachineArn: string,
    name: string,
    input: unknown,
    parentExecutionArn?: string,
  ): ExecutionRecord {
    const entry = machineOf(stateMachineArn);
    // A child of a Distributed Map is `execution:<machine>/<label>:<id>`, as in AWS.
    const executionArn =
      parentExecutionArn === undefined
        ? `arn:aws:states:${REGION}:${ACCOUNT}:express:${entry.name}:${name}:${executions.length}`
        : `arn:aws:states:${REGION}:${ACCOUNT}:execution:${entry.name}:${name}`;
    const record: ExecutionRecord = {
      executionArn,
      name,
      stateMachineArn,
      input,
      status: 'RUNNING',
      startDate: Date.now(),
      trace: [],
      done: Promise.resolve(),
      redriveCount: 0,
      children: [],
      mapRuns: new Map(),
      ...(parentExecutionArn !== undefined ? { parentExecutionArn } : {}),
    };
    executions.push(record);
    launch(record, entry.machine, input);
    return record;
  }

  /** Runs `record` (again, on a redrive) in `machine` from its StartAt, tracing its states. */
  function launch(record: ExecutionRecord, machine: StateMachine, input: unknown): void {
    const entry = machineOf(record.stateMachineArn);
    const run = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: entry.overrides as never, retryIntervalOverrides: entry.retry },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          Input: record.input,
          StartTime: new Date(record.startDate).toISOString(),
          RedriveCount: record.redriveCount,
        },
        StateMachine: { Id: record.stateMachineArn, Name: entry.name },
      } as never,
    });
    // The executor logs StateFailed before each retry (StateRetried) or catch (StateCaught) of the same state,
    // without entering it again; a state's entry closes when it exits, is caught, or the execution ends.
    const open = new Map<string, { at: number; attempts: number; failedAt?: number }>();
    const close = (stateName: string, at: number, outcome: TraceEntry['outcome']) => {
      const current = open.get(stateName);
      if (!current) return;
      record.trace.push({ state: stateName, ms: at - current.at, attempts: current.attempts, outcome });
      open.delete(stateName);
    };
    const traceDone = (async () => {
      for await (const event of run.eventLogs as AsyncGenerator<EventLog>) {
        if (!event.state || event.parentState) continue;
        if (event.index === undefined) {
          if (event.type === 'StateEntered')
            unfinished.set(record.executionArn, { state: event.state.name, input: event.state.input });
          else if (event.type === 'StateExited' || event.type === 'StateCaught')
            unfinished.delete(record.executionArn);
        }
        // Iterations of a Map run the same states at once: each iteration's state is traced on its own.
        const stateName =
          event.index === undefined ? event.state.name : `${event.state.name} [${event.index}]`;
        const current = open.get(stateName);
        if (event.type === 'StateEntered') open.set(stateName, { at: event.timestamp, attempts: 1 });
        else if (event.type === 'StateRetried' && current) current.attempts += 1;
        else if (event.type === 'StateFailed' && current) current.failedAt = event.timestamp;
        else if (event.type === 'StateExited') close(stateName, event.timestamp, 'succeeded');
        else if (event.type === 'StateCaught') close(stateName, event.timestamp, 'caught');
      }
      for (const [stateName, current] of open) close(stateName, current.failedAt ?? Date.now(), 'failed');
    })();
    record.done = run.result
      .then((output) => {
        record.status = 'SUCCEEDED';
        record.output = output;
        unfinished.delete(record.executionArn);
      })
      .catch((error: Error & { cause?: unknown }) => {
        record.status = error.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
        record.error = error.name;
        record.cause = error.message;
      })
      .then(() => traceDone.catch(() => undefined))
      .finally(() => {
        record.stopDate = Date.now();
      });
  }

  /** Starts a child execution of a Distributed Map (or runs a failed one again) and waits for its end. */
  async function runChild(
    childMachineArn: string,
    parent: { executionArn: string; mapRunArn: string },
    input: unknown,
    previous?: ChildExecution,
  ): Promise<ChildExecution> {
    const known = executions.find((e) => e.executionArn === previous?.executionArn);
    if (known !== undefined) {
      known.redriveCount += 1;
      redriveFromStart(known);
      await known.done;
      return known;
    }
    const record = start(childMachineArn, crypto.randomUUID(), input, parent.executionArn);
    executions.find((e) => e.executionArn === parent.executionArn)?.children.push(record);
    await record.done;
    return record;
  }

  function resetForRedrive(record: ExecutionRecord): void {
    record.status = 'RUNNING';
    record.stopDate = undefined;
    record.output = undefined;
    record.error = undefined;
    record.cause = undefined;
  }

  /** A failed child runs again from its start (the service resumes it at its failed state; see distributed-map.ts). */
  function redriveFromStart(record: ExecutionRecord): void {
    resetForRedrive(record);
    launch(record, machineOf(record.stateMachineArn).machine, record.input);
  }

  function redrive(executionArn: string): ExecutionRecord {
    const record = executions.find((e) => e.executionArn === executionArn);
    if (!record)
      throw Object.assign(new Error('Execution does not exist'), { type: 'ExecutionDoesNotExist' });
    const from = unfinished.get(executionArn);
    if (record.status === 'RUNNING' || record.status === 'SUCCEEDED' || from === undefined) {
      throw Object.assign(new Error(`Execution ${record.name} is ${record.status} and cannot be redriven`), {
        type: 'ExecutionNotRedrivable',
      });
    }
    const entry = machineOf(record.stateMachineArn);
    // The definition was validated as registered; from another StartAt its first states are unreachable, which
    // the validator would refuse.
    const resumed = new StateMachine({ ...entry.definition, StartAt: from.state } as never, {
      validationOptions: { noValidate: true },
    });
    const mapRun = record.mapRuns.get(from.state);
    if (mapRun !== undefined) mapRun.redrivePending = true;
    record.redriveCount += 1;
    resetForRedrive(record);
    launch(record, resumed, from.input);
    return record;
  }

  const server = createServer(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)) || '{}');
    } catch {
      return send(res, 400, { __type: 'SerializationException', message: 'body is not JSON' });
    }
    const operation = target.replace(/^AWSStepFunctions\./, '');
    try {
      if (operation === 'StartExecution' || operation === 'StartSyncExecution') {
        const fault = faults[0];
        if (fault) {
          fault.times -= 1;
          if (fault.times <= 0) faults.shift();
          return send(res, fault.status, { __type: fault.type, message: `injected ${fault.type}` });
        }
        const name = typeof body.name === 'string' ? body.name : crypto.randomUUID();
        const input = JSON.parse(typeof body.input === 'string' ? body.input : '{}');
        const record = start(String(body.stateMachineArn), name, input);
        if (operation === 'StartExecution')
          return send(res, 200, { executionArn: record.executionArn, startDate: record.startDate / 1000 });
        await record.done;
        return send(res, 200, describe(record));
      }
      if (operation === 'RedriveExecution') {
        redrive(String(body.executionArn));
        return send(res, 200, { redriveDate: Date.now() / 1000 });
      }
      if (operation === 'DescribeExecution') {
        const record = executions.find((e) => e.executionArn === body.executionArn);
        if (!record)
          return send(res, 400, { __type: 'ExecutionDoesNotExist', message: 'Execution does not exist' });
        return send(res, 200, describe(record));
      }
      return send(res, 400, {
        __type: 'UnknownOperationException',
        message: `${operation} is not supported locally`,
      });
    } catch (error) {
      const type = (error as { type?: string }).type ?? 'InternalFailure';
      return send(res, type === 'InternalFailure' ? 500 : 400, {
        __type: type,
        message: (error as Error).message,
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    arnOf: (machineName) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${machineName}`,
    executions,
    async waitForIdle({ count = 0, timeoutMs = 60_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = executions.filter((e) => e.status === 'RUNNING' || e.stopDate === undefined);
        if (executions.length >= count && running.length === 0) return executions;
        if (Date.now() > deadline) {
          throw new Error(
            `timed out waiting for executions: ${executions.length} started, ${running.length} running`,
          );
        }
        // Every pass waits on the event loop, never only on promises: with none running but fewer than `count`
        // started (an ack that failed, or one still starting its execution on a slow machine), `Promise.all([])` is
        // already settled, and looping on it alone runs in microtasks until the deadline, starving any start still
        // to come and piling up a timer each pass (a jest worker grew to its 4 GB heap limit so under CPU contention).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 20);
          if (running.length > 0)
            void Promise.all(running.map((e) => e.done)).then(() => {
              clearTimeout(timer);
              setImmediate(resolve);
            });
        });
      }
    },
    async redrive(executionArn) {
      const record = redrive(executionArn);
      await record.done;
      return record;
    },
    failNextStart({ type, status = 400, times = 1 }) {
      faults.push({ type, status, times });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function describe(record: ExecutionRecord) {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: record.startDate / 1000,
    stopDate: record.stopDate === undefined ? undefined : record.stopDate / 1000,
    input: JSON.stringify(record.input),
    output: record.output === undefined ? undefined : JSON.stringify(record.output),
    error: record.error,
    cause: record.cause,
    redriveCount: record.redriveCount,
  };
}
