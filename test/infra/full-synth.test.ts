import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { conversationFunctions, type StepFunctionSpec } from '../../functions/conversation-functions';
import { ingestFunctions } from '../../functions/ingest-functions';
import { INIT_MODULE_FILE } from '../../infra/lambda-bundling';
import {
  directoryBytes,
  findArm64Binary,
  LAMBDA_UNZIPPED_LIMIT_BYTES,
  LANCEDB_ARM64_BINARY,
  LANCEDB_ARM64_PACKAGE,
} from '../../infra/lancedb-runtime';
import { bundleFunctions } from '../../scripts/bench/cold-start';
import { REPO_ROOT } from './synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

const MB = 2 ** 20;
const registry: Record<string, StepFunctionSpec> = { ...conversationFunctions, ...ingestFunctions };

/** An HTTP(S) proxy that only counts who tried to use it: the synth below must never reach the network. */
async function startCountingProxy(): Promise<{ url: string; attempts: string[]; close(): Promise<void> }> {
  const attempts: string[] = [];
  const server = http.createServer((req, res) => {
    attempts.push(`${req.method} ${req.url}`);
    res.writeHead(502).end();
  });
  server.on('connect', (req, socket) => {
    attempts.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    attempts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function elfMachine(file: string): number {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, header, 0, 20, 0);
  fs.closeSync(fd);
  return header.readUInt16LE(18);
}

/**
 * The arm64 binary comes from `npm run lambda:native`, which CI runs (`CI` set); a fresh clone's `npm test`
 * skips this file until it is run, rather than fail on a step the Quick start does not ask for.
 */
const hasArm64Binary = (() => {
  try {
    findArm64Binary(REPO_ROOT);
    return true;
  } catch {
    return false;
  }
})();
const runSynth = hasArm64Binary || Boolean(process.env.CI);
const describeSynth = runSynth ? describe : describe.skip;

/**
 * One real `cdk synth`, as a user runs it from a fresh clone (after `npm ci` and `npm run lambda:native`): the
 * CLI, cdk.json, the app, esbuild bundling of every function, the LanceDB layer, cdk-nag as a validation plugin
 * and CDK's own template validation. Then the assets are checked where they are written.
 */
describeSynth(
  `cdk synth, for real${runSynth ? '' : ' (skipped: no linux-arm64 LanceDB binary; npm run lambda:native fetches it)'}`,
  () => {
    let outdir: string;
    let result: { code: number | null; output: string; ms: number };
    let attempts: string[];
    let template: Json;

    beforeAll(async () => {
      outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'slack-rag-bot-synth-'));
      const proxy = await startCountingProxy();
      const started = Date.now();
      try {
        result = await new Promise((resolve) => {
          const proxyEnv = {
            HTTPS_PROXY: proxy.url,
            HTTP_PROXY: proxy.url,
            https_proxy: proxy.url,
            http_proxy: proxy.url,
          };
          const child = spawn(
            process.execPath,
            [
              path.join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'),
              'synth',
              '--quiet',
              '--output',
              outdir,
            ],
            { cwd: REPO_ROOT, env: { ...process.env, ...proxyEnv, NO_PROXY: '', no_proxy: '' } },
          );
          let output = '';
          child.stdout.on('data', (chunk) => {
            output += chunk;
          });
          child.stderr.on('data', (chunk) => {
            output += chunk;
          });
          child.on('close', (code) => resolve({ code, output, ms: Date.now() - started }));
        });
      } finally {
        attempts = proxy.attempts;
        await proxy.close();
      }
      if (result.code === 0) {
        template = JSON.parse(fs.readFileSync(path.join(outdir, 'SlackRagBot.template.json'), 'utf8'));
      }
    }, 300_000);
    afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

    it('succeeds, offline: no request leaves the machine', () => {
      expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
        code: 0,
        output: '',
      });
      expect(attempts).toEqual([]);
      console.info(`cdk synth with bundling took ${(result.ms / 1000).toFixed(1)} s`);
    });

    it('passes cdk-nag and CloudFormation validation', () => {
      const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
      const failures = report.pluginReports.flatMap((p: Json) =>
        (p.violations ?? p.conclusion?.violations ?? []).map((v: Json) => `${p.pluginName}: ${v.ruleName}`),
      );
      expect(failures).toEqual([]);
    });

    it('bundles each function alone, the LanceDB ones with the arm64 layer, all within Lambda limits', () => {
      const assetDir = (code: Json) => path.join(outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
      const layers = Object.entries<Json>(template.Resources).filter(
        ([, r]) => r.Type === 'AWS::Lambda::LayerVersion',
      );
      expect(layers).toHaveLength(1);
      const [layerId, layer] = layers[0] as [string, Json];
      const layerDir = assetDir(layer.Properties.Content);
      const binary = path.join(
        layerDir,
        'nodejs',
        'node_modules',
        LANCEDB_ARM64_PACKAGE,
        LANCEDB_ARM64_BINARY,
      );
      expect(elfMachine(binary)).toBe(183); // AArch64
      const layerBytes = directoryBytes(layerDir);
      // The optional dependencies LanceDB does not need are not in the layer.
      for (const absent of [
        'openai',
        '@huggingface',
        'onnxruntime-node',
        'sharp',
        '@lancedb/lancedb-linux-x64-gnu',
      ]) {
        expect(fs.existsSync(path.join(layerDir, 'nodejs', 'node_modules', absent))).toBe(false);
      }

      const sizes: string[] = [`LanceDB layer: ${(layerBytes / MB).toFixed(1)} MB unzipped`];
      const functions = Object.values<Json>(template.Resources).filter(
        (r) => r.Type === 'AWS::Lambda::Function',
      );
      expect(functions).toHaveLength(Object.keys(registry).length + 1);
      for (const fn of functions) {
        const dir = assetDir(fn.Properties.Code);
        const entry = /\((functions\/[^)]+)\)/.exec(fn.Properties.Description)?.[1] ?? 'functions/ack.ts';
        const spec = Object.values(registry).find((s) => s.entry === entry);
        const usesLanceDb = spec?.usesLanceDb ?? false;
        const bundle = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
        // A function with an init module has it beside the bundle, and it is the handler (infra/bot-function.ts).
        if (spec?.initModule === undefined) {
          expect(fs.readdirSync(dir).sort()).toEqual(['index.js']);
          expect(fn.Properties.Handler).toBe('index.handler');
        } else {
          expect(fs.readdirSync(dir).sort()).toEqual(['index.js', INIT_MODULE_FILE]);
          expect(fs.readFileSync(path.join(dir, INIT_MODULE_FILE))).toEqual(
            fs.readFileSync(path.join(REPO_ROOT, spec.initModule)),
          );
          expect(fn.Properties.Handler).toBe('init.handler');
        }
        const bytes = directoryBytes(dir);
        // No bundle holds LanceDB's own code or a binary: the LanceDB functions take both from the layer.
        expect(bundle).not.toContain('NAPI_RS_NATIVE_LIBRARY_PATH');
        expect(bundle).not.toContain('lancedb-linux');
        if (usesLanceDb) {
          expect(fn.Properties.Layers).toEqual([{ Ref: layerId }]);
          expect(bundle).toContain('require("@lancedb/lancedb")');
          expect(bytes + layerBytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT_BYTES);
        } else {
          // A lazy `require` of LanceDB may remain; synth loaded this bundle with LanceDB unresolvable, as its
          // cold start will be, and it loaded.
          expect(fn.Properties.Layers).toBeUndefined();
        }
        sizes.push(
          `${entry}: ${(bytes / MB).toFixed(2)} MB` +
            (usesLanceDb ? ` + layer = ${((bytes + layerBytes) / MB).toFixed(1)} MB unzipped` : ''),
        );
      }
      console.info(sizes.join('\n'));
    });

    it('deploys byte for byte the bundles the bench measures and test/infra/lambda-bundles.test.ts runs', async () => {
      // Both bundle with infra/lambda-bundling.ts: CDK through NodejsFunction's props, the bench with esbuild's API.
      const benchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slack-rag-bot-bench-bundles-'));
      try {
        const bundles = await bundleFunctions(benchDir);
        const functions = Object.values<Json>(template.Resources).filter(
          (r) => r.Type === 'AWS::Lambda::Function',
        );
        const compared = functions.map((fn) => {
          const entry = /\((functions\/[^)]+)\)/.exec(fn.Properties.Description)?.[1] ?? 'functions/ack.ts';
          const bench = bundles.find((b) => b.entry === entry);
          const deployed = path.join(
            outdir,
            `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`,
            'index.js',
          );
          return {
            entry,
            identical: bench !== undefined && fs.readFileSync(deployed).equals(fs.readFileSync(bench.file)),
          };
        });
        expect(compared).toEqual(compared.map(({ entry }) => ({ entry, identical: true })));
        expect(compared).toHaveLength(bundles.length);
      } finally {
        fs.rmSync(benchDir, { recursive: true, force: true });
      }
    }, 120_000);

    const x64 = process.platform === 'linux' && process.arch === 'x64';
    (x64 ? it : it.skip)(
      `gives the Retrieve bundle LanceDB and apache-arrow from the layer’s path${x64 ? '' : ' (skipped: it loads the x64 binary, so linux-x64 only)'}`,
      () => {
        // Lambda puts /opt/nodejs/node_modules on NODE_PATH; here the layer's directory stands in for /opt, and the
        // x64 binary for the arm64 one (same version), which this machine cannot load.
        const retrieve = Object.values<Json>(template.Resources).find((r) =>
          String(r.Properties?.Description).includes('(functions/retrieve.ts)'),
        );
        const layer = Object.values<Json>(template.Resources).find(
          (r) => r.Type === 'AWS::Lambda::LayerVersion',
        );
        const asset = (code: Json) => path.join(outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
        const x64Binary = path.join(
          REPO_ROOT,
          'node_modules',
          '@lancedb',
          'lancedb-linux-x64-gnu',
          'lancedb.linux-x64-gnu.node',
        );
        const loaded = spawnSync(
          process.execPath,
          [
            '-e',
            'const m = require(process.argv[1]); if (typeof m.handler !== "function") process.exit(2)',
            path.join(asset(retrieve.Properties.Code), 'index.js'),
          ],
          {
            cwd: os.tmpdir(),
            env: {
              PATH: process.env.PATH,
              NODE_PATH: path.join(asset(layer.Properties.Content), 'nodejs', 'node_modules'),
              NAPI_RS_NATIVE_LIBRARY_PATH: x64Binary,
            },
            encoding: 'utf8',
          },
        );
        expect({ status: loaded.status, stderr: loaded.stderr }).toEqual({ status: 0, stderr: '' });
      },
    );
  },
);
