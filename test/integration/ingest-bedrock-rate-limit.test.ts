import type { Env } from '../../functions/core/config';
import { loadConfig } from '../../functions/core/config';
import { embedInRequests } from '../../functions/core/ingest/embedding-requests';
import { createBedrockEmbeddings } from '../../functions/core/llm/bedrock';
import {
  type FakeBedrock,
  type RecordedBedrockRequest,
  startFakeBedrock,
  THROTTLING_MESSAGE,
} from '../../stand-ins/bedrock/fake-bedrock';
import { ingestWorkspace, readRows, writeFiles } from '../support/ingest';

/**
 * Embedding at Bedrock's quota: the ingest state machine run by the local executor against the Bedrock stand-in
 * enforcing an InvokeModel requests-per-minute quota (over a shortened window, so seconds show what minutes would),
 * through the real AWS SDK client. Bedrock answers past its quota with ThrottlingException (429) and no header
 * saying when to come back, so the batches back off on their own (1, 2, 4 … 20 s, shared by the requests in flight)
 * and count it. No assertion on time: the counts and the completion hold on a busy machine.
 */

let fake: FakeBedrock;
let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function arrange(invokeRateLimit: { requestsPerMinute: number; windowMs: number }): Promise<void> {
  fake = await startFakeBedrock({ invokeRateLimit });
  const started = fake;
  cleanups.push(() => started.close());
  workspace = await ingestWorkspace();
  cleanups.push(workspace.remove);
  // Twelve notes besides the four samples, each a chunk or two.
  await writeFiles(
    workspace.root,
    Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `docs/note-${String(i).padStart(2, '0')}.md`,
        `# Note ${i}\n\n${`Note ${i} says something of its own about the quotas of embedding. `.repeat(12)}\n`,
      ]),
    ),
  );
}

function bedrockEnv(embeddingModel: string, extra: Env = {}): Env {
  return {
    LLM_PROVIDER: 'bedrock',
    BEDROCK_ENDPOINT: fake.url,
    BEDROCK_REGION: 'us-west-2',
    OPENAI_MODEL: 'amazon.nova-lite-v1:0',
    OPENAI_EMBEDDING_MODEL: embeddingModel,
    ...(embeddingModel.includes('titan-embed-text-v2') ? { EMBEDDING_DIMENSIONS: '256' } : {}),
    ...extra,
  };
}

/** The texts of the InvokeModel calls answered with `status`. */
function invokes(status: number): RecordedBedrockRequest[] {
  return fake.requests.filter((r) => r.operation === 'invoke' && r.status === status);
}

function textsOf(request: RecordedBedrockRequest): string[] {
  const body = request.body as { inputText?: unknown; texts?: unknown };
  return Array.isArray(body.texts) ? body.texts.map(String) : [String(body.inputText)];
}

describe('a sync under Bedrock’s InvokeModel quota', () => {
  it.each([
    // Titan: one text an InvokeModel, so one chunk a request; 10 requests per 2 s, four batches, eight in flight each.
    { model: 'amazon.titan-embed-text-v2:0', quota: { requestsPerMinute: 10, windowMs: 2_000 }, perCall: 1 },
    // Cohere: a batch's chunks in one InvokeModel (up to 96); a request a second for four batches at once.
    { model: 'cohere.embed-multilingual-v3', quota: { requestsPerMinute: 2, windowMs: 2_000 }, perCall: 96 },
  ])(
    'with $model: backs off its throttles, embeds every chunk once, and reports the figures',
    async ({ model, quota, perCall }) => {
      // Arrange
      await arrange(quota);
      const ingest = await workspace.start({
        env: bedrockEnv(model, { INGEST_BATCH_DOCUMENTS: '2', INGEST_CONCURRENCY: '4' }),
      });
      try {
        // Act
        const result = await ingest.sync({ origins: ['docs'], prune: false });

        // Assert
        expect(result.status).toBe('committed');
        expect(result.report).toMatchObject({ added: 16, failedCount: 0 });
        const rows = await readRows(workspace.lancedbUri);
        expect(rows).toHaveLength(result.report?.embeddedChunks ?? -1);
        expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
        expect(new Set(rows.map((r) => r.source)).size).toBe(16);
        // Every chunk was embedded by exactly one answered InvokeModel (the Plan's dimension probe aside): none
        // twice, none lost, each within what one call may hold.
        const answered = invokes(200).filter(
          (r) => (r.body as { input_type?: unknown }).input_type !== 'search_query',
        );
        const texts = answered.flatMap(textsOf);
        expect(texts).toHaveLength(rows.length);
        expect(new Set(texts).size).toBe(rows.length);
        expect(Math.max(...answered.map((r) => textsOf(r).length))).toBeLessThanOrEqual(perCall);
        if (perCall === 1) expect(answered).toHaveLength(rows.length);
        const throttled = invokes(429);
        expect(throttled.length).toBeGreaterThanOrEqual(1);
        const embedding = result.report?.embedding;
        expect(embedding).toMatchObject({
          chunks: rows.length,
          requests: answered.length,
          rateLimited: throttled.length,
        });
        expect(embedding?.waitedMs).toBeGreaterThanOrEqual(1_000);
        expect(embedding?.chunksPerSecond).toBeGreaterThan(0);
        console.log(
          `${model} under ${quota.requestsPerMinute} InvokeModel per ${quota.windowMs / 1000} s: ${JSON.stringify(embedding)}`,
        );
      } finally {
        await ingest.close();
      }
    },
  );
});

