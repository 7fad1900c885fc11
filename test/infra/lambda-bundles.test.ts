import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Env } from '../../functions/core/config';
import { LEFT_OUT_PACKAGES } from '../../infra/lambda-bundling';
import { type BundledFunction, bundleFunctions, productionFunctions } from '../../scripts/bench/cold-start';
import { BUCKET, containerEnv, EMBEDDING_MODEL } from '../../scripts/bench/retrieval-real';
import { type ModeledS3, startModeledS3 } from '../../scripts/bench/s3-model';
import { askThroughSlack } from '../../scripts/local/ask-client';
import { startLocalIngest } from '../../scripts/local/ingest-local';
import { LOCAL_BOT_USER_ID, type LocalStack, REPO_ROOT, startLocalStack } from '../../scripts/local/stack';
import {
  type BundledFunction as RunningBundle,
  startBundledFunction,
} from '../../stand-ins/aws/bundled-function';
import { startLambdaRuntimeApi } from '../../stand-ins/aws/lambda-runtime-api';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { mentionPayload, signedHeaders } from '../../stand-ins/slack/slack-request';
import { visibleText } from '../support/local-stack';

/**
 * The functions as they are deployed. Every production bundle, built with the settings CDK bundles with
 * (infra/lambda-bundling.ts: module-first main fields, the left-out packages, LangSmith's stand-in), loads in a
 * fresh Node with nothing but what its Lambda ships; then a sync, questions, a follow-up, a failure and a forget
 * run through the bundles alone, each function in its own Node process as on Lambda. A code path that needed a
 * package the bundles leave out, or more of LangSmith than its stand-in gives, fails here and not in AWS.
 */

const execFileAsync = promisify(execFile);
const API_KEY = 'sk-test-bundles';
let workDir: string;
let bundles: BundledFunction[];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'slack-rag-bundles-'));
  bundles = await bundleFunctions(workDir);
}, 120_000);
afterAll(() => rm(workDir, { recursive: true, force: true }));

function bundleOf(entry: string): BundledFunction {
  const bundle = bundles.find((b) => b.entry === entry);
  if (bundle === undefined) throw new Error(`no bundle for ${entry}`);
  return bundle;
}

describe('every production bundle', () => {
  it.each(productionFunctions().map((fn) => [fn.name, fn.entry]))(
    '%s loads in a fresh Node with only what its Lambda ships, and exports its handler',
    (_name, entry) => {
      const bundle = bundleOf(entry);
      // The LanceDB functions' directory holds node_modules (their layer); the others' has none above it either.
      expect(existsSync(join(dirname(bundle.file), '..', 'node_modules'))).toBe(bundle.usesLanceDb);
      const loaded = spawnSync(
        process.execPath,
        [
          '-e',
          // Lambda's handler: the init module (an ES module, imported) where the function has one, else the bundle.
          'const f = process.argv[1]; (f.endsWith(".mjs") ? import(require("node:url").pathToFileURL(f).href) : Promise.resolve(require(f))).then((m) => { if (typeof m.handler !== "function") process.exit(2) })',
          bundle.handlerFile,
        ],
        {
          cwd: dirname(bundle.file),
          env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', LOG_LEVEL: 'silent' },
          encoding: 'utf8',
        },
      );
      // Node prints the failing line of a bundle, one long minified line: the error and its stack are enough.
      const stderr = loaded.stderr
        .split('\n')
        .filter((line) => line.length < 400)
        .join('\n');
      expect({ status: loaded.status, stderr }).toEqual({ status: 0, stderr: '' });
    },
  );

  it('leave out what no function runs, and LangSmith', () => {
    for (const bundle of bundles) {
      const packages = bundle.packages.map((p) => p.name);
      for (const leftOut of [...LEFT_OUT_PACKAGES, 'undici', 'iconv-lite', 'langsmith']) {
        expect({ bundle: bundle.name, has: packages.includes(leftOut) }).toEqual({
          bundle: bundle.name,
          has: false,
        });
      }
    }
  });
});

