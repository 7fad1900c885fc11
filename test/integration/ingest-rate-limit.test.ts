import { loadConfig } from '../../functions/core/config';
import { embedInRequests } from '../../functions/core/ingest/embedding-requests';
import { createEmbeddings } from '../../functions/core/llm/providers';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { fakeOpenAIEnv, ingestWorkspace, readRows, writeFiles } from '../support/ingest';

/**
 * Embedding at the provider's limits: the ingest state machine run by the local executor against the fake OpenAI
 * server enforcing a tokens-per-minute limit (over a shortened window, so seconds show what minutes would), through
 * the real OpenAI client. The fake answers past the limit as OpenAI does: 429, its error body and its headers.
 */

let fake: FakeOpenAI;
let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

/** Sends one embedding request of `tokens` tokens (as the fake counts them) as another user of the same key. */
async function spendTokens(tokens: number): Promise<void> {
  const response = await fetch(`${fake.url}/embeddings`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-other-user', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x'.repeat(tokens * 4) }),
  });
  expect(response.status).toBe(200);
}

/** The embedding requests of the sync (not `spendTokens`'), answered or refused. */
function syncRequests(status: number): { inputs: string[] }[] {
  return fake.requests
    .filter((r) => r.path === '/v1/embeddings' && r.status === status)
    .filter((r) => !String((r.body as { input?: unknown }).input).startsWith('xxxx'))
    .map((r) => {
      const input = (r.body as { input?: unknown }).input;
      return { inputs: Array.isArray(input) ? input.map(String) : [String(input)] };
    });
}

/** What each test started, stopped after it in reverse order. */
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startFake(options?: Parameters<typeof startFakeOpenAI>[0]): Promise<void> {
  fake = await startFakeOpenAI(options);
  const started = fake;
  cleanups.push(() => started.close());
}

async function arrange(limit: { tokensPerMinute: number; windowMs: number }): Promise<void> {
  await startFake({ embeddingRateLimit: limit });
  workspace = await ingestWorkspace();
  cleanups.push(workspace.remove);
}

describe('a sync under the provider rate limit', () => {
  it('waits out the limit and its 429s, embeds every chunk exactly once, and reports its throughput', async () => {
    // Arrange: 12 notes besides the samples, about 3,000 tokens in all, through a limit of 1,000 tokens per 3 s,
    // already spent by another user of the key; four batches of two documents embed at once. (Two ways to meet a
    // 429, either enough: the budget is spent when the sync starts, and the four first requests, sent before any
    // answer said where the budget stands, hold more than the whole of it.)
    await arrange({ tokensPerMinute: 1_000, windowMs: 3_000 });
    await writeFiles(
      workspace.root,
      Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [
          `docs/note-${String(i).padStart(2, '0')}.md`,
          `# Note ${i}\n\n${`Note ${i} says something of its own about the limits of embedding. `.repeat(12)}\n`,
        ]),
      ),
    );
    await spendTokens(1_000);
    const ingest = await workspace.start({
      env: fakeOpenAIEnv(fake, { INGEST_BATCH_DOCUMENTS: '2', INGEST_CONCURRENCY: '4' }),
    });
    try {
      // Act
      const result = await ingest.sync({ origins: ['docs'], prune: false });

      // Assert
      expect(result.status).toBe('committed');
      expect(result.report).toMatchObject({ added: 16, failedCount: 0 });
      const rows = await readRows(workspace.lancedbUri);
      const answered = syncRequests(200).flatMap((r) => r.inputs);
      expect(rows).toHaveLength(result.report?.embeddedChunks ?? -1);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      // Every chunk was embedded by exactly one answered request: none twice, none lost.
      expect(answered).toHaveLength(rows.length);
      expect(new Set(answered).size).toBe(rows.length);
      const refused = syncRequests(429).length;
      expect(refused).toBeGreaterThanOrEqual(1);
      const embedding = result.report?.embedding;
      expect(embedding).toMatchObject({
        chunks: rows.length,
        requests: syncRequests(200).length,
        rateLimited: refused,
      });
      expect(embedding?.waitedMs).toBeGreaterThan(0);
      expect(embedding?.chunksPerSecond).toBeGreaterThan(0);
      expect(embedding?.tokensPerSecond).toBeGreaterThan(embedding?.chunksPerSecond ?? 0);
      console.log(`under 1,000 tokens per 3 s: ${JSON.stringify(embedding)}`);
    } finally {
      await ingest.close();
    }
  });

  it('fails a batch whose wait does not fit its time, and the Retry embeds it with nothing staged twice', async () => {
    // Arrange: the limit (2,000 tokens, back over 32 s) is found spent by the sync's first embedding request, however
    // late a loaded machine sends it. A Batch invocation may run 4 s (3 s of it to wait, past the staging reserve),
    // and Retry waits 10 s between attempts. The batch's 11 chunks (about 1,100 tokens as the ingest estimates them)
    // need about 17.6 s of it back: the first attempt cannot wait that long, nor the second (7.6 s, unless it starts
    // 4.6 s late), and the third needs no wait, so its staging has the invocation's whole time. The limit holds the
    // whole batch in one request: under a limit smaller than the batch, the second request would need a wait of its
    // own after the first had used the time, and the document it cut would be embedded again alone, or not, by how the
    // wait fell.
    await arrange({ tokensPerMinute: 2_000, windowMs: 32_000 });
    fake.spendBeforeNextEmbedding(2_000);
    const ingest = await workspace.start({
      env: fakeOpenAIEnv(fake),
      timeoutOverrides: { 'Load, split and embed': 4 },
      retryIntervalMs: 10_000,
    });
    try {
      // Act
      const result = await ingest.sync({ origins: ['docs'], prune: false });

      // Assert
      expect(result.status).toBe('committed');
      expect(result.report).toMatchObject({ added: 4, failedCount: 0 });
      // The batches run in the Distributed Map's child executions, each with its own history.
      const trace = [result.execution, ...result.execution.children].flatMap((e) => e.trace);
      const batch = trace.find((t) => t.state === 'Load, split and embed [0]');
      expect(batch).toMatchObject({ outcome: 'succeeded' });
      expect(batch?.attempts).toBeGreaterThanOrEqual(2);
      expect(trace.map((t) => t.state)).not.toContain('Record the failed batch [0]');
      const rows = await readRows(workspace.lancedbUri);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      expect(rows).toHaveLength(result.report?.embeddedChunks ?? -1);
      expect(new Set(rows.map((r) => r.source)).size).toBe(4);
      const answered = syncRequests(200).flatMap((r) => r.inputs);
      expect(answered).toHaveLength(rows.length);
      expect(new Set(answered).size).toBe(rows.length);
    } finally {
      await ingest.close();
    }
  });

  it('says why a batch stops when the limit needs a longer wait than its time left', async () => {
    // Arrange: the limit is spent, and a chunk of about 550 tokens needs half a minute of it back.
    await arrange({ tokensPerMinute: 1_000, windowMs: 60_000 });
    await spendTokens(1_000);
    const config = loadConfig(fakeOpenAIEnv(fake));
    const embeddings = createEmbeddings(config.llm, 'sk-test-ingest', {
      onFailedAttempt: (error) => {
        throw error;
      },
    });
    const chunk = {
      id: 'a#0',
      text: 'Rotate the VPN key every ninety days from the portal. '.repeat(40),
      source: 'docs/vpn-guide.md',
      title: 'VPN',
      heading: 'VPN',
      contentHash: 'h',
    };

    // Act
    const embedding = embedInRequests(embeddings, [chunk], {
      dimensions: 1536,
      updatedAt: 0,
      maxWaitMs: () => 5_000,
    });

    // Assert
    await expect(embedding).rejects.toMatchObject({
      name: 'TransientError',
      message: expect.stringMatching(
        /^the embedding provider's rate limit needs a wait of \d+\.\d s after 1 answer\(s\) 429 before the next request \(\d+ tokens\), and this invocation has 5\.0 s left for it; the batch is retried later/,
      ),
    });
  });
});

