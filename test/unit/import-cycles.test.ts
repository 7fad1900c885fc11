import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The commands (scripts/) and the stand-ins (stand-ins/) import one another in one direction only: no module
 * reaches itself through its imports (issue 19: scripts/local/stack.ts and ask-client.ts did). Imports are read
 * with the TypeScript compiler's pre-processor, which only scans a file's import and require statements (static,
 * dynamic and type-only ones alike), so the whole check takes well under a second.
 */

const REPO_ROOT = resolve(__dirname, '../..');
const ROOTS = ['scripts', 'stand-ins'].map((name) => join(REPO_ROOT, name));

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The file a relative specifier names, as Node's resolution with TypeScript's extensions finds it. */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts'), base].find(
    (path) => existsSync(path) && statSync(path).isFile(),
  );
}

/** Each module's imports of other modules of scripts/ and stand-ins/. */
function importGraph(): Map<string, string[]> {
  const files = ROOTS.flatMap(sourceFiles);
  const inScope = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .filter(({ fileName }) => fileName.startsWith('.'))
      .map(({ fileName }) => resolveSpecifier(file, fileName))
      .filter((target): target is string => target !== undefined && inScope.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the chain of files that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (state.get(file) === undefined) visit(file);
  return found;
}

describe('imports among scripts/ and stand-ins/', () => {
  it('form no cycle', () => {
    // Arrange
    const graph = importGraph();

    // Act
    const found = cycles(graph).map((cycle) => cycle.map((file) => relative(REPO_ROOT, file)).join(' → '));

    // Assert
    expect(graph.size).toBeGreaterThan(50);
    expect(found).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    // Arrange
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);

    // Act
    const found = cycles(graph);

    // Assert
    expect(found).toEqual([['a', 'b', 'c', 'a']]);
  });
});
