import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { temporaryDirectory } from '../support/local-stack';
import { eventually, runScript, shellEnv, startScript } from '../support/run-command';

/**
 * `npm run dev` on a fresh clone: its vector store (.local/lancedb, here in a temporary working directory, never the
 * developer's) holds nothing, so the first start indexes the samples and says so, with the command that indexes
 * one's own documents instead; the first question is answered from them, not with "none have been added". A later
 * start leaves the store as it is. `--docs DIR` indexes DIR. Real processes, offline on the `local` provider.
 */

const env = shellEnv({ LLM_PROVIDER: 'local' });
const ASKED = 'How do I rotate my VPN key?';

/** Starts dev in `cwd`, waits for its banner, returns it and a stop that waits for the exit. */
async function startDev(cwd: string, args: string[] = []) {
  const dev = startScript('dev.ts', ['--port', '0', ...args], { cwd, env });
  try {
    await eventually(
      'npm run dev to start',
      () => (/Press Ctrl\+C/.test(dev.output().stdout) || dev.exitCode !== null ? true : undefined),
      90_000,
    );
  } catch (error) {
    dev.kill('SIGINT');
    throw error;
  }
  return {
    banner: dev.output().stdout,
    stop: async () => {
      if (dev.exitCode === null) dev.kill('SIGINT');
      return dev.exited;
    },
  };
}

describe('npm run dev on a fresh clone', () => {
  let workspace: Awaited<ReturnType<typeof temporaryDirectory>>;

  beforeAll(async () => {
    workspace = await temporaryDirectory('slack-rag-dev-first-run-');
  });

  afterAll(async () => {
    await workspace?.remove();
  });

  it('indexes the samples on its first start, says so with the command for one’s own documents, and answers from them', async () => {
    const dev = await startDev(workspace.path);
    let asked: Awaited<ReturnType<typeof runScript>>;
    try {
      asked = await runScript('ask.ts', [ASKED], { cwd: workspace.path, env });
    } finally {
      expect((await dev.stop()).code).toBe(0);
    }

    expect(dev.banner).toContain(
      'The vector store .local/lancedb holds no documents yet (a first start): indexing the samples in samples/docs…',
    );
    expect(dev.banner).toMatch(
      /^Documents: {13}the 6 sample documents in samples\/docs \(\d+ chunks\), indexed in \d+\.\d s because the store held none$/m,
    );
    expect(dev.banner).toContain(
      'To answer from your own documents instead: npm run ingest -- --rebuild path/to/your/docs',
    );
    expect(asked.code).toBe(0);
    expect(asked.stderr).toContain('asking the running npm run dev');
    expect(asked.stdout).toContain('corpvpn rotate-key');
    expect(asked.stdout).not.toContain('none have been added');
  });

  it('leaves the store as it is on a later start, and says how to add a folder', async () => {
    const dev = await startDev(workspace.path);
    expect((await dev.stop()).code).toBe(0);

    expect(dev.banner).not.toContain('indexing the samples');
    expect(dev.banner).toContain(
      'Documents:             as indexed in .local/lancedb; npm run ingest -- DIR (or npm run dev -- --docs DIR) adds or updates a folder',
    );
  });
});

describe('npm run dev --docs DIR', () => {
  let workspace: Awaited<ReturnType<typeof temporaryDirectory>>;

  beforeAll(async () => {
    workspace = await temporaryDirectory('slack-rag-dev-docs-');
    await mkdir(join(workspace.path, 'handbook'));
    await writeFile(
      join(workspace.path, 'handbook/parking.md'),
      [
        '# Parking',
        '',
        'Parking permits for the office garage are issued by the front desk on the ground floor.',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await workspace?.remove();
  });

  it('indexes that folder instead of the samples, and answers from it', async () => {
    const dev = await startDev(workspace.path, ['--docs', 'handbook']);
    let asked: Awaited<ReturnType<typeof runScript>>;
    try {
      asked = await runScript('ask.ts', ['Where do I get a parking permit?'], { cwd: workspace.path, env });
    } finally {
      expect((await dev.stop()).code).toBe(0);
    }

    expect(dev.banner).toContain('Indexing handbook into .local/lancedb…');
    expect(dev.banner).toMatch(
      /^Documents: {13}handbook indexed on start in \d+\.\d s: 1 added, 0 updated, 0 unchanged, 0 failed; \d+ chunks in the store$/m,
    );
    expect(dev.banner).not.toContain('samples/docs');
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain('front desk');
  });

  it('refuses to start when the folder does not exist, saying why', async () => {
    const run = await runScript('dev.ts', ['--port', '0', '--docs', 'no-such-folder'], {
      cwd: workspace.path,
      env,
    });

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^could not index no-such-folder, so npm run dev did not start: .*no-such-folder/m,
    );
    expect(run.stdout).not.toContain('Press Ctrl+C');
  });
});
