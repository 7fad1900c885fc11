import { copyFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { INIT_MODULE_FILE, lambdaBundleSettings } from '../../infra/lambda-bundling';
import { REPO_ROOT } from '../local/stack';

/**
 * The esbuild settings of the production bundles, from the definition the CDK function construct bundles with
 * (infra/lambda-bundling.ts): `NodejsFunction` turns the same settings into `esbuild --bundle <entry>
 * --target=node24 --platform=node --format=cjs --outfile=<out>/index.js --minify --external:<…> --log-level=warning
 * --keep-names --main-fields=module,main --charset=utf8 --alias:<package>=<stub> …` (no source map, no tsconfig
 * override), run from the repository root. test/infra/full-synth.test.ts checks that both give the same bytes.
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
    ...lambdaBundleSettings(usesLanceDb),
  };
}

/**
 * Puts a function's init module (StepFunctionSpec `initModule`) beside its bundle in `bundleDir`, as CDK's
 * afterBundling hook does (infra/bot-function.ts), and returns what Lambda then loads as the handler.
 */
export async function placeInitModule(initModule: string, bundleDir: string): Promise<string> {
  const handlerFile = join(bundleDir, INIT_MODULE_FILE);
  await copyFile(resolve(REPO_ROOT, initModule), handlerFile);
  return handlerFile;
}
