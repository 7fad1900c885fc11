import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { assertStagingKey, LOCAL_STAGING_BUCKET, type StagingStore } from './staging-store';

/** A staging store in a local directory (`npm run ingest`, tests): one file per key, created on first write. */
export class FileSystemStagingStore implements StagingStore {
  constructor(private readonly root: string) {}

  get location(): string {
    return this.root;
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    assertStagingKey(key);
    const path = join(this.root, key);
    await mkdir(dirname(path), { recursive: true });
    // Written beside and renamed, so a reader never sees half a file.
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, body);
    await rename(temporary, path);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStagingKey(key);
    try {
      return await readFile(join(this.root, key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, prefix), { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return entries
      .filter((entry) => entry.isFile() && !entry.name.endsWith('.tmp'))
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    const count = (await this.list(prefix)).length;
    await rm(join(this.root, prefix), { recursive: true, force: true });
    return count;
  }

  locate(key: string): { bucket: string; key: string } {
    assertStagingKey(key);
    return { bucket: LOCAL_STAGING_BUCKET, key };
  }
}
