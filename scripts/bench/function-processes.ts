import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Env } from '../../functions/core/config';
import { ingestFunctions } from '../../functions/ingest-functions';
import { type BundledFunction as Running, startBundledFunction } from '../../stand-ins/aws/bundled-function';
import type { TaskHandler } from '../../stand-ins/aws/step-functions-local';
import { bundleFunctions } from './cold-start';
import { type CpuGroup, cpuShareGroup, lambdaCpuShare, type QuotaMethod } from './cpu-quota';

/** What one function's processes did between two {@link FunctionProcesses.take} calls. */
export interface FunctionFigures {
  /** The function's name (`IngestCommit`), its configured memory and timeout. */
  name: string;
  memoryMb: number;
  timeoutMs: number;
  /** The CPU its processes were held to, in vCPUs (Lambda's share for `memoryMb`), and how. */
  share: number;
  method: QuotaMethod;
  /** The largest peak resident set (VmHWM) of any of its processes, in bytes: what Lambda holds to `memoryMb`. */
  peakRss: number;
  /** Each invocation's time, in order. */
  invocationsMs: number[];
  /** Processes started (cold starts). */
  processes: number;
  /** The memory limit its processes ran under (bytes; undefined: none could be set), and how many it killed. */
  memoryLimit?: number;
  oomKills: number;
}

export interface FunctionProcesses {
  /** For `startLocalIngest`'s `runFunction`: the chosen functions' bundles, in their own processes. */
  runFunction(entry: string, env: Env): TaskHandler | undefined;
  /** The figures since the last call, per function; ends their processes, so the next invocation is a cold start. */
  take(): Promise<FunctionFigures[]>;
  close(): Promise<void>;
}

/** The peak resident set of a process (VmHWM, bytes); 0 once it is gone. */
export async function peakRssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

/**
 * Runs the named ingest functions (`IngestPlan`, `IngestCommit`…) the way Lambda would: each from its production
 * bundle in a Node process of its own, kept warm between invocations, all of one function's processes in a cgroup
 * holding them to the CPU Lambda gives its configured memory (0.58 vCPU at 1,024 MB, 1.16 at 2,048) and to that memory
 * (Node sizes its heap from it, and the kernel kills a process that goes over, as Lambda ends such an invocation; Step
 * Functions then retries the step), their peak RSS read from /proc every 250 ms and after each invocation, every
 * invocation timed. The timeout is not enforced: an invocation over it is reported.
 * @param options.cwd the processes' working directory, when not their bundle's own (Lambda's): where a local sync's
 *   relative source names resolve, which Plan lists and Commit records.
 */
export async function startFunctionProcesses(
  workDir: string,
  names: readonly string[],
  { cwd }: { cwd?: string } = {},
): Promise<FunctionProcesses> {
  const bundles = await bundleFunctions(workDir);
  const specs = Object.entries(ingestFunctions)
    .map(([placeholder, spec]) => ({ name: placeholder.replace(/FunctionArn$/, ''), ...spec }))
    .filter((spec) => names.includes(spec.name));
  if (specs.length !== names.length) throw new Error(`unknown ingest functions among ${names.join(', ')}`);

  interface Tracked {
    spec: (typeof specs)[number];
    group: CpuGroup | undefined;
    running: Running[];
    pids: Set<number>;
    peakRss: number;
    invocationsMs: number[];
    processes: number;
    oomKillsBefore: number;
  }
  const tracked = new Map<string, Tracked>();
  for (const spec of specs) {
    tracked.set(spec.entry, {
      spec,
      group: await cpuShareGroup(lambdaCpuShare(spec.memoryMb), { memoryMb: spec.memoryMb }),
      running: [],
      pids: new Set(),
      peakRss: 0,
      invocationsMs: [],
      processes: 0,
      oomKillsBefore: 0,
    });
  }
  const sample = async (t: Tracked) => {
    for (const pid of t.pids) t.peakRss = Math.max(t.peakRss, await peakRssOf(pid));
  };
  const sampler = setInterval(() => {
    for (const t of tracked.values()) void sample(t);
  }, 250);

  return {
    runFunction(entry, env) {
      const t = tracked.get(entry);
      if (t === undefined) return undefined;
      const bundle = bundles.find((b) => b.entry === entry);
      if (bundle === undefined) throw new Error(`no bundle for ${entry}`);
      // What Lambda sets in every function's environment, and the ingest sizes LanceDB's caches from.
      const lambdaEnv = { ...env, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(t.spec.memoryMb) };
      const fn = startBundledFunction(bundle.handlerFile, lambdaEnv, {
        cwd: cwd ?? dirname(bundle.file),
        spawn: (command, args, options) => {
          const child = (t.group?.spawn ?? spawn)(command, args, options);
          if (child.pid !== undefined) t.pids.add(child.pid);
          t.processes += 1;
          return child;
        },
      });
      t.running.push(fn);
      return async (input, context) => {
        const started = performance.now();
        try {
          return await fn.invoke(input, context);
        } finally {
          t.invocationsMs.push(performance.now() - started);
          await sample(t);
        }
      };
    },
    async take() {
      const figures: FunctionFigures[] = [];
      for (const t of tracked.values()) {
        await sample(t);
        await Promise.all(t.running.map((fn) => fn.close()));
        const oomKills = (await t.group?.oomKills()) ?? 0;
        figures.push({
          name: t.spec.name,
          memoryMb: t.spec.memoryMb,
          timeoutMs: t.spec.timeoutSeconds * 1000,
          share: lambdaCpuShare(t.spec.memoryMb),
          method: t.group?.method ?? 'none',
          peakRss: t.peakRss,
          invocationsMs: t.invocationsMs,
          processes: t.processes,
          ...(t.group?.memoryLimit === undefined ? {} : { memoryLimit: t.group.memoryLimit }),
          oomKills: oomKills - t.oomKillsBefore,
        });
        t.oomKillsBefore = oomKills;
        t.pids.clear();
        t.peakRss = 0;
        t.invocationsMs = [];
        t.processes = 0;
      }
      return figures;
    },
    async close() {
      clearInterval(sampler);
      for (const t of tracked.values()) {
        await Promise.all(t.running.map((fn) => fn.close()));
        await t.group?.release();
      }
    },
  };
}