describe('the requests of a batch in flight at once', () => {
  it('share one backoff (throttles of requests sent together wait one step, not one each) and count every throttle', async () => {
    // Arrange: every model call throttled three times over, then answered; eight Titan requests in flight.
    fake = await startFakeBedrock();
    cleanups.push(() => fake.close());
    fake.failNext({ error: 'ThrottlingException', times: 3, operation: 'invoke' });
    const config = loadConfig(bedrockEnv('amazon.titan-embed-text-v2:0'));
    const embeddings = createBedrockEmbeddings(config.llm, 0, { throttlingToCaller: true });
    const waits: number[] = [];
    const chunks = Array.from({ length: 8 }, (_, i) => ({
      id: `a#${i}`,
      text: `Section ${i}: rotate the VPN key every ninety days.`,
      source: 'docs/a.md',
      title: 'A',
      heading: 'A',
      contentHash: 'h',
    }));

    // Act
    const embedded = await embedInRequests(embeddings, chunks, {
      dimensions: 256,
      updatedAt: 0,
      sleep: async (ms) => {
        waits.push(ms);
        await new Promise((resolve) => setTimeout(resolve, ms));
      },
    });

    // Assert
    expect(embedded.rows.map((r) => r.id)).toEqual(chunks.map((c) => c.id));
    expect(embedded.stats).toMatchObject({ requests: 8, chunks: 8, rateLimited: 3 });
    expect(invokes(429)).toHaveLength(3);
    expect(invokes(200)).toHaveLength(8);
    // The three throttles came back from requests sent together: one step of backoff (about a second, with up
    // to a tenth of jitter), not three doublings.
    expect(Math.max(...waits)).toBeLessThan(1_200);
    expect(embedded.stats.waitedMs).toBeGreaterThanOrEqual(1_000);
  });

  it('answers past the quota as Bedrock does: 429, ThrottlingException, no retry header', async () => {
    // Arrange
    const previous = process.env.FAKE_BEDROCK_INVOKE_RPM;
    process.env.FAKE_BEDROCK_INVOKE_RPM = '2';
    try {
      fake = await startFakeBedrock();
    } finally {
      if (previous === undefined) delete process.env.FAKE_BEDROCK_INVOKE_RPM;
      else process.env.FAKE_BEDROCK_INVOKE_RPM = previous;
    }
    cleanups.push(() => fake.close());
    const embeddings = createBedrockEmbeddings(
      loadConfig(bedrockEnv('amazon.titan-embed-text-v2:0')).llm,
      0,
      { throttlingToCaller: true },
    );

    // Act
    await embeddings.embedQuery('one');
    await embeddings.embedQuery('two');
    const refused = await embeddings.embedQuery('three').catch((error: unknown) => error);
    const other = await createBedrockEmbeddings(
      loadConfig(bedrockEnv('cohere.embed-multilingual-v3')).llm,
      0,
      { throttlingToCaller: true },
    ).embedQuery('another model has a quota of its own');

    // Assert
    expect(refused).toMatchObject({
      name: 'ThrottlingException',
      message: THROTTLING_MESSAGE,
      $fault: 'client',
      $metadata: { httpStatusCode: 429 },
    });
    expect(other).toHaveLength(1024);
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200, 429, 200]);
  });
});
