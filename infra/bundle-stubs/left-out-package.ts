/**
 * What a Lambda bundle holds in place of a package it leaves out (`LEFT_OUT_PACKAGES` in infra/lambda-bundling.ts).
 * A dependency may still require such a package when it loads, as `@slack/bolt` requires its HTTP and Socket Mode
 * receivers' packages whichever receiver the app is given; loading works, but any use of the package throws,
 * naming the use, so a code path that needs it fails loudly instead of running on with `undefined`.
 */

/** Not exported: the module's only export is the stand-in itself, as a CommonJS module's would be. */
class LeftOutPackageError extends Error {
  override name = 'LeftOutPackageError';
}

function fail(use: string): never {
  throw new LeftOutPackageError(
    `${use} a package this Lambda bundle leaves out (LEFT_OUT_PACKAGES in infra/lambda-bundling.ts): ` +
      'the function was not expected to use it. Remove the package from LEFT_OUT_PACKAGES if it must.',
  );
}

/**
 * A function, so that calling or constructing the package's export reaches the traps below. Module interop reads
 * `__esModule` and `then` and inspects symbols when a module loads; those read as absent, and nothing else can be read.
 */
const leftOutPackage: object = new Proxy(function leftOutPackage() {}, {
  get(_target, key) {
    if (typeof key === 'symbol' || key === '__esModule' || key === 'then') return undefined;
    return fail(`Reading "${key}" of`);
  },
  apply: () => fail('Calling'),
  construct: () => fail('Constructing'),
});

export = leftOutPackage;