describe('a batch that has embedded something when the limit outlasts its time', () => {
  it('keeps what it embedded and stops, for the rest to run one document per invocation', async () => {
    // Arrange: 1,000 tokens a minute, two requests of about 560 tokens: the first fits, the second needs half a
    // minute of the limit back, and the invocation has 5 s.
    await startFake({ embeddingRateLimit: { tokensPerMinute: 1_000 } });
    workspace = await ingestWorkspace();
    cleanups.push(workspace.remove);
    const embeddings = createEmbeddings(loadConfig(fakeOpenAIEnv(fake)).llm, 'sk-test-ingest', {
      onFailedAttempt: (error) => {
        throw error;
      },
    });
    const chunks = ['a', 'b'].map((name) => ({
      id: `${name}#0`,
      text: `Section ${name}: rotate the VPN key every ninety days from the portal. `.repeat(34),
      source: `docs/${name}.md`,
      title: name,
      heading: name,
      contentHash: 'h',
    }));
    const options = {
      dimensions: 1536,
      updatedAt: 0,
      limits: { maxInputs: 1, maxRequestTokens: 300_000, maxInputTokens: 8_191 },
      maxWaitMs: () => 5_000,
    };

    // Act
    const stopped = await embedInRequests(embeddings, chunks, { ...options, mayContinue: () => true });
    const alone = embedInRequests(embeddings, chunks.slice(1), options);

    // Assert
    expect(stopped.rows.map((r) => r.id)).toEqual(['a#0']);
    expect(stopped.stats).toMatchObject({ requests: 1, chunks: 1 });
    await expect(alone).rejects.toMatchObject({ name: 'TransientError' });
  });
});

describe("the fake OpenAI's rate limit", () => {
  it('answers past its requests per minute (FAKE_OPENAI_EMBEDDING_RPM) with OpenAI’s 429 body and headers', async () => {
    // Arrange
    const previous = process.env.FAKE_OPENAI_EMBEDDING_RPM;
    process.env.FAKE_OPENAI_EMBEDDING_RPM = '2';
    try {
      await startFake();
    } finally {
      if (previous === undefined) delete process.env.FAKE_OPENAI_EMBEDDING_RPM;
      else process.env.FAKE_OPENAI_EMBEDDING_RPM = previous;
    }
    const send = () =>
      fetch(`${fake.url}/embeddings`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hello' }),
      });

    // Act
    const first = await send();
    await send();
    const refused = await send();

    // Assert
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(first.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?(ms|s)$/);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await refused.json()).toEqual({
      error: {
        message: expect.stringMatching(
          /^Rate limit reached for text-embedding-3-small in organization org-fake on requests per min \(RPM\): Limit 2, Used 2, Requested 1\. Please try again in \d+(\.\d+)?(ms|s)\. Visit https:\/\/platform\.openai\.com\/account\/rate-limits to learn more\.$/,
        ),
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200, 429]);
  });
});
