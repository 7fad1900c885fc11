import { execFile } from 'node:child_process';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { ConfigError } from '../../functions/core/errors';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { askThroughSlack } from '../../scripts/local/ask-client';
import { type LocalIngest, startLocalIngest } from '../../scripts/local/ingest-local';
import { type LocalStack, REPO_ROOT, startLocalStack } from '../../scripts/local/stack';
import {
  type FakeLanceDbCloud,
  startFakeLanceDbCloud,
} from '../../stand-ins/lancedb-cloud/fake-lancedb-cloud';
import { temporaryDirectory } from '../support/local-stack';

/** Runs `script` in a new Node process from the repository, with `env` added to this one's. */
function runNode(script: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['-e', script],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${error.message}\n${stderr.slice(-2000)}`))
          : resolvePromise({ stdout, stderr }),
    );
  });
}

/** The sources of the rows the stand-in holds: what LanceDB Cloud would hold. */
async function sourcesInCloud(): Promise<Set<string>> {
  const db = await connect(cloud.directoryOf(DATABASE));
  try {
    const table = await db.openTable('documents');
    const rows = (await table.query().select(['source']).toArray()) as { source: string }[];
    return new Set(rows.map((r) => r.source));
  } finally {
    db.close();
  }
}

/** A sync of the samples and a question, each through a real HTTP client and server, on 2 shared CPUs. */
jest.setTimeout(180_000);

/**
 * LANCEDB_URI=db://… (LanceDB Cloud): the product's own ingest (Plan, Commit, Optimize through the ingest ASL) and
 * Retrieve (through a mention on the local stack) reach the database only through LanceDB's REST API, here the
 * loopback stand-in, with the SDK's real remote client.
 */

const API_KEY = 'sk-lancedb-test-key-0001';
const DATABASE = 'handbook';

let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
let cloud: FakeLanceDbCloud;
let cloudEnv: Record<string, string>;

beforeAll(async () => {
  dir = await temporaryDirectory('slack-rag-lancedb-cloud-');
  cloud = await startFakeLanceDbCloud({
    apiKey: API_KEY,
    dataDir: join(dir.path, 'cloud'),
    databases: [DATABASE],
  });
  cloudEnv = {
    LLM_PROVIDER: 'local',
    LANCEDB_API_KEY: API_KEY,
    LANCEDB_HOST_OVERRIDE: cloud.url,
    // A vector index from the samples' few dozen chunks on, so that its build and its searches go over the wire too.
    INGEST_VECTOR_INDEX_MIN_ROWS: '16',
  };
  await cp(join(REPO_ROOT, 'samples/docs'), join(dir.path, 'docs'), { recursive: true });
});

afterAll(async () => {
  await cloud?.close();
  await dir?.remove();
});

describe('a db:// vector store (LanceDB Cloud)', () => {
  let ingest: LocalIngest;
  let stack: LocalStack;

  afterAll(async () => {
    await stack?.close();
    await ingest?.close();
  });

  it('is filled by the ingest workflow through LanceDB Cloud’s API, with the key on every request', async () => {
    // Arrange
    ingest = await startLocalIngest({
      lancedbUri: `db://${DATABASE}`,
      env: cloudEnv,
      store: 'memory',
      baseDir: dir.path,
    });

    // Act
    const synced = await ingest.sync({ origins: ['docs'], prune: true });

    // Assert
    expect(synced.error).toBeUndefined();
    expect(synced.status).toBe('committed');
    expect(synced.report?.chunks).toBeGreaterThan(10);
    // The rows are in the database the stand-in serves.
    expect(await sourcesInCloud()).toContain('docs/vpn-guide.md');
    expect(cloud.requests.every((r) => r.auth === 'ok' && r.database === DATABASE)).toBe(true);
    const routes = new Set(cloud.requests.map((r) => r.path.replace(/^\/v1\/table\/documents\//, '')));
    expect([...routes]).toEqual(
      expect.arrayContaining([
        '/v1/table/',
        'create/',
        'describe/',
        'merge_insert/',
        'create_index/',
        'index/list/',
      ]),
    );
    // LanceDB Cloud compacts by itself, and its API has no optimize: Optimize only makes sure of the indexes.
    expect(synced.report?.optimize).toMatchObject({
      fullText: 'created',
      vector: 'created',
      compacted: false,
      indexes: 'unchanged',
    });
  });

  it('follows a changed and a removed document on the next sync', async () => {
    // Arrange
    const vpn = join(dir.path, 'docs/vpn-guide.md');
    await writeFile(
      vpn,
      `${await readFile(vpn, 'utf8')}\n## Lost token\n\nReport a lost hardware token to the service desk.\n`,
    );
    await rm(join(dir.path, 'docs/travel-policy.pdf'));

    // Act
    const synced = await ingest.sync({ origins: ['docs'], prune: true });

    // Assert
    expect(synced.error).toBeUndefined();
    expect(synced.report).toMatchObject({ updated: 1, deleted: 1 });
    const sources = await sourcesInCloud();
    expect(sources).not.toContain('docs/travel-policy.pdf');
    expect(sources).toContain('docs/vpn-guide.md');
  });

  it('answers a question from it through Retrieve, hybrid, citing the document', async () => {
    // Arrange
    stack = await startLocalStack({ lancedbUri: `db://${DATABASE}`, env: cloudEnv });
    const queriesBefore = cloud.requests.filter((r) => r.path.endsWith('/query/')).length;

    // Act
    const asked = await askThroughSlack(stack, 'How do I rotate my VPN key?');

    // Assert
    expect(asked.failure).toBeUndefined();
    expect(asked.retrieval?.search).toBe('hybrid');
    expect(asked.retrieval?.passages[0]?.source).toBe('docs/vpn-guide.md');
    expect(asked.answer?.text).toMatch(/VPN/i);
    // The two halves, each one request: LanceDB Cloud re-ranks on its side, so no third request reads the rows.
    const queries = cloud.requests.filter((r) => r.path.endsWith('/query/')).slice(queriesBefore);
    expect(queries).toHaveLength(2);
    expect(queries.every((r) => r.auth === 'ok' && r.status === 200)).toBe(true);
  });
});

