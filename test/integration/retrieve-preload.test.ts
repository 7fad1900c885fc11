import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../functions/core/config';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import { embeddingDimensionsOf, embeddingNameOf } from '../../functions/core/llm/providers';
import { embeddingsFor } from '../../functions/core/models';
import { createRuntime } from '../../functions/core/runtime';
import type { Turn } from '../../functions/core/types';
import { connectVectorStore, searchCacheSizes } from '../../functions/core/vector-store/connect-vector-store';
import {
  createDocumentTable,
  ensureIndexes,
  replaceSourceChunks,
} from '../../functions/core/vector-store/document-table';
import { embedChunks } from '../../functions/core/vector-store/embed-chunks';
import { startLambdaRuntimeApi } from '../../stand-ins/aws/lambda-runtime-api';

/**
 * The Retrieve Lambda's preload (issue 23): its module starts opening the table at load, in Lambda's init, and the
 * first invocation uses what it opened; a preload that failed is retried by the invocation. On a real local LanceDB
 * table: the table's `_versions` directory is moved away to make an open fail (a table already open keeps its
 * manifest and still answers; a new open cannot find a version).
 */

type RetrieveModule = typeof import('../../functions/retrieve');
type StepHandlerModule = typeof import('../../functions/core/step-handler');

const VPN = '# VPN\n\nRotate your VPN key every 90 days with rotate-vpn-key.';
let dir: string;
let saved: NodeJS.ProcessEnv;

function environment(): NodeJS.ProcessEnv {
  return {
    LLM_PROVIDER: 'local',
    LANCEDB_URI: dir,
    LANCEDB_TABLE: 'documents',
    LOG_LEVEL: 'silent',
    POWERTOOLS_METRICS_DISABLED: 'true',
    RETRIEVE_PRELOAD: '1',
  };
}

async function writeTable(): Promise<void> {
  const runtime = createRuntime(loadConfig({ ...environment() }));
  const embeddings = await embeddingsFor(runtime);
  const dimensions = embeddingDimensionsOf(embeddings) as number;
  const connection = await connectVectorStore(dir);
  const table = await createDocumentTable(connection, {
    table: 'documents',
    embeddings,
    embedderName: embeddingNameOf(embeddings),
    dimensions,
  });
  const loaded = await loadDocument(new TextEncoder().encode(VPN), 'vpn.md');
  if (!loaded.ok) throw new Error(loaded.message);
  const rows = await embedChunks(embeddings, await splitDocument(loaded.document), {
    dimensions,
    updatedAt: 0,
  });
  await replaceSourceChunks(table, 'vpn.md', rows);
  await ensureIndexes(table);
  table.close();
  connection.close();
}

/** The Retrieve module loaded as Lambda loads it: fresh, with the function's environment. */
function loadRetrieve(extra: NodeJS.ProcessEnv = {}): { retrieve: RetrieveModule; step: StepHandlerModule } {
  Object.assign(process.env, environment(), extra);
  let loaded: { retrieve: RetrieveModule; step: StepHandlerModule } | undefined;
  jest.isolateModules(() => {
    loaded = {
      retrieve: require('../../functions/retrieve') as RetrieveModule,
      step: require('../../functions/core/step-handler') as StepHandlerModule,
    };
  });
  return loaded as { retrieve: RetrieveModule; step: StepHandlerModule };
}

const turn: Turn = {
  intent: 'question',
  eventId: 'EvPreload1',
  teamId: 'T0LOCAL001',
  channel: 'C0PRELOAD1',
  threadTs: '1.000001',
  messageTs: '1.000001',
  user: 'U0HUMAN001',
  question: 'how do I rotate the VPN key?',
  placeholderTs: '1.000002',
};
const ask = (retrieve: RetrieveModule) =>
  retrieve.handler({ turn, question: turn.question, executionName: 'preload-1' });

