/**
 * The bundling hook of every function not marked `usesLanceDb` (`node infra/check-no-lancedb.cts <metafile>`;
 * Node strips the types, so it runs without a compiler and imports nothing of the project). Such a function
 * ships without the LanceDB layer, so it must not load `@lancedb/*` when its module loads: this follows esbuild's
 * metafile from the entry through static imports (a dynamic `import()` is lazy and is not followed) and fails
 * synth, printing the import chain, when one reaches LanceDB. It then deletes the metafile, which is not shipped.
 */
const fs = require('node:fs') as typeof import('node:fs');

interface Metafile {
  inputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
  outputs: Record<string, { entryPoint?: string }>;
}

const metafilePath = process.argv[2];
if (!metafilePath) {
  console.error('usage: node infra/check-no-lancedb.cts <index.meta.json>');
  process.exit(2);
}
const meta = JSON.parse(fs.readFileSync(metafilePath, 'utf8')) as Metafile;
fs.rmSync(metafilePath);

const entry = Object.values(meta.outputs).find((output) => output.entryPoint)?.entryPoint;
if (!entry) {
  console.error(`${metafilePath} names no entry point`);
  process.exit(2);
}

/** How each module was first reached from the entry, to print the chain. */
const reachedFrom = new Map<string, string | undefined>([[entry, undefined]]);
const queue = [entry];
for (let module = queue.shift(); module !== undefined; module = queue.shift()) {
  for (const imported of meta.inputs[module]?.imports ?? []) {
    if (imported.kind === 'dynamic-import') continue;
    if (imported.external && imported.path.startsWith('@lancedb/')) {
      const chain = [imported.path, module];
      for (let from = reachedFrom.get(module); from !== undefined; from = reachedFrom.get(from))
        chain.push(from);
      console.error(
        `${entry} loads ${imported.path} as soon as its module is loaded (${chain.reverse().join(' → ')}), but ` +
          'its registry entry has usesLanceDb: false, so its Lambda ships without LanceDB and would fail on its ' +
          'first cold start. Import LanceDB lazily (await import) where it is used, or mark the step usesLanceDb: true.',
      );
      process.exit(1);
    }
    if (!imported.external && !reachedFrom.has(imported.path)) {
      reachedFrom.set(imported.path, module);
      queue.push(imported.path);
    }
  }
}
