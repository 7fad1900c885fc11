import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/local/stack';

/**
 * Every npm script starts with scripts/check-node.cjs: on a Node older than 24 it must stop at once with one line
 * naming both versions, before tsx, jest or undici fail with an error that names neither.
 */

const CHECK = join(REPO_ROOT, 'scripts/check-node.cjs');

/** The machine's own Node when it is older than 24 (Debian's Node 20 here), else undefined. */
function olderSystemNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(candidate)) continue;
    const major = Number(
      execFileSync(candidate, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }),
    );
    if (major < 24) return candidate;
  }
  return undefined;
}

describe('the Node version check', () => {
  it('refuses a Node 20 in one line naming the required and the found version', () => {
    // Arrange: a child whose process.versions says 20, as an old Node's would
    const pretend = `Object.defineProperty(process.versions, 'node', { value: '20.11.1' }); require(${JSON.stringify(CHECK)});`;

    // Act
    const run = spawnSync(process.execPath, ['-e', pretend], { encoding: 'utf8' });

    // Assert
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Node 24 or newer is needed \(package\.json engines ">=24"\); this is Node 20\.11\.1 /,
    );
    expect(lines[0]).toContain('.nvmrc');
  });

  it('lets Node 24 through silently', () => {
    const run = spawnSync(process.execPath, [CHECK], { encoding: 'utf8' });

    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).toBe('');
  });

  const system = olderSystemNode();
  (system ? it : it.skip)(
    `stops npm run with the machine's own older Node ${system ? `(${system})` : '(skipped: no Node older than 24 on this machine)'}`,
    () => {
      // Arrange: that Node first on PATH, as on a fresh machine
      const nodeDir = join(system ?? '', '..');
      const env = { ...process.env, PATH: `${nodeDir}:${process.env.PATH ?? ''}` };

      // Act: a script that would otherwise run for a while (biome over the whole tree)
      const run = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: REPO_ROOT, env, encoding: 'utf8' });

      // Assert: refused before biome ran, in one line
      expect(run.status).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^Node 24 or newer is needed .*; this is Node 2\d\.\d+\.\d+ \(/),
      ]);
    },
  );

  (system ? it : it.skip)(
    `stops npm ci with the machine's own older Node, naming both versions ${system ? `(${system})` : '(skipped: no Node older than 24 on this machine)'}`,
    () => {
      // Arrange: the project's package files in a directory of their own (nothing is installed: --dry-run, offline)
      const dir = mkdtempSync(join(tmpdir(), 'check-node-'));
      for (const file of ['package.json', 'package-lock.json', '.npmrc'])
        copyFileSync(join(REPO_ROOT, file), join(dir, file));
      const env = { ...process.env, PATH: `${join(system ?? '', '..')}:${process.env.PATH ?? ''}` };

      try {
        // Act
        const run = spawnSync('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts'], {
          cwd: dir,
          env,
          encoding: 'utf8',
        });

        // Assert
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain('npm error code EBADENGINE');
        expect(run.stderr).toContain('Required: {"node":">=24"}');
        expect(run.stderr).toMatch(/Actual: +\{"node":"v2\d\./);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('runs first in every npm script, so that none can start on an older Node', () => {
    const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };

    const unchecked = Object.entries(scripts)
      .filter(([, command]) => !command.startsWith('node scripts/check-node.cjs && '))
      .map(([name]) => name);
    expect(unchecked).toEqual([]);
  });

  it('pins Node 24 where version managers look', () => {
    expect(readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim()).toBe('24');
    expect(readFileSync(join(REPO_ROOT, '.node-version'), 'utf8').trim()).toBe('24');
  });
});
