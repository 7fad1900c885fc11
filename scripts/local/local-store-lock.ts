import { existsSync } from 'node:fs';

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
      return `another local command (a sync, or npm run ask) is using ${path}; try again when it has finished`;
    }
    return undefined;
  }
  await db.close();
  return undefined;
}
