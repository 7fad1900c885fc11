import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lanceDbThreadSettings } from '../../functions/core/vector-store/lancedb-threads';
import { REPO_ROOT } from '../../scripts/local/stack';
import { temporaryDirectory } from '../support/local-stack';

const run = promisify(execFile);
const CHILD = join(REPO_ROOT, 'test/support/index-build-child.ts');
const TASKSET = '/usr/bin/taskset';

interface BuildOutcome {
  ok: boolean;
  name?: string;
  message?: string;
  ms: number;
  LANCE_CPU_THREADS: string;
  LANCE_FTS_NUM_SHARDS: string;
}

/**
 * Builds a full-text index in a child process (LanceDB sizes its pool once per process), on `cpus` CPUs when
 * given (taskset pins the child, and LanceDB counts the CPUs it may run on). The watchdog's window is 3 s: a
 * working build never goes that long without CPU, a deadlocked one never uses any.
 */
async function buildInChild(
  rows: number,
  mode: 'product' | 'unsafe',
  { cpus, env = {} }: { cpus?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<BuildOutcome> {
  const dir = await temporaryDirectory('slack-rag-index-build-');
  try {
    const node = [
      process.execPath,
      '--import',
      'tsx',
      CHILD,
      join(dir.path, 'db'),
      String(rows),
      mode,
      '3000',
    ];
    const [file, ...args] = cpus === undefined ? node : [TASKSET, '-c', cpus, ...node];
    const { stdout } = await run(file ?? '', args, {
      cwd: REPO_ROOT,
      timeout: 120_000,
      env: {
        ...process.env,
        LANCE_CPU_THREADS: undefined,
        LANCE_FTS_NUM_SHARDS: undefined,
        RUST_LOG: 'error',
        ...env,
      },
    });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as BuildOutcome;
  } finally {
    await dir.remove();
  }
}

describe('LanceDB index builds never hang', () => {
  it('sizes the pool above the number of full-text builders on 1, 2 and 4 CPUs, and keeps a pool a person chose', () => {
    expect(lanceDbThreadSettings(1)).toEqual({ LANCE_CPU_THREADS: '2', LANCE_FTS_NUM_SHARDS: '1' });
    expect(lanceDbThreadSettings(2)).toEqual({ LANCE_CPU_THREADS: '2', LANCE_FTS_NUM_SHARDS: '1' });
    expect(lanceDbThreadSettings(4)).toEqual({ LANCE_CPU_THREADS: '4', LANCE_FTS_NUM_SHARDS: '3' });
    expect(lanceDbThreadSettings(2, '8')).toEqual({ LANCE_CPU_THREADS: '8', LANCE_FTS_NUM_SHARDS: '7' });
    expect(lanceDbThreadSettings(2, '1')).toEqual({ LANCE_CPU_THREADS: '2', LANCE_FTS_NUM_SHARDS: '1' });
  });

  it('ends a deadlocked full-text build with an error naming the cause, in seconds, not at the timeout', async () => {
    // A pool of one thread for one builder: LanceDB's own choice on a 2-CPU host, and a real deadlock.
    const outcome = await buildInChild(2_000, 'unsafe');

    expect(outcome.ok).toBe(false);
    expect(outcome.name).toBe('IndexBuildStalledError');
    expect(outcome.message).toMatch(/full-text index of 2000 rows made no progress for \d+ s/);
    expect(outcome.message).toContain('lancedb/lancedb#3568');
    expect(outcome.message).toContain('LANCE_CPU_THREADS=1');
    expect(outcome.ms).toBeLessThan(30_000);
  });

  const onCpus: [string, { cpus?: string; env?: NodeJS.ProcessEnv }, string, string][] = [
    ['1 CPU', { cpus: '0' }, '2', '1'],
    ['2 CPUs', {}, '2', '1'],
    // This machine has 2 CPUs: the settings a 4-CPU host gets are applied to it, which is what decides the hang.
    ['4 CPUs', { env: { LANCE_CPU_THREADS: '4' } }, '4', '3'],
  ];
  it.each(onCpus)(
    'builds the full-text index of 20,000 rows with the product settings on %s',
    async (_label, options, threads, builders) => {
      if (options.cpus !== undefined && !existsSync(TASKSET)) {
        console.warn(
          `skipped: ${TASKSET} (util-linux) is not installed, so the child cannot be pinned to 1 CPU`,
        );
        return;
      }
      const outcome = await buildInChild(20_000, 'product', options);

      expect(outcome).toMatchObject({ ok: true, LANCE_CPU_THREADS: threads, LANCE_FTS_NUM_SHARDS: builders });
    },
  );
});