describe('a wrong LanceDB Cloud key', () => {
  it('fails the connection with an error naming the setting, never the key', async () => {
    // Act
    const connecting = connectVectorStore(`db://${DATABASE}`, {
      cloud: { apiKey: 'sk-wrong-key-9999', hostOverride: cloud.url },
    });

    // Assert
    await expect(connecting).rejects.toThrow(ConfigError);
    const error = await connecting.catch((e: Error) => e);
    expect(String(error)).toMatch(/refused the API key for db:\/\/handbook \(HTTP 401\).*LANCEDB_API_KEY/);
    expect(String(error)).not.toContain('sk-wrong-key-9999');
    expect(cloud.requests.at(-1)).toMatchObject({ auth: 'wrong-key', status: 401 });
  });

  it('gives the person asking the apology, and the execution the reason', async () => {
    // Arrange
    const stack = await startLocalStack({
      lancedbUri: `db://${DATABASE}`,
      env: { ...cloudEnv, LANCEDB_API_KEY: 'sk-wrong-key-9999' },
    });

    const refusedBefore = cloud.requests.filter((r) => r.auth === 'wrong-key').length;

    try {
      // Act
      const asked = await askThroughSlack(stack, 'How do I rotate my VPN key?');

      // Assert
      expect(asked.answer).toBeUndefined();
      expect(asked.failure?.cause).toMatch(/refused the API key/);
      expect(asked.failure?.cause).not.toContain('sk-wrong-key-9999');
      expect(asked.replies.at(-1)?.text).toMatch(/Sorry/);
      expect(asked.replies.at(-1)?.text).toContain(String(asked.execution?.name));
      // A setting to fix, not a fault to retry: LanceDB Cloud saw the wrong key once.
      expect(cloud.requests.filter((r) => r.auth === 'wrong-key').length - refusedBefore).toBe(1);
    } finally {
      await stack.close();
    }
  });

  it('without any key, says which setting is missing', async () => {
    await expect(connectVectorStore(`db://${DATABASE}`, { cloud: { apiKey: '' } })).rejects.toThrow(
      /set LANCEDB_API_KEY \(or LANCEDB_API_KEY_ARN\)/,
    );
  });
});

