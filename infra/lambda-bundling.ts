import * as path from 'node:path';
import { LANCEDB_EXTERNALS } from './lancedb-runtime';

/**
 * How every Lambda function is bundled: the one definition that the CDK function construct (`BotFunction`,
 * infra/bot-function.ts, through `nodejsBundling`) and the bench and tests (scripts/bench/bundle-settings.ts,
 * through `esbuildBundleOptions`) both read, so that what is measured is what is deployed. test/infra/full-synth
 * checks that the two give byte-identical bundles.
 */

const STUBS_DIR = path.join(__dirname, 'bundle-stubs');

/**
 * Packages no function runs but a dependency requires when it loads: `@slack/bolt`'s `App` requires its HTTP
 * receiver (`raw-body`, `@slack/oauth`), its Socket Mode receiver (`@slack/socket-mode`, which brings undici)
 * and its index the Express receiver (`express`), whatever receiver it is given; the ack gives it an
 * `AwsLambdaReceiver`. Together they were 2 MB of the ack's 2.6 MB. Each is replaced by a module that any use
 * fails loudly (bundle-stubs/left-out-package.ts); test/infra/lambda-bundles.test.ts runs the bundles.
 */
export const LEFT_OUT_PACKAGES = ['@slack/socket-mode', 'express', 'raw-body', '@slack/oauth'] as const;

/**
 * The entry points of `langsmith` that `@langchain/core` imports. The functions never trace to LangSmith, so
 * they get bundle-stubs/langsmith-off.ts: what LangChain uses with tracing off, and an error if tracing is turned
 * on. An import of any other entry point fails the bundling, naming it.
 */
export const LANGSMITH_ENTRY_POINTS = [
  'langsmith',
  'langsmith/run_trees',
  'langsmith/singletons/traceable',
] as const;

/**
 * The name a function's init module (StepFunctionSpec `initModule`) is deployed under, beside the bundle's
 * `index.js`; its handler is then `init.handler`.
 */
export const INIT_MODULE_FILE = 'init.mjs';

export interface LambdaBundleSettings {
  target: 'node24';
  format: 'cjs';
  minify: true;
  /** Kept so stack traces and LangChain's class-name based serialisation read as in the source. */
  keepNames: true;
  /**
   * A source map would double the zip and `--enable-source-maps` slows every cold start; the stack traces keep
   * their function names (keepNames) and the errors their explicit names.
   */
  sourcemap: false;
  /**
   * The ES module build of a package before its CommonJS one, when it has both and no `exports` map (the AWS SDK
   * and Smithy packages): esbuild drops the ES exports nothing imports, which it cannot do in CommonJS. Same
   * code, a third smaller (the AWS SDK of Load history: 0.78 MB to 0.52 MB).
   */
  mainFields: string[];
  /** Non-ASCII text as UTF-8 rather than `\uXXXX` escapes (Node reads sources as UTF-8): zod's locales shrink. */
  charset: 'utf8';
  /**
   * LanceDB is left out of every bundle: the LanceDB functions find it (and apache-arrow) in their layer, and any
   * other function must not load it at module load (checked after bundling: infra/check-no-lancedb.cts). The AWS
   * SDK v3 clients are bundled, at the versions the tests ran, not taken from the runtime.
   */
  external: string[];
  /** Bare import paths replaced by a file: the left-out packages and LangSmith. */
  alias: Record<string, string>;
  logLevel: 'warning';
}

/** The bundling of one function; `usesLanceDb` leaves apache-arrow to the LanceDB layer too. */
export function lambdaBundleSettings(usesLanceDb: boolean): LambdaBundleSettings {
  return {
    target: 'node24',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    charset: 'utf8',
    external: usesLanceDb ? [...LANCEDB_EXTERNALS] : ['@lancedb/lancedb'],
    alias: {
      ...Object.fromEntries(
        LEFT_OUT_PACKAGES.map((name) => [name, path.join(STUBS_DIR, 'left-out-package.ts')]),
      ),
      ...Object.fromEntries(
        LANGSMITH_ENTRY_POINTS.map((name) => [name, path.join(STUBS_DIR, 'langsmith-off.ts')]),
      ),
    },
    logLevel: 'warning',
  };
}

/**
 * The settings as `NodejsFunction`'s bundling props take them (with `OutputFormat.CJS` and `LogLevel.WARNING`
 * from aws-cdk-lib, set by the construct). What `NodejsFunction` has no prop for goes through `esbuildArgs`:
 * its `charset` prop is not passed to esbuild by aws-cdk-lib 2.276, so it is given as `--charset` too.
 */
export function nodejsBundling(usesLanceDb: boolean): {
  target: string;
  minify: boolean;
  keepNames: boolean;
  sourceMap: boolean;
  mainFields: string[];
  externalModules: string[];
  esbuildArgs: Record<string, string | string[]>;
} {
  const settings = lambdaBundleSettings(usesLanceDb);
  return {
    target: settings.target,
    minify: settings.minify,
    keepNames: settings.keepNames,
    sourceMap: settings.sourcemap,
    mainFields: settings.mainFields,
    externalModules: settings.external,
    esbuildArgs: {
      '--charset': settings.charset,
      '--alias': Object.entries(settings.alias).map(([name, file]) => `${name}=${file}`),
    },
  };
}
