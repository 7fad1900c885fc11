import { execFile } from 'node:child_process';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { conversationFunctions } from '../../functions/conversation-functions';
import { ingestFunctions } from '../../functions/ingest-functions';
import { REPO_ROOT } from '../local/stack';
import { placeInitModule, productionBundleOptions } from './bundle-settings';
import type { BenchContext } from './context';
import type { Figure, SectionResult } from './report';
import { median } from './stats';

const run = promisify(execFile);
const MB = 1_000_000;

/** The ack Lambda is in neither registry: its entry and memory are as infra/slack-rag-bot-stack.ts sets them. */
export const ACK_FUNCTION = { entry: 'functions/ack.ts', memoryMb: 1024, usesLanceDb: false } as const;

export interface BundledFunction {
  name: string;
  entry: string;
  usesLanceDb: boolean;
  memoryMb: number;
  /** The bundle (`<name>/index.js`). */
  file: string;
  /** What Lambda loads as the handler: the function's init module beside the bundle (`init.mjs`), else the bundle. */
  handlerFile: string;
  /** The spec's `initModule`, relative to the repository root. */
  initModule?: string;
  /** The packages in the bundle, largest first. */
  packages: { name: string; bytes: number }[];
}

/** Every function the product deploys: the ack, each conversation step, each ingest step. */
export function productionFunctions(): Omit<BundledFunction, 'file' | 'handlerFile' | 'packages'>[] {
  return [
    { name: 'Ack', ...ACK_FUNCTION },
    ...Object.entries({ ...conversationFunctions, ...ingestFunctions }).map(([placeholder, spec]) => ({
      name: placeholder.replace(/FunctionArn$/, ''),
      entry: spec.entry,
      usesLanceDb: spec.usesLanceDb,
      memoryMb: spec.memoryMb,
      ...('initModule' in spec && spec.initModule !== undefined ? { initModule: spec.initModule } : {}),
    })),
  ];
}