describe("LanceDB's own log", () => {
  it('at LANCEDB_LOG=trace shows each request to LanceDB Cloud, never the key', async () => {
    // Arrange: LanceDB reads LANCEDB_LOG once, when its module loads, so the client runs in a process of its own.
    const script = `
      const lancedb = require('@lancedb/lancedb');
      (async () => {
        const db = await lancedb.connect('db://${DATABASE}', {
          apiKey: process.env.KEY, region: 'us-east-1', hostOverride: process.env.HOST,
        });
        const table = await db.createTable('log_check', [{ id: 1, text: 'vpn key', vector: [0.1, 0.2] }]);
        await table.add([{ id: 2, text: 'wiki page', vector: [0.3, 0.4] }]);
        const rows = await table.search([0.1, 0.2]).limit(1).toArray();
        console.log(JSON.stringify({ rows: rows.length, count: await table.countRows() }));
      })().catch((error) => { console.error(String(error)); process.exit(1); });`;
    const before = cloud.requests.length;

    // Act
    const { stdout, stderr } = await runNode(script, {
      LANCEDB_LOG: 'trace',
      LANCEDB_LOG_STYLE: 'never',
      KEY: API_KEY,
      HOST: cloud.url,
    });

    // Assert: the calls went through with the key, the log has every request, and the key is nowhere in it.
    expect(JSON.parse(stdout)).toEqual({ rows: 1, count: 2 });
    const sent = cloud.requests.slice(before);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(sent.every((r) => r.auth === 'ok')).toBe(true);
    expect(stderr.match(/lancedb::remote::client\] Sending request_id/g)?.length).toBe(sent.length);
    expect(stderr).not.toContain(API_KEY);
    expect(stderr).not.toContain(API_KEY.slice(-8));
  });
});

describe('the LanceDB Cloud stand-in', () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${cloud.url}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'x-lancedb-database': DATABASE, ...headers },
      body,
    });

  it('refuses a query without k, as LanceDB Cloud requires it', async () => {
    const response = await post('/v1/table/documents/query/', JSON.stringify({ vector: [] }), {
      'content-type': 'application/json',
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: expect.stringMatching(/k is required/) });
  });

  it('refuses rows that are not an Arrow IPC stream', async () => {
    const response = await post('/v1/table/documents/merge_insert/?on=id', JSON.stringify([{ id: 'x' }]), {
      'content-type': 'application/json',
    });

    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/application\/vnd\.apache\.arrow\.stream/);
  });

  it('refuses a request without the key, and a database it does not serve', async () => {
    const withoutKey = await fetch(`${cloud.url}/v1/table/`, { headers: { 'x-lancedb-database': DATABASE } });
    const otherDatabase = await fetch(`${cloud.url}/v1/table/`, {
      headers: { 'x-api-key': API_KEY, 'x-lancedb-database': 'someone-else' },
    });

    expect(withoutKey.status).toBe(401);
    expect(otherDatabase.status).toBe(404);
  });

  it('answers 404 for a table that does not exist, which the SDK reports as a missing table', async () => {
    const response = await post('/v1/table/nothing-here/describe/', '{}', {
      'content-type': 'application/json',
    });

    expect(response.status).toBe(404);
  });
});
