import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A child process held to Lambda's CPU share for a memory size. Lambda gives a function CPU in proportion to its
 * memory: one full vCPU at 1,769 MB (AWS Lambda developer guide, "Configuring Lambda function memory"), so 1,024 MB
 * gets about 0.58 of one, for all of its threads together. A first question that needs a second of CPU on an idle
 * core takes 1.7 s there.
 *
 * Two ways, the first that works here:
 * - `cgroup`: a CFS bandwidth quota on a cgroup of its own (v2 `cpu.max`, or v1 `cpu.cfs_quota_us` over
 *   `cpu.cfs_period_us`), the kernel's mechanism and the one Firecracker hosts use for Lambda; the child is put in
 *   the group by a shell that then execs it, so its whole life, Node's boot included, runs under the quota. It
 *   counts every thread of the process, as Lambda does.
 * - `duty-cycle`: when no cgroup is writable, the child is stopped (SIGSTOP) and continued (SIGCONT) by a timer in
 *   this process: runs `share` of every 20 ms. Coarser: it limits the wall-clock share, so a process with two busy
 *   threads can use twice the share while it runs, and the timer's own lateness on a busy machine adds stops.
 */

export const LAMBDA_FULL_VCPU_MB = 1_769;

/** The CPU share Lambda gives a function of `memoryMb`, in vCPUs (up to 6 at 10,240 MB). */
export function lambdaCpuShare(memoryMb: number): number {
  return memoryMb / LAMBDA_FULL_VCPU_MB;
}

/**
 * The CPU an on-demand function's init gets, in vCPUs, whatever its memory: "On-demand Lambda functions use a full
 * vCPU (non-throttled) but is limited to 10 seconds during its initialization phase. [...] For provisioned
 * concurrency, there is no cpu burst" (AWS, Serverless Land, "Effectively running Java on Serverless: utilize the
 * initialization phase"; the Lambda Web Adapter's documentation says the same of "up to 10 seconds for function
 * initialization with burst CPU"). Lambda's own guide does not state it, so the bench reports both ways.
 */
export const LAMBDA_INIT_SHARE = 1;

export type QuotaMethod =
  | 'cgroup v2 cpu.max'
  | 'cgroup v1 cpu.cfs_quota_us'
  | 'duty-cycle SIGSTOP/SIGCONT'
  | 'none';

export interface QuotaChild {
  child: ChildProcess;
  method: QuotaMethod;
  /** Ends the child (if still running) and removes its cgroup or timer. */
  release(): Promise<void>;
  /** Changes the quota to `share` vCPUs while the child runs: with a cgroup only (undefined otherwise). */
  setShare?(share: number): Promise<void>;
}

const PERIOD_US = 100_000;
const DUTY_PERIOD_MS = 20;

