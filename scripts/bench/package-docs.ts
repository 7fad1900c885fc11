import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from '../local/stack';

/** A corpus of real Markdown that no one on this project wrote. */
export interface RealCorpus {
  /** The folder holding it, to name as an origin. */
  root: string;
  /** Every file copied, relative to `root`. */
  files: string[];
  bytes: number;
}

const MARKDOWN = /\.(md|markdown)$/i;

/**
 * Copies the Markdown documentation shipped in the project's own `node_modules` (READMEs, changelogs, docs
 * folders of some 450 packages: thousands of files by hundreds of authors) into `root`, keeping each file's path
 * under its package. The same lockfile gives the same corpus on every machine. Hidden folders (`.github`) are
 * left out, as an origin leaves them out; `node_modules` itself is renamed, since an origin skips it too.
 */
export async function copyPackageDocs(
  root: string,
  source = join(REPO_ROOT, 'node_modules'),
): Promise<RealCorpus> {
  const files: string[] = [];
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && MARKDOWN.test(entry.name)) {
        const target = relative(source, path).split('/node_modules/').join('/packages/');
        await mkdir(dirname(join(root, target)), { recursive: true });
        await copyFile(path, join(root, target));
        files.push(target);
        bytes += (await stat(path)).size;
      }
    }
  };
  await walk(source);
  return { root, files, bytes };
}
