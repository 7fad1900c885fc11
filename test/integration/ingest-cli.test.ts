import { spawn } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCUMENT_FORMATS_SENTENCE } from '../../functions/core/ingest/formats/catalog';
import { REPO_ROOT } from '../../scripts/local/stack';
import { ingestWorkspace, readRows } from '../support/ingest';

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

const JSON_KEYS = [
  'added',
  'updated',
  'unchanged',
  'refiled',
  'deleted',
  'failed',
  'skipped',
  'chunks',
  'embeddedChunks',
  // Present because this run embedded something (docs/documents.md, `--json`).
  'embedding',
  'ms',
];

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
      skipped: [],
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

  it('names the files it skipped, and why, in the summary and in --json', async () => {
    // Arrange
    await writeFile(join(workspace.root, 'docs/slides.pptx'), '%PDF-1.7');
    await symlink('/etc/passwd', join(workspace.root, 'docs/passwd.md'));

    // Act
    const run = await runIngest(workspace.root, ['docs']);
    const json = await runIngest(workspace.root, ['--json', 'docs']);

    // Assert
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /docs\/passwd\.md\s+skipped\s+a symbolic link \(to \/etc\/passwd\): links are not followed/,
    );
    expect(run.stdout).toMatch(
      /docs\/slides\.pptx\s+skipped\s+only these formats are indexed: Markdown \(\.md, \.markdown\), plain text/,
    );
    expect(run.stdout).toMatch(/added\s+updated\s+unchanged\s+deleted\s+failed\s+skipped/);
    expect(run.stdout).toMatch(/\n\s+0\s+0\s+3\s+0\s+0\s+2\s+/);
    expect(run.stdout).toContain('2 files skipped (.pptx ×1, symbolic link ×1)');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).skipped).toEqual([
      {
        source: 'docs/passwd.md',
        reason:
          'a symbolic link (to /etc/passwd): links are not followed, so nothing outside the origin is read',
      },
      {
        source: 'docs/slides.pptx',
        reason: `only these formats are indexed: ${DOCUMENT_FORMATS_SENTENCE}`,
      },
    ]);
  });

  it('says plainly that a folder holds nothing to index, and exits 3, as --help documents', async () => {
    // Arrange
    await mkdir(join(workspace.root, 'scans'));
    for (const name of ['a.pptx', 'b.pptx', 'c.png'])
      await writeFile(join(workspace.root, 'scans', name), 'x');

    // Act
    const run = await runIngest(workspace.root, ['scans']);
    const json = await runIngest(workspace.root, ['--json', 'scans']);
    const help = await runIngest(workspace.root, ['--help']);

    // Assert
    const message = 'no documents found in scans/: 3 files skipped (.pptx ×2, .png ×1)';
    expect(run.code).toBe(3);
    expect(run.stdout).toContain(`No${message.slice(2)}.`);
    expect(run.stdout).not.toMatch(/up to date/);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ added: 0, emptyOrigins: [{ origin: 'scans', message }] });
    expect(json.stderr).toBe(`${message}\n`);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/exit codes:/);
    expect(help.stdout).toMatch(/\n {2}3 {4}the sync committed, but an origin holds no document/);
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

  it('places the documents of an origin written COLLECTION=ORIGIN in that collection, and re-files them without embedding', async () => {
    // Arrange
    await mkdir(join(workspace.root, 'hr'));
    await writeFile(
      join(workspace.root, 'hr/benefits.html'),
      '<h1>Benefits</h1><p>Dental cover starts on day one.</p>',
    );

    // Act
    const placed = await runIngest(workspace.root, ['--json', 'hr=hr']);
    const rows = await readRows(join(workspace.root, '.local/lancedb'));
    const moved = await runIngest(workspace.root, ['people=hr']);

    // Assert
    expect(placed.code).toBe(0);
    expect(JSON.parse(placed.stdout)).toMatchObject({ added: 1, refiled: 0 });
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(
      /hr\/benefits\.html\s+re-filed\s+1\s+collection hr → people, not re-embedded/,
    );
    expect(moved.stdout).toMatch(
      /added\s+updated\s+unchanged\s+re-filed\s+deleted[^\n]+embedded now\n\s+0\s+0\s+0\s+1\s+0\s+0\s+0\s+\d+\s+0$/m,
    );
    expect(rows.filter((r) => r.source === 'hr/benefits.html').map((r) => r.collection)).toEqual(['hr']);
    expect(
      (await readRows(join(workspace.root, '.local/lancedb')))
        .filter((r) => r.source === 'hr/benefits.html')
        .map((r) => r.collection),
    ).toEqual(['people']);
  });

  it('refuses a collection name that is not one, with exit code 2 and what a name may be', async () => {
    // Act
    const origin = await runIngest(workspace.root, ['h r=hr']);
    const flag = await runIngest(workspace.root, ['--collection', "hr' OR '1'='1", 'hr']);
    const help = await runIngest(workspace.root, ['--help']);

    // Assert
    expect(origin.code).toBe(2);
    expect(origin.stderr).toMatch(
      /^npm run ingest: "h r=hr": "h r" is not a collection name \(1 to 64 letters, digits, ".", "_" or "-"\)/,
    );
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--collection "hr' OR '1'='1": a collection name is 1 to 64 letters/);
    expect(help.stdout).toMatch(/COLLECTION=ORIGIN \(hr=docs\/hr\/, hr=s3:\/\/bucket\/hr\/\)/);
    expect(help.stdout).toMatch(/its front matter's, else its origin's, else --collection, else none/);
  });
});