async function writableCgroup(
  name: string,
  share: number,
): Promise<{ dir: string; method: QuotaMethod; setShare(share: number): Promise<void> } | undefined> {
  const quotaOf = (vcpus: number) => Math.max(1_000, Math.round(vcpus * PERIOD_US));
  const v2 = '/sys/fs/cgroup';
  const candidates: {
    parent: string;
    method: QuotaMethod;
    set(dir: string, quota: number): Promise<void>;
  }[] = [
    {
      parent: v2,
      method: 'cgroup v2 cpu.max',
      set: (dir, quota) => writeFile(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`),
    },
    {
      parent: join(v2, 'unified'),
      method: 'cgroup v2 cpu.max',
      set: (dir, quota) => writeFile(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`),
    },
    {
      parent: join(v2, 'cpu'),
      method: 'cgroup v1 cpu.cfs_quota_us',
      set: async (dir, quota) => {
        await writeFile(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
        await writeFile(join(dir, 'cpu.cfs_quota_us'), String(quota));
      },
    },
  ];
  for (const candidate of candidates) {
    const controllers = join(candidate.parent, 'cgroup.controllers');
    if (candidate.method === 'cgroup v2 cpu.max') {
      const list = existsSync(controllers) ? await readFile(controllers, 'utf8') : '';
      if (!list.split(/\s+/).includes('cpu')) continue;
    } else if (!existsSync(join(candidate.parent, 'cpu.cfs_quota_us'))) continue;
    const dir = join(candidate.parent, name);
    try {
      await mkdir(dir, { recursive: true });
      await candidate.set(dir, quotaOf(share));
      return {
        dir,
        method: candidate.method,
        setShare: (vcpus) => candidate.set(dir, quotaOf(vcpus)),
      };
    } catch {
      await rmdir(dir).catch(() => undefined);
    }
  }
  return undefined;
}

/**
 * Spawns `command args` under a CPU quota of `share` vCPUs (cgroup, else duty cycle); undefined spawns it
 * unconstrained. `cgroup: false` goes straight to the duty cycle (to test it where a cgroup is writable). With
 * `initShare` and a cgroup, the child starts with that quota instead, until the caller sets `share` with `setShare`
 * (a Lambda init's CPU, see {@link LAMBDA_INIT_SHARE}); the duty cycle holds it to `share` from the start.
 */
export async function spawnWithCpuShare(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  share: number | undefined,
  { cgroup = true, initShare }: { cgroup?: boolean; initShare?: number } = {},
): Promise<QuotaChild> {
  if (share === undefined) {
    const child = spawn(command, args, options);
    return { child, method: 'none', release: async () => end(child) };
  }
  const group = cgroup ? await cpuShareGroup(initShare ?? share) : undefined;
  if (group !== undefined) {
    const child = group.spawn(command, args, options);
    return {
      child,
      method: group.method,
      setShare: group.setShare,
      async release() {
        await end(child);
        await group.release();
      },
    };
  }
  const child = spawn(command, args, options);
  const pid = child.pid;
  let running = true;
  const runMs = DUTY_PERIOD_MS * Math.min(1, share);
  const timer = setInterval(() => {
    if (pid === undefined || child.exitCode !== null) return;
    try {
      process.kill(pid, 'SIGCONT');
      running = true;
      setTimeout(() => {
        if (child.exitCode === null && running) process.kill(pid, 'SIGSTOP');
        running = false;
      }, runMs);
    } catch {
      // The child ended between two ticks.
    }
  }, DUTY_PERIOD_MS);
  return {
    child,
    method: 'duty-cycle SIGSTOP/SIGCONT',
    async release() {
      clearInterval(timer);
      if (pid !== undefined && child.exitCode === null) process.kill(pid, 'SIGCONT');
      await end(child);
    },
  };
}

/**
 * A cgroup holding every process spawned through it to `share` vCPUs together, as Lambda holds one execution
 * environment (undefined where no cgroup is writable); with `memoryMb`, also a memory cgroup of that limit where one
 * is writable (cgroup v1 `memory.limit_in_bytes`, v2 `memory.max`): Node then sizes its heap for that memory as it
 * does in a Lambda environment of it (half of it, where it takes a quarter of this machine's 24 GiB), and a process
 * that goes over is killed, as Lambda ends an invocation that runs out of memory. Its processes may come and go;
 * `release` ends none of them and removes the groups once the last is gone.
 */
export interface CpuGroup {
  method: QuotaMethod;
  /** The memory limit in force, in bytes (undefined: none could be set). */
  memoryLimit?: number;
  /** Spawns `command args` inside the group(s): a shell joins them, then becomes the command (same pid). */
  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  setShare(share: number): Promise<void>;
  /** Processes the kernel killed for going over the memory limit (0 without one). */
  oomKills(): Promise<number>;
  release(): Promise<void>;
}

async function memoryCgroup(name: string, bytes: number): Promise<{ dir: string; v1: boolean } | undefined> {
  for (const [parent, v1] of [
    ['/sys/fs/cgroup/memory', true],
    ['/sys/fs/cgroup', false],
  ] as const) {
    const file = v1 ? 'memory.limit_in_bytes' : 'memory.max';
    if (v1 ? !existsSync(join(parent, file)) : !existsSync(join(parent, 'cgroup.controllers'))) continue;
    const dir = join(parent, name);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, file), String(bytes));
      return { dir, v1 };
    } catch {
      await rmdir(dir).catch(() => undefined);
    }
  }
  return undefined;
}

async function removeGroup(dir: string): Promise<void> {
  // A cgroup can be removed once its last process is gone; the kernel may take a moment to notice.
  for (let i = 0; i < 50; i++) {
    if (
      await rmdir(dir).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function cpuShareGroup(
  share: number,
  { memoryMb }: { memoryMb?: number } = {},
): Promise<CpuGroup | undefined> {
  const name = `slack-rag-bench-${process.pid}-${Date.now()}-${groups++}`;
  const group = await writableCgroup(name, share);
  if (group === undefined) return undefined;
  const memoryLimit = memoryMb === undefined ? undefined : memoryMb * 1024 * 1024;
  const memory = memoryLimit === undefined ? undefined : await memoryCgroup(name, memoryLimit);
  const procs = [group.dir, ...(memory ? [memory.dir] : [])].map((dir) => join(dir, 'cgroup.procs'));
  // The shell joins each group (its arguments before `--`), then becomes the command: nothing of the child runs
  // outside them.
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 1; shift; done; shift; exec "$@"';
  return {
    method: group.method,
    ...(memory ? { memoryLimit } : {}),
    setShare: group.setShare,
    spawn: (command, args, options) =>
      spawn('/bin/sh', ['-c', script, 'sh', ...procs, '--', command, ...args], options),
    async oomKills() {
      if (memory === undefined) return 0;
      const text = await readFile(
        join(memory.dir, memory.v1 ? 'memory.oom_control' : 'memory.events'),
        'utf8',
      ).catch(() => '');
      return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
    },
    async release() {
      await removeGroup(group.dir);
      if (memory) await removeGroup(memory.dir);
    },
  };
}

let groups = 0;

async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill();
  });
}
