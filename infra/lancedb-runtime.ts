import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * LanceDB is a native module: its JavaScript (`@lancedb/lancedb`) loads a platform package holding a ~150 MB
 * `.node` binary. Lambda runs linux-arm64 here, and `npm ci` on a developer's or CI's x86_64 machine installs
 * only the x64 binary, so `npm run lambda:native` fetches the arm64 one ahead of synth (synth itself makes no
 * network call) into `.lambda-native/`. The LanceDB functions' bundles leave `@lancedb/lancedb` and
 * `apache-arrow` to `node_modules/` (one copy of arrow, shared by our code and LanceDB's), which this module
 * assembles: those two packages and their runtime dependencies, copied from the project's `node_modules/`, plus
 * the arm64 binary. LanceDB's optional dependencies (`@huggingface/transformers`, `openai` 4, the other
 * platforms' binaries) are never copied: only `dependencies` are followed.
 */

/** The package holding the binary Lambda's linux-arm64 (glibc) runtime loads. */
export const LANCEDB_ARM64_PACKAGE = '@lancedb/lancedb-linux-arm64-gnu';
export const LANCEDB_ARM64_BINARY = 'lancedb.linux-arm64-gnu.node';

/** Where `npm run lambda:native` unpacks the arm64 package, relative to the repository root. */
export const NATIVE_MODULES_DIR = path.join('.lambda-native', 'node_modules');

/** The packages the LanceDB functions' bundles leave to `node_modules/`. */
export const LANCEDB_EXTERNALS = ['@lancedb/lancedb', 'apache-arrow'] as const;

/** Lambda's limit on a function's unzipped code (the zip, plus layers, but this project uses none). */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;

/** Headroom left for the function's own bundle (a few MB) when the staged modules are checked against the limit. */
const BUNDLE_HEADROOM_BYTES = 20 * 1024 * 1024;

/** ELF `e_machine` of AArch64. */
const EM_AARCH64 = 183;

export class LanceDbRuntimeError extends Error {
  override name = 'LanceDbRuntimeError';
}

export interface StagedRuntime {
  /** A directory holding `node_modules/`, to be copied next to the bundle's `index.js`. */
  dir: string;
  /** The packages copied, as paths relative to `node_modules/`. */
  packages: string[];
  bytes: number;
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Node's lookup of a bare package name from `fromDir`: `node_modules/<name>` in it and every parent up to `root`. */
function findPackageDir(name: string, fromDir: string, root: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.resolve(dir) === path.resolve(root)) return undefined;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Files Node never loads: source maps, TypeScript sources and declarations. */
function isRuntimeFile(file: string): boolean {
  return !/\.(map|ts|mts|cts)$/.test(file);
}

function copyPackage(from: string, to: string): number {
  let bytes = 0;
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    // A nested node_modules holds other packages; those are copied only if the walk reaches them.
    if (entry.name === 'node_modules') continue;
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) bytes += copyPackage(source, target);
    else if (entry.isFile() && isRuntimeFile(entry.name)) {
      fs.copyFileSync(source, target);
      bytes += fs.statSync(target).size;
    }
  }
  return bytes;
}

function elfMachine(file: string): number | undefined {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, header, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return header.readUInt16LE(18);
}

/**
 * Checks that the arm64 binary is there, matches the installed `@lancedb/lancedb` and is an AArch64 ELF; fails
 * naming the fix otherwise. Returns the package's directory.
 */
export function findArm64Binary(repoRoot: string): string {
  const fix = 'Run `npm run lambda:native` (it fetches the package from the npm registry) and synth again.';
  const lancedbDir = findPackageDir('@lancedb/lancedb', repoRoot, repoRoot);
  if (!lancedbDir) throw new LanceDbRuntimeError('@lancedb/lancedb is not installed: run `npm ci`.');
  const expected = readPackageJson(lancedbDir).version;
  const dir = path.join(repoRoot, NATIVE_MODULES_DIR, LANCEDB_ARM64_PACKAGE);
  const binary = path.join(dir, LANCEDB_ARM64_BINARY);
  if (!fs.existsSync(binary)) {
    throw new LanceDbRuntimeError(
      `The linux-arm64 LanceDB binary the Retrieve and ingest Lambdas load is missing (${path.relative(repoRoot, binary)}). ${fix}`,
    );
  }
  const found = readPackageJson(dir).version;
  if (found !== expected) {
    throw new LanceDbRuntimeError(
      `${LANCEDB_ARM64_PACKAGE} ${found} in .lambda-native does not match @lancedb/lancedb ${expected}. ${fix}`,
    );
  }
  if (elfMachine(binary) !== EM_AARCH64) {
    throw new LanceDbRuntimeError(
      `${path.relative(repoRoot, binary)} is not a linux-arm64 (AArch64 ELF) binary. ${fix}`,
    );
  }
  return dir;
}

/**
 * Assembles `<stagingDir>/node_modules` for the LanceDB functions: `LANCEDB_EXTERNALS` and their runtime
 * dependencies from the project's `node_modules/` (same nesting, so Node resolves them as it does here), and the
 * arm64 binary. Fails loudly when the binary is missing or the result would not fit Lambda's limit.
 */
export function stageLanceDbRuntime(repoRoot: string, stagingDir: string): StagedRuntime {
  const arm64Dir = findArm64Binary(repoRoot);
  fs.rmSync(stagingDir, { recursive: true, force: true });
  const modulesRoot = path.join(repoRoot, 'node_modules');
  const copied = new Set<string>();
  let bytes = 0;
  const visit = (name: string, fromDir: string) => {
    const dir = findPackageDir(name, fromDir, repoRoot);
    if (!dir) {
      throw new LanceDbRuntimeError(
        `${name}, needed by the LanceDB functions, is not installed: run \`npm ci\`.`,
      );
    }
    const relative = path.relative(modulesRoot, dir);
    if (copied.has(relative)) return;
    copied.add(relative);
    bytes += copyPackage(dir, path.join(stagingDir, 'node_modules', relative));
    for (const dependency of Object.keys(readPackageJson(dir).dependencies ?? {})) {
      // Type packages are for the compiler; nothing requires them at run time.
      if (!dependency.startsWith('@types/')) visit(dependency, dir);
    }
  };
  for (const name of LANCEDB_EXTERNALS) visit(name, repoRoot);
  bytes += copyPackage(arm64Dir, path.join(stagingDir, 'node_modules', LANCEDB_ARM64_PACKAGE));
  copied.add(LANCEDB_ARM64_PACKAGE);
  if (bytes + BUNDLE_HEADROOM_BYTES > LAMBDA_UNZIPPED_LIMIT_BYTES) {
    throw new LanceDbRuntimeError(
      `The LanceDB functions' node_modules is ${(bytes / 2 ** 20).toFixed(1)} MB: with the bundle it would not fit ` +
        `Lambda's 250 MB limit on unzipped code.`,
    );
  }
  return { dir: stagingDir, packages: [...copied].sort(), bytes };
}

/** Total size of the files under `dir`, as Lambda counts unzipped code. */
export function directoryBytes(dir: string): number {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return bytes;
}
