/**
 * Run by the bundling of every function that does not use LanceDB (`node infra/check-bundle.cts <index.js>
 * <entry>`, Node strips the types): loads the bundle as Lambda would on a cold start, with `@lancedb/*`
 * unresolvable, since those functions ship without the LanceDB layer. Fails synth, naming the cause, when the
 * bundle loads LanceDB at module load or does not load at all. Self-contained: Node runs it without a compiler.
 */
const Module = require('node:module') as {
  _resolveFilename(request: string, ...rest: unknown[]): string;
};

const [bundle, entry] = process.argv.slice(2);
if (!bundle || !entry) {
  console.error('usage: node infra/check-bundle.cts <bundle index.js> <handler entry>');
  process.exit(2);
}

const NOT_SHIPPED = 'LanceDB is not shipped with this function';
const resolve = Module._resolveFilename;
Module._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  if (request.startsWith('@lancedb/')) throw new Error(`${NOT_SHIPPED}: ${request}`);
  return resolve.call(this, request, ...rest);
};

try {
  const loaded = require(bundle) as { handler?: unknown };
  if (typeof loaded.handler !== 'function') {
    console.error(`${entry}: the bundle loads but exports no \`handler\` function`);
    process.exit(1);
  }
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes(NOT_SHIPPED)) {
    console.error(
      `${entry} loads @lancedb/lancedb as soon as its module is loaded (directly or through a module it imports), ` +
        'but its registry entry has usesLanceDb: false, so it ships without LanceDB and would fail on its first ' +
        'cold start. Import LanceDB lazily (await import) where it is used, or mark the step usesLanceDb: true.',
    );
  } else {
    console.error(`${entry}: the bundle fails to load, as it would on Lambda: ${message}`);
  }
  process.exit(1);
}