/** Which packages make up a bundle, largest first, from esbuild's metafile. */
function packagesOf(metafile: Metafile, output: string): { name: string; bytes: number }[] {
  const inputs = metafile.outputs[output]?.inputs ?? {};
  const byPackage = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = match?.[1] ?? '(project code)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Bundles every function as the CDK build does, into `<dir>/<name>/index.js`. LanceDB functions go under a
 * directory whose `node_modules` is the project's (their layer, on Lambda); the others under one with no
 * `node_modules` at all, as they ship.
 */
export async function bundleFunctions(workDir: string): Promise<BundledFunction[]> {
  const withLanceDb = join(workDir, 'bundles-lancedb');
  const plain = join(workDir, 'bundles');
  await mkdir(withLanceDb, { recursive: true });
  await mkdir(plain, { recursive: true });
  await symlink(resolve(REPO_ROOT, 'node_modules'), join(withLanceDb, 'node_modules'), 'dir').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
  const functions = productionFunctions();
  const bundled: BundledFunction[] = [];
  for (const usesLanceDb of [false, true]) {
    const group = functions.filter((fn) => fn.usesLanceDb === usesLanceDb);
    const outdir = usesLanceDb ? withLanceDb : plain;
    const result = await build({
      ...productionBundleOptions(
        Object.fromEntries(group.map((fn) => [`${fn.name}/index`, resolve(REPO_ROOT, fn.entry)])),
        outdir,
        usesLanceDb,
      ),
      absWorkingDir: REPO_ROOT,
      metafile: true,
    });
    for (const fn of group) {
      const file = join(outdir, fn.name, 'index.js');
      const handlerFile =
        fn.initModule === undefined ? file : await placeInitModule(fn.initModule, join(outdir, fn.name));
      bundled.push({
        ...fn,
        file,
        handlerFile,
        packages: packagesOf(result.metafile, relative(REPO_ROOT, file)),
      });
    }
  }
  return functions.map((fn) => bundled.find((b) => b.name === fn.name) as BundledFunction);
}

/**
 * What the OpenAI client alone weighs, bundled as the functions are: an entry that only builds LangChain's
 * `ChatOpenAI` (Condense question, Generate and stream) or `OpenAIEmbeddings` (Retrieve, ingest's Plan and
 * Batch), in bytes. The floor under every function that calls OpenAI through `@langchain/openai`.
 */
async function openAiClientBytes(outdir: string): Promise<{ chat: number; embeddings: number }> {
  const sizeOf = async (name: string, contents: string) => {
    const { outdir: _outdir, entryPoints: _entries, ...options } = productionBundleOptions({}, outdir, false);
    const outfile = join(outdir, name, 'index.js');
    await build({ ...options, stdin: { contents, resolveDir: REPO_ROOT, loader: 'ts' }, outfile });
    return (await stat(outfile)).size;
  };
  return {
    chat: await sizeOf(
      'ChatOpenAIAlone',
      "import { ChatOpenAI } from '@langchain/openai';\nexport const handler = async () => new ChatOpenAI({ apiKey: 'k', model: 'gpt-4.1-mini' });\n",
    ),
    embeddings: await sizeOf(
      'OpenAIEmbeddingsAlone',
      "import { OpenAIEmbeddings } from '@langchain/openai';\nexport const handler = async () => new OpenAIEmbeddings({ apiKey: 'k' });\n",
    ),
  };
}

/** Loads a bundle in a fresh Node process, as Lambda's init does, and returns how long `require` took. */
async function loadOnce(file: string): Promise<{ loadMs: number; bootMs: number }> {
  const script = `
    const { performance } = require('node:perf_hooks');
    const before = performance.now();
    const loaded = require(${JSON.stringify(file)});
    const after = performance.now();
    if (typeof loaded.handler !== 'function') throw new Error('no handler export');
    process.stdout.write(JSON.stringify({ loadMs: after - before, bootMs: before }));`;
  const { stdout } = await run(process.execPath, ['-e', script], {
    // Only what Lambda would set before init; no configuration is read at module load.
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', LOG_LEVEL: 'silent' },
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as { loadMs: number; bootMs: number };
}

/**
 * Section 2: each function's production bundle, its size and the time a fresh Node process takes to load it
 * (the `require` of the bundle, which is what a cold start adds to Node's own boot), median of several runs. The
 * baseline is an empty handler bundled with the same settings.
 */
export async function benchColdStart(ctx: BenchContext): Promise<SectionResult> {
  const runs = ctx.quick ? 3 : 5;
  ctx.log('coldStart: bundling every function with the CDK build’s esbuild settings');
  const bundles = await bundleFunctions(ctx.workDir);
  ctx.shared.set('bundles', Promise.resolve(bundles));
  const emptyEntry = join(ctx.workDir, 'empty-handler.ts');
  await writeFile(emptyEntry, 'export const handler = async () => ({ statusCode: 200 });\n');
  await build({
    ...productionBundleOptions({ 'EmptyHandler/index': emptyEntry }, join(ctx.workDir, 'bundles'), false),
    absWorkingDir: REPO_ROOT,
  });
  const emptyFile = join(ctx.workDir, 'bundles', 'EmptyHandler', 'index.js');

  ctx.log(`coldStart: loading each bundle in ${runs} fresh Node processes`);
  const emptyLoads: number[] = [];
  const measured: { fn: BundledFunction; bytes: number; loads: number[]; boots: number[] }[] = [];
  for (const fn of bundles) {
    const loads: number[] = [];
    const boots: number[] = [];
    // The full run loads each bundle once unmeasured first, so that every measured run reads its files (the
    // native module above all) from the page cache, as a warm host does; the quick run measures from the start.
    if (!ctx.quick) await loadOnce(fn.file);
    for (let i = 0; i < runs; i++) {
      const once = await loadOnce(fn.file);
      loads.push(once.loadMs);
      boots.push(once.bootMs);
    }
    // The baseline is loaded between the others, so that it sees the same moments of the machine.
    emptyLoads.push((await loadOnce(emptyFile)).loadMs);
    measured.push({ fn, bytes: (await stat(fn.file)).size, loads, boots });
  }
  const emptyBytes = (await stat(emptyFile)).size;
  const openAi = await openAiClientBytes(join(ctx.workDir, 'bundles'));
  const emptyMs = median(emptyLoads);

  const figures: Figure[] = measured.flatMap(({ fn, bytes, loads }) => [
    {
      name: `${fn.name}${fn.usesLanceDb ? ' (LanceDB)' : ''}: bundle`,
      value: bytes / MB,
      unit: 'MB' as const,
      baseline: emptyBytes / MB,
      ...(fn.usesLanceDb ? {} : { target: { max: 1.5 } }),
    },
    {
      name: `${fn.name}${fn.usesLanceDb ? ' (LanceDB)' : ''}: load`,
      value: median(loads),
      unit: 'ms' as const,
      baseline: emptyMs,
      ...(fn.usesLanceDb ? {} : { target: { max: 200 } }),
    },
  ]);
  const lanceDbNative = await nativeModuleBytes();
  // What the smallest bundle that misses its size target carries, largest parts first.
  const heaviest = measured
    .filter((m) => !m.fn.usesLanceDb && m.bytes > 1.5 * MB)
    .sort((a, b) => a.bytes - b.bytes)[0];
  const carried = (heaviest?.fn.packages ?? [])
    .slice(0, 5)
    .map((p) => `${p.name} ${(p.bytes / 1000).toFixed(0)} kB`)
    .join(', ');
  return {
    key: 'coldStart',
    title: 'Cold start: bundle size and load time',
    workload:
      `${bundles.length} production bundles, built as CDK builds them from infra/lambda-bundling.ts (esbuild: cjs, node24, minified, keepNames, no source map, module-first main fields, UTF-8; Bolt's unused receiver packages and langsmith aliased to stand-ins; @lancedb/lancedb external everywhere, apache-arrow too in LanceDB functions), ` +
      `each required in ${runs} fresh Node processes${ctx.quick ? '' : ' after one unmeasured load'} (median); MB = 10^6 bytes; bundle size is index.js alone`,
    baseline:
      'an empty handler (`export const handler = async () => ({})`) bundled with the same settings, loaded between the others',
    figures,
    notes: [
      ...(heaviest === undefined
        ? []
        : [
            `Largest parts of the smallest bundle over 1.5 MB, ${heaviest.fn.name} (${(heaviest.bytes / MB).toFixed(2)} MB): ${carried} (every bundle’s in details.functions[].largestPackages).`,
          ]),
      `The OpenAI client alone, bundled the same way (an entry that only builds it): ChatOpenAI ${(openAi.chat / MB).toFixed(2)} MB, OpenAIEmbeddings ${(openAi.embeddings / MB).toFixed(2)} MB (the openai SDK, zod 3 and 4 with zod's locales, @langchain/core): the floor of every function that calls OpenAI through @langchain/openai, before the AWS SDK and its own code.`,
      `LanceDB functions also ship the LanceDB layer (its JavaScript, apache-arrow and the native module: ${(lanceDbNative / MB).toFixed(0)} MB for linux-x64 here, the arm64 one is similar), and their load time includes loading that native module on this x86_64 machine.`,
      `Load is the bundle’s require only; Node’s own boot before it took a median ${median(measured.flatMap((m) => m.boots)).toFixed(0)} ms here and is the same for every function (Lambda’s runtime boot is on top, and not measured here).`,
    ],
    details: {
      runs,
      emptyHandler: { bytes: emptyBytes, loadMs: Math.round(emptyMs * 100) / 100 },
      functions: measured.map(({ fn, bytes, loads, boots }) => ({
        name: fn.name,
        entry: fn.entry,
        usesLanceDb: fn.usesLanceDb,
        memoryMb: fn.memoryMb,
        bytes,
        loadMs: Math.round(median(loads) * 100) / 100,
        loadMsRuns: loads.map((x) => Math.round(x * 10) / 10),
        nodeBootMs: Math.round(median(boots)),
        largestPackages: fn.packages.slice(0, 6),
      })),
      lanceDbNativeModuleBytes: lanceDbNative,
      openAiClientAloneBytes: openAi,
    },
  };
}

async function nativeModuleBytes(): Promise<number> {
  const dir = join(REPO_ROOT, 'node_modules', '@lancedb', `lancedb-${process.platform}-${process.arch}-gnu`);
  const { stdout } = await run('du', ['-sb', dir]).catch(() => ({ stdout: '0' }));
  return Number(stdout.split(/\s/)[0]) || 0;
}
