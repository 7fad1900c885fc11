import type { BuildOptions } from 'esbuild';
import { LANCEDB_EXTERNALS } from '../../infra/lancedb-runtime';

/**
 * The esbuild settings of the production bundles, as the CDK function construct (`BotFunction`,
 * infra/bot-function.ts) gives them to `NodejsFunction`, which turns them into this esbuild command:
 * `esbuild --bundle <entry> --target=node24 --platform=node --format=cjs --outfile=<out>/index.js --minify
 * --external:<…> --log-level=warning --keep-names` (no source map, no tsconfig override, no main-fields).
 *
 * The construct does not export its bundling options, so they are mirrored here, in this one place (the externals
 * of LanceDB functions are imported from infra/lancedb-runtime.ts): when infra/bot-function.ts changes its
 * `bundling`, change this too.
 */

/**
 * The esbuild options `NodejsFunction` runs for a function's entry. Several entries of the same kind may be
 * given at once (with `outdir`): without code splitting each output is the same self-contained bundle a build of
 * that entry alone makes, and esbuild parses the modules they share once.
 */
export function productionBundleOptions(
  entries: Record<string, string>,
  outdir: string,
  usesLanceDb: boolean,
): BuildOptions {
  return {
    entryPoints: entries,
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: false,
    // Every other function leaves LanceDB out too: it must not load it at module load (the construct checks).
    external: usesLanceDb ? [...LANCEDB_EXTERNALS] : ['@lancedb/lancedb'],
    logLevel: 'warning',
  };
}
