import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/local/stack';
import { ingestWorkspace } from '../support/ingest';

/**
 * `npm run ingest` as a person runs it: the real script in a child process, in a working directory of its own
 * (where it keeps `.local/`), offline on the `local` provider.
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runIngest(cwd: string, args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  // Only what a shell needs: none of the developer's model, store or endpoint settings leak into the test.
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[name]) env[name] = process.env[name];
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), join(REPO_ROOT, 'scripts/ingest.ts'), ...args],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const JSON_KEYS = ['added', 'updated', 'unchanged', 'deleted', 'failed', 'chunks', 'embeddedChunks', 'ms'];

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

beforeAll(async () => {
  workspace = await ingestWorkspace();
});

afterAll(async () => {
  await workspace.remove();
});

describe('npm run ingest', () => {
  it('indexes a folder, prints one JSON object with --json, and exits 0', async () => {
    // Arrange
    await writeFile(join(workspace.root, 'docs/empty.md'), '');

    // Act
    const run = await runIngest(workspace.root, ['--json', 'docs']);

    // Assert
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0] ?? '{}');
    expect(Object.keys(result)).toEqual(JSON_KEYS);
    expect(result).toMatchObject({
      added: 4,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      failed: [{ source: 'docs/empty.md', reason: 'the file is empty' }],
    });
    expect(result.chunks).toBeGreaterThan(0);
    expect(result.embeddedChunks).toBe(result.chunks);
  });

  it('reports what changed since the last run in a summary table, keeping its manifest in .local/', async () => {
    // Arrange
    await rm(join(workspace.root, 'docs/empty.md'));
    await rm(join(workspace.root, 'docs/onboarding.md'));
    await writeFile(
      join(workspace.root, 'docs/vpn-guide.md'),
      '# VPN guide\n\nUse vpn2.example.com from now on.\n',
    );

    // Act
    const run = await runIngest(workspace.root, ['--prune', 'docs']);

    // Assert
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Synced docs into \.local\/lancedb \(table documents\)/);
    expect(run.stdout).toMatch(/docs\/onboarding\.md\s+deleted/);
    expect(run.stdout).toMatch(/docs\/vpn-guide\.md\s+updated\s+1/);
    expect(run.stdout).toMatch(/added\s+updated\s+unchanged\s+deleted\s+failed/);
    expect(run.stdout).toMatch(/\n\s+0\s+1\s+2\s+1\s+0\s+/);
    // Not a terminal: no progress bar on stderr.
    expect(run.stderr).toBe('');
  });

  it('exits non-zero, saying why, when nothing could be committed', async () => {
    // Act
    const missing = await runIngest(workspace.root, ['--json', 'no-such-folder']);
    const usage = await runIngest(workspace.root, []);

    // Assert
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({
      added: 0,
      error: expect.stringMatching(/no-such-folder/),
    });
    expect(missing.stderr).toMatch(/the sync failed, and nothing was committed: no such file or folder/);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^usage: npm run ingest -- /);
  });
});
