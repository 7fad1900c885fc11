import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findArm64Binary, LANCEDB_ARM64_PACKAGE, NATIVE_MODULES_DIR } from '../lancedb-runtime';

/**
 * `npm run lambda:native`: fetches the linux-arm64 LanceDB binary the Lambdas need, which `npm ci` skips on any
 * other platform, into `.lambda-native/` (gitignored), so that `cdk synth` can stay offline. The version and
 * the sha512 come from package-lock.json, so the binary is exactly the one the lockfile pins. Safe to run again:
 * it does nothing when the right version is already there.
 */

const repoRoot = path.resolve(__dirname, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface LockEntry {
  version?: string;
  integrity?: string;
}

function lockedPackage(name: string): { version: string; integrity: string } {
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, LockEntry>;
  };
  const entry = lock.packages?.[`node_modules/${name}`];
  if (!entry?.version || !entry.integrity) {
    throw new Error(`package-lock.json has no version and integrity for ${name}`);
  }
  return { version: entry.version, integrity: entry.integrity };
}

function sha512(file: string): string {
  return `sha512-${createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

function main(): void {
  const { version, integrity } = lockedPackage(LANCEDB_ARM64_PACKAGE);
  try {
    findArm64Binary(repoRoot);
    console.log(`${LANCEDB_ARM64_PACKAGE}@${version} is already in ${NATIVE_MODULES_DIR}`);
    return;
  } catch {
    // Missing, another version or damaged: fetch it again.
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lambda-native-'));
  try {
    // `npm pack` downloads the tarball as it is published, whatever this machine's os and cpu.
    const packed = JSON.parse(
      execFileSync(
        npm,
        ['pack', `${LANCEDB_ARM64_PACKAGE}@${version}`, '--json', '--pack-destination', work],
        {
          cwd: work,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
          shell: process.platform === 'win32',
        },
      ),
    ) as { filename: string }[];
    const tarball = path.join(work, packed[0]?.filename ?? '');
    const actual = sha512(tarball);
    if (actual !== integrity) {
      throw new Error(
        `${LANCEDB_ARM64_PACKAGE}@${version}: sha512 ${actual} is not the lockfile's ${integrity}`,
      );
    }
    const target = path.join(repoRoot, NATIVE_MODULES_DIR, LANCEDB_ARM64_PACKAGE);
    fs.rmSync(target, { recursive: true, force: true });
    fs.mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { stdio: 'inherit' });
    findArm64Binary(repoRoot);
    const mb = fs.statSync(path.join(target, 'lancedb.linux-arm64-gnu.node')).size / 2 ** 20;
    console.log(
      `${LANCEDB_ARM64_PACKAGE}@${version} (${mb.toFixed(1)} MB, sha512 verified) is in ${NATIVE_MODULES_DIR}`,
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