const versions = () => join(dir, 'documents.lance', '_versions');
const hideVersions = () => renameSync(versions(), `${versions()}.away`);
const restoreVersions = () => renameSync(`${versions()}.away`, versions());

beforeEach(async () => {
  saved = { ...process.env };
  dir = mkdtempSync(join(tmpdir(), 'retrieve-preload-'));
  await writeTable();
});

afterEach(() => {
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe("the Retrieve Lambda's preload at module load", () => {
  it('opens the table at load, and the first invocation answers from that open table', async () => {
    // Arrange: the module loads and preloads; then no new open of the table could succeed.
    const { retrieve, step } = loadRetrieve();
    await retrieve.preloadTable(step.containerRuntime());
    hideVersions();

    // Act
    const result = await ask(retrieve);

    // Assert: answered although the table can no longer be opened, so from the preloaded one.
    expect(result.status).toBe('ok');
    expect(result.passages.map((p) => p.source)).toContain('vpn.md');
  });

  it('does not fail the init when the preload fails: the first invocation opens the table again', async () => {
    // Arrange: the preload cannot open the table; by the question it can.
    hideVersions();
    const { retrieve, step } = loadRetrieve();
    await retrieve.preloadTable(step.containerRuntime());
    restoreVersions();

    // Act
    const result = await ask(retrieve);

    // Assert
    expect(result.status).toBe('ok');
    expect(result.passages.map((p) => p.source)).toContain('vpn.md');
  });

  it('reports the open failure from the invocation when the table still cannot be opened', async () => {
    // Arrange
    hideVersions();
    const { retrieve, step } = loadRetrieve();
    await retrieve.preloadTable(step.containerRuntime());

    // Act
    const asked = ask(retrieve);

    // Assert: the step's error (as any failed open: the state machine's Catch apologises), naming the table.
    await expect(asked).rejects.toMatchObject({ name: 'PermanentError' });
    await expect(asked).rejects.toThrow(/^Retrieve: .*Table 'documents' was not found/);
  });

  it("registers the extension that loads after the answer during Lambda's init, and each invocation ends once answered", async () => {
    // Arrange: Lambda's Runtime API (the stand-in), and a load left behind the questions.
    const api = await startLambdaRuntimeApi({ functionName: 'Retrieve' });
    try {
      const { retrieve } = loadRetrieve({ AWS_LAMBDA_RUNTIME_API: api.address, RETRIEVE_PREWARM: 'behind' });
      await expect(retrieve.initAfterResponse()).resolves.toBe(true);
      await retrieve.initPreload();
      await api.initDone();

      // Act: an invocation as Lambda makes it, its request id in the context.
      const { ended } = api.invoke('req-preload-1', Date.now() + 13_000);
      const result = await retrieve.handler(
        { turn, question: turn.question, executionName: 'preload-1' },
        { getRemainingTimeInMillis: () => 13_000, awsRequestId: 'req-preload-1' },
      );

      // Assert: answered; the Invoke phase ended (the extension called Next again) well before the timeout.
      expect(result.passages.map((p) => p.source)).toContain('vpn.md');
      expect(api.extensions).toEqual(['retrieve-after-response']);
      const within3s = new Promise((resolve) => setTimeout(() => resolve('still open'), 3_000).unref());
      await expect(Promise.race([ended.then(() => 'ended'), within3s])).resolves.toBe('ended');
    } finally {
      await api.close();
    }
  });

  it('registers no extension where nothing loads behind the questions, outside Lambda, or on LanceDB Cloud', () => {
    const { retrieve } = loadRetrieve();
    const s3 = () => ({ config: { vectorStore: { cloud: undefined } } }) as never;
    const cloud = () => ({ config: { vectorStore: { cloud: { apiKey: 'x' } } } }) as never;
    const lambda = { AWS_LAMBDA_FUNCTION_NAME: 'Retrieve', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' };
    expect(retrieve.afterResponseWanted(lambda, s3)).toBe(true);
    expect(retrieve.afterResponseWanted({ ...lambda, RETRIEVE_PREWARM: 'behind' }, s3)).toBe(true);
    expect(retrieve.afterResponseWanted({ ...lambda, RETRIEVE_PREWARM: 'before' }, s3)).toBe(false);
    expect(retrieve.afterResponseWanted({ ...lambda, RETRIEVE_PREWARM: 'off' }, s3)).toBe(false);
    expect(retrieve.afterResponseWanted({ ...lambda, RETRIEVE_PREWARM: 'lazy' }, s3)).toBe(false);
    expect(
      retrieve.afterResponseWanted(
        { ...lambda, AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' },
        s3,
      ),
    ).toBe(false);
    expect(retrieve.afterResponseWanted(lambda, cloud)).toBe(false);
    expect(retrieve.afterResponseWanted({ AWS_LAMBDA_FUNCTION_NAME: 'Retrieve' }, s3)).toBe(false);
    expect(retrieve.afterResponseWanted({ ...lambda, RETRIEVE_PRELOAD: '0' }, s3)).toBe(false);
  });

  it('is off outside Lambda unless RETRIEVE_PRELOAD asks for it', () => {
    const { retrieve } = loadRetrieve();
    expect(retrieve.preloadAtLoad({})).toBe(false);
    expect(retrieve.preloadAtLoad({ AWS_LAMBDA_FUNCTION_NAME: 'Retrieve' })).toBe(true);
    expect(retrieve.preloadAtLoad({ AWS_LAMBDA_FUNCTION_NAME: 'Retrieve', RETRIEVE_PRELOAD: '0' })).toBe(
      false,
    );
    expect(retrieve.preloadAtLoad({ RETRIEVE_PRELOAD: '1' })).toBe(true);
  });

  it('loads at most 256 MB of indexes ahead on demand, and what the cache holds in a provisioned environment', () => {
    const { retrieve } = loadRetrieve();
    const MB = 1024 * 1024;
    // 1,024 MB: the cache's quarter, 256 MB, either way; 3,008 MB: half, 1,504 MB, only when provisioned.
    expect(searchCacheSizes(1024).indexBytes).toBe(256 * MB);
    expect(searchCacheSizes(3008).indexBytes).toBe(1504 * MB);
    expect(retrieve.preloadIndexBytes({}, 256 * MB)).toBe(256 * MB);
    expect(retrieve.preloadIndexBytes({ AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' }, 1504 * MB)).toBe(
      256 * MB,
    );
    expect(
      retrieve.preloadIndexBytes({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' }, 1504 * MB),
    ).toBe(1504 * MB);
  });

  it('loads the vector index first on demand and every index before the questions on a provisioned environment, unless RETRIEVE_PREWARM says otherwise, and names a wrong value', () => {
    const { retrieve } = loadRetrieve();
    expect(retrieve.retrievePrewarm({})).toBe('vector-first');
    expect(retrieve.retrievePrewarm({ AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' })).toBe('vector-first');
    expect(retrieve.retrievePrewarm({ AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' })).toBe(
      'before',
    );
    expect(
      retrieve.retrievePrewarm({
        AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency',
        RETRIEVE_PREWARM: 'vector-first',
      }),
    ).toBe('vector-first');
    expect(retrieve.retrievePrewarm({ RETRIEVE_PREWARM: ' Before ' })).toBe('before');
    expect(retrieve.retrievePrewarm({ RETRIEVE_PREWARM: ' Behind ' })).toBe('behind');
    expect(retrieve.retrievePrewarm({ RETRIEVE_PREWARM: 'off' })).toBe('off');
    expect(() => retrieve.retrievePrewarm({ RETRIEVE_PREWARM: 'lazy' })).toThrow(
      'RETRIEVE_PREWARM must be before, vector-first, behind or off; got "lazy"',
    );
  });
});