describe("Retrieve's init (init.mjs beside its bundle)", () => {
  let s3: ModeledS3;
  beforeAll(async () => {
    s3 = await startModeledS3(BUCKET);
  }, 60_000);
  afterAll(() => s3.close());

  /**
   * Loads Retrieve as Lambda does in a fresh Node (`handlerFile`: the init module, imported; or the bundle alone,
   * required), its table on the modelled S3 answering each request after `firstByteMs`, and says how long the load
   * took and whether the table's preload had settled when it ended.
   */
  async function loadRetrieve(file: string, firstByteMs: number, env: Record<string, string> = {}) {
    s3.setModel({ firstByteMs, bytesPerSecond: 90_000_000 });
    const script = `
      const f = process.argv[1];
      const started = Date.now();
      (f.endsWith('.mjs') ? import(require('node:url').pathToFileURL(f).href) : Promise.resolve(require(f))).then(() => {
        const loadMs = Date.now() - started;
        let settled = false;
        let registered = false;
        const retrieve = require(require('node:path').join(require('node:path').dirname(f), 'index.js'));
        retrieve.initPreload()?.then(() => { settled = true; });
        retrieve.initAfterResponse()?.then((taken) => { registered = taken; });
        setImmediate(() => { process.stdout.write(JSON.stringify({ loadMs, settled, registered })); process.exit(0); });
      });`;
    const bundle = bundleOf('functions/retrieve.ts');
    // Not spawnSync: the modelled S3 answers from this process's event loop.
    const loaded = await execFileAsync(process.execPath, ['-e', script, file], {
      cwd: dirname(bundle.file),
      // The bench's Retrieve container environment, its preload on as in Lambda (AWS_LAMBDA_FUNCTION_NAME there).
      // No table is there and nothing is embedded: the preload finds no table, after its requests to S3.
      env: { ...containerEnv(s3, 'lancedb', 'http://127.0.0.1:9', EMBEDDING_MODEL, true), ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(loaded.stderr.slice(0, 400)).toBe('');
    return JSON.parse(loaded.stdout) as { loadMs: number; settled: boolean; registered: boolean };
  }

  it("waits for the table's preload before the init ends; the bundle alone does not", async () => {
    // Arrange: every S3 request answered after 300 ms, so the preload takes more than one of them.
    const bundle = bundleOf('functions/retrieve.ts');

    // Act
    const withInit = await loadRetrieve(bundle.handlerFile, 300);
    const bundleAlone = await loadRetrieve(bundle.file, 300);

    // Assert
    expect(bundle.handlerFile).toMatch(/init\.mjs$/);
    expect(withInit.settled).toBe(true);
    expect(withInit.loadMs).toBeGreaterThanOrEqual(300);
    expect(bundleAlone.settled).toBe(false);
  });

  it("registers its extension with Lambda's Runtime API before the init ends", async () => {
    // Arrange: Lambda's Runtime API (the stand-in) for the process.
    const bundle = bundleOf('functions/retrieve.ts');
    // A Runtime API slow to answer the registration, and an init not waiting for the preload: only the registration
    // can hold the init.
    const api = await startLambdaRuntimeApi({ functionName: 'Retrieve', registerDelayMs: 500 });
    try {
      // Act: the init module imported; the process exits as soon as it has been.
      const loaded = await loadRetrieve(bundle.handlerFile, 50, {
        AWS_LAMBDA_RUNTIME_API: api.address,
        RETRIEVE_INIT_WAIT_MS: '0',
      });

      // Assert: the production bundle registered the extension that loads after each answer, within the init.
      expect(loaded.registered).toBe(true);
      expect(loaded.loadMs).toBeGreaterThanOrEqual(500);
      expect(api.extensions).toEqual(['retrieve-after-response']);
    } finally {
      await api.close();
    }
  });

  it('ends the init within RETRIEVE_INIT_WAIT_MS of the process start when the store does not answer', async () => {
    // Arrange: S3 answers nothing for a minute; Lambda would fail an init past 10 s.
    const bundle = bundleOf('functions/retrieve.ts');

    // Act
    const loaded = await loadRetrieve(bundle.handlerFile, 60_000, { RETRIEVE_INIT_WAIT_MS: '1500' });

    // Assert: the init ended at its budget, the preload still under way (the first invocation goes on with it).
    expect(loaded.settled).toBe(false);
    expect(loaded.loadMs).toBeLessThan(6_000);
  });

  it('waits for the whole preload in an environment of provisioned concurrency, whose init may take 130 s', async () => {
    // Arrange: each S3 request answered after 1.5 s, longer than the on-demand budget set here.
    const bundle = bundleOf('functions/retrieve.ts');
    const budget = { RETRIEVE_INIT_WAIT_MS: '500' };

    // Act
    const onDemand = await loadRetrieve(bundle.handlerFile, 1_500, {
      ...budget,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    const provisioned = await loadRetrieve(bundle.handlerFile, 1_500, {
      ...budget,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency',
    });

    // Assert
    expect(onDemand.settled).toBe(false);
    expect(provisioned.settled).toBe(true);
    expect(provisioned.loadMs).toBeGreaterThanOrEqual(1_500);
  });
});

describe('a sync and questions through the bundles alone (OpenAI provider, against the fake OpenAI)', () => {
  let openai: FakeOpenAI;
  let stack: LocalStack;
  let dataDir: string;
  const running = new Map<string, RunningBundle>();

  /** Each function from its bundle, in its own processes, as its Lambda runs it. */
  const runBundle = (entry: string, env: Env) => {
    const { file, handlerFile } = bundleOf(entry);
    const bundle = startBundledFunction(handlerFile, env, { cwd: dirname(file) });
    running.set(entry, bundle);
    return bundle.invoke;
  };

  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: API_KEY });
    dataDir = await mkdtemp(join(tmpdir(), 'slack-rag-bundles-data-'));
    const env: Env = {
      LLM_PROVIDER: 'openai',
      OPENAI_API_KEY: API_KEY,
      OPENAI_BASE_URL: openai.url,
      OPENAI_MAX_RETRIES: '0',
      OPENAI_MODEL: 'gpt-4.1-mini',
    };
    const lancedbUri = join(dataDir, 'lancedb');
    // Plan, Batch, Commit, Optimize and Report from their bundles: the stores must be shared across processes.
    const ingest = await startLocalIngest({
      lancedbUri,
      env,
      store: 'dynalite',
      stagingUri: join(dataDir, 'staging'),
      retryIntervalMs: 20,
      runFunction: runBundle,
    });
    try {
      // The first embedding request is refused as malformed: its batch fails, Record the failed batch runs its
      // documents again one at a time, and they go through.
      openai.failNext({ status: 400, path: '/v1/embeddings' });
      const synced = await ingest.sync({ origins: [resolve(REPO_ROOT, 'samples/docs')], prune: false });
      expect({ status: synced.status, error: synced.error }).toEqual({
        status: 'committed',
        error: undefined,
      });
      // Six samples, among them a PDF and a Word file: the Batch bundle reads them with the readers it ships.
      expect(synced.report).toMatchObject({ added: 6, failedCount: 0, optimize: { status: 'optimized' } });
      // The batches ran in a child execution of the Distributed Map, with its own trace.
      const states = [synced.execution, ...synced.execution.children].flatMap((e) =>
        e.trace.map((t) => t.state),
      );
      expect(states).toEqual(
        expect.arrayContaining(['Record the failed batch [0]', 'Commit', 'Optimize', 'Report']),
      );
    } finally {
      await ingest.close();
    }
    stack = await startLocalStack({ lancedbUri, env, retryIntervalMs: 20, runFunction: runBundle });
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...running.values()].map((b) => b.close()));
    await stack?.close();
    await openai?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers a mention: ack, Load history, Retrieve, Generate and stream, Persist turn', async () => {
    const result = await askThroughSlack(stack, 'How do I rotate my VPN key?');

    expect(result.execution?.status).toBe('SUCCEEDED');
    const shown = visibleText(result.replies[0] as never);
    expect(shown).toContain('corpvpn rotate-key');
    expect(shown).toContain('VPN guide › Rotating your VPN key');
    expect(shown).toContain('Generated by gpt-4.1-mini');
    expect(result.replies[0]?.ts).toBe(result.answer?.messageTs[0]);
    const chat = openai.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chat.at(-1)?.body).toMatchObject({ model: 'gpt-4.1-mini', stream: true });
  });

  it('condenses a follow-up with the thread’s history: the Condense question bundle', async () => {
    const first = await askThroughSlack(stack, 'How do I rotate my VPN key?');

    const followUp = await askThroughSlack(stack, 'How often do I have to do that?', {
      threadTs: first.sent.threadTs,
    });

    expect(followUp.execution?.status).toBe('SUCCEEDED');
    expect(followUp.execution?.trace.map((t) => t.state)).toContain('Condense question');
    expect(followUp.standalone?.condensed).toBe(true);
    expect(followUp.answer?.kind).toBe('answer');
  });

  it('turns a model failure into an apology: the Report failure bundle', async () => {
    openai.failNext({ status: 400, path: '/v1/chat/completions', times: 5 });

    const result = await askThroughSlack(stack, 'What is the meal limit when travelling?');

    expect(result.execution?.status).toBe('FAILED');
    const shown = visibleText(result.replies[0] as never);
    expect(shown).toContain("Sorry, I couldn't answer this one");
    expect(shown).toContain(result.execution?.name as string);
  });

  it('forgets a thread on request: the Forget thread bundle', async () => {
    const first = await askThroughSlack(stack, 'When must expenses be submitted?');

    const forget = await askThroughSlack(stack, 'forget this thread', { threadTs: first.sent.threadTs });

    expect(forget.execution?.status).toBe('SUCCEEDED');
    expect(forget.execution?.trace.map((t) => t.state)).toContain('Forget thread');
  });

  it('verifies at the door in the ack bundle: a forged signature 401, url_verification answered', async () => {
    const body = JSON.stringify(
      mentionPayload({ text: 'How do I rotate my VPN key?', botUserId: LOCAL_BOT_USER_ID }),
    );
    const before = stack.stepFunctions.executions.length;
    const forged = await fetch(stack.eventsUrl, {
      method: 'POST',
      headers: signedHeaders('not-the-secret', body),
      body,
    });
    const challenge = JSON.stringify({
      token: 'x',
      challenge: 'c2xhY2stY2hhbGxlbmdl',
      type: 'url_verification',
    });
    const verification = await fetch(stack.eventsUrl, {
      method: 'POST',
      headers: signedHeaders(stack.signingSecret, challenge),
      body: challenge,
    });

    expect(forged.status).toBe(401);
    expect(stack.stepFunctions.executions.length).toBe(before);
    expect(verification.status).toBe(200);
    expect(await verification.json()).toEqual({ challenge: 'c2xhY2stY2hhbGxlbmdl' });
  });

  it('ran every function of the product from its bundle', () => {
    const ran = [...running].filter(([, bundle]) => bundle.coldStarts > 0).map(([entry]) => entry);
    expect(ran.sort()).toEqual(
      productionFunctions()
        .map((fn) => fn.entry)
        .sort(),
    );
  });
});
