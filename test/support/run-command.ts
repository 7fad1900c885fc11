import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../../scripts/local/stack';

/** A command's run as a person sees it: its exit code and everything it printed. */
export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Only what a shell needs: none of the developer's model, store or endpoint settings leak into a test. */
export function shellEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[name]) env[name] = process.env[name];
  return { ...env, ...extra };
}

/**
 * Node's arguments that load TypeScript through tsx's loader in the same process, as `npm run dev` does. Not tsx's
 * CLI: it runs the script in a second process and relays a signal only if that process says within 30 ms that it
 * got it, else kills it (exit 143), which a loaded machine misses.
 */
export const TSX_NODE_ARGS = [
  '--import',
  pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
];

/** Starts `scripts/<script>` as `npm run` would (through tsx), in `cwd`, where it keeps its `.local/`. */
export function startScript(
  script: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ChildProcess & { output(): { stdout: string; stderr: string }; exited: Promise<CommandRun> } {
  const child = spawn(process.execPath, [...TSX_NODE_ARGS, join(REPO_ROOT, 'scripts', script), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? shellEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<CommandRun>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return Object.assign(child, { output: () => ({ stdout, stderr }), exited });
}

/** Runs `scripts/<script>` to its end. */
export function runScript(
  script: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandRun> {
  return startScript(script, args, options).exited;
}

/** Waits until `check` returns a value, polling; fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
