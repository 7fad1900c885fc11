import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * dynalite keeps a directory-backed store (`.local/dynamodb`) in LevelDB, which one process opens at a time; a
 * second process's dynalite fails later, with an uncaught "Database is closed" thrown from inside dynalite. This
 * opens the store first with dynalite's own storage library and, when another process holds it, says so.
 *
 * @returns a message naming the problem when the store is in use, `undefined` when it is free (or cannot be
 *   probed, in which case dynalite reports for itself).
 */
export async function localStoreInUse(path: string): Promise<string | undefined> {
  if (!existsSync(path)) return undefined;
  type Level = { open(): Promise<void>; close(): Promise<void> };
  let LevelClass: (new (location: string) => Level) | undefined;
  try {
    // dynalite's storage: present wherever dynalite is, though this project does not depend on it by name.
    LevelClass = (require('level') as { Level: new (location: string) => Level }).Level;
  } catch {
    return undefined;
  }
  const db = new LevelClass(path);
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      return `another local command (npm run ingest, npm run ask or npm run dev) is using ${path}; try again when it has finished`;
    }
    return undefined;
  }
  await db.close();
  return undefined;
}

/** Where a running `npm run dev` says how to reach it, so that the other local commands use its stores. */
export const DEV_STATE_FILE = '.local/dev.json';

/** What `npm run dev` writes to DEV_STATE_FILE while it runs. */
export interface DevState {
  pid: number;
  startedAt: string;
  /** The Slack Request URL. */
  eventsUrl: string;
  /** Where a local command asks a question (stack.ts, LOCAL_ASK_PATH). */
  askUrl: string;
  transcriptUrl: string;
  /** The fake Slack's Web API. */
  slackApiUrl: string;
  /** DynamoDB (dynalite over `.local/dynamodb`): thread history, the ingest manifest and the sync lock. */
  dynamodbEndpoint: string;
  /** Signs requests to the Request URL, and authorizes requests to the ask route. */
  signingSecret: string;
  lancedbUri: string;
}

/** Records a running `npm run dev`, readable by this user only (it holds the signing secret). */
export function writeDevState(state: DevState, file = DEV_STATE_FILE): void {
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Removes the record, if it is still this process's (a second dev that was refused must not remove the first's). */
export function removeDevState(file = DEV_STATE_FILE, pid = process.pid): void {
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevState>;
    if (state.pid === pid) rmSync(file, { force: true });
  } catch {
    // Absent or unreadable: nothing of ours to remove.
  }
}

/**
 * The `npm run dev` running from this directory, if any: its record, when its process is alive and answers on its
 * Request URL's port. A record left by a dev that died (killed, or the machine restarted) is removed.
 */
export async function runningDev(file = DEV_STATE_FILE): Promise<DevState | undefined> {
  let state: DevState;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as DevState;
  } catch {
    return undefined;
  }
  if (!isAlive(state.pid) || !(await answers(state.eventsUrl))) {
    rmSync(file, { force: true });
    return undefined;
  }
  return state;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    // Any HTTP answer will do (the Request URL answers a GET with 404): something is listening there.
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}
