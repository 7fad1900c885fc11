import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../functions/core/config';
import { embedInRequests } from '../../functions/core/ingest/embedding-requests';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import { createEmbeddings } from '../../functions/core/llm/providers';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { createDocumentTable, ensureIndexes } from '../../functions/core/vector-store/document-table';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { startLocalIngest } from '../local/ingest-local';
import type { BenchContext } from './context';
import { copyPackageDocs } from './package-docs';
import type { Figure, SectionResult } from './report';
import { seededRandom } from './stats';

const SYLLABLES = [
  'ka',
  'ro',
  'mi',
  'tsu',
  'ne',
  'ha',
  'shi',
  'to',
  'ra',
  'ku',
  'ze',
  'no',
  'pa',
  'li',
  've',
  'do',
];
const TOPICS = [
  'VPN',
  'expenses',
  'onboarding',
  'leave',
  'laptops',
  'security',
  'payroll',
  'travel',
  'office',
  'hiring',
];

function word(random: () => number): string {
  const n = 1 + Math.floor(random() * 3);
  return Array.from({ length: n }, () => SYLLABLES[Math.floor(random() * SYLLABLES.length)]).join('');
}

function paragraph(random: () => number, sentences: number): string {
  return Array.from({ length: sentences }, () => {
    const words = Array.from({ length: 8 + Math.floor(random() * 10) }, () => word(random));
    const first = words[0] as string;
    words[0] = first.charAt(0).toUpperCase() + first.slice(1);
    return `${words.join(' ')}.`;
  }).join(' ');
}

/** One generated Markdown page: front matter, a title, three to five sections of one to three paragraphs. */
function document(index: number, revision: number): string {
  const random = seededRandom(1000 + index);
  const topic = TOPICS[index % TOPICS.length] as string;
  const sections = 3 + Math.floor(random() * 3);
  const body = Array.from({ length: sections }, (_, s) => {
    const paragraphs = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
      paragraph(random, 3 + Math.floor(random() * 4)),
    );
    // An edit rewrites the first section's first paragraph, as a person updating a page would.
    if (s === 0 && revision > 0)
      paragraphs[0] = `Updated in revision ${revision}. ${paragraph(seededRandom(index * 31 + revision), 4)}`;
    return `## ${topic} ${word(random)} ${s + 1}\n\n${paragraphs.join('\n\n')}`;
  }).join('\n\n');
  return `---\ntitle: ${topic} guide ${index}\ncollection: ${topic.toLowerCase()}\n---\n\n# ${topic} guide ${index}\n\n${body}\n`;
}

const fileName = (index: number) => `doc-${String(index).padStart(5, '0')}.md`;

/**
 * Section 5: a generated Markdown corpus synced through the ingest state machine on the local executor
 * (`startLocalIngest`, as `npm run ingest` runs it): the real OpenAI embeddings client against the loopback fake
 * OpenAI, which counts the embedding requests; the manifest and lock in dynalite; rows staged on disk. First sync,
 * re-sync with nothing changed, re-sync after editing 1% of the documents. The baseline indexes the same corpus
 * in one process: read, load, split, embed (same client, same fake), write one table, build its indexes.
 */
export async function benchIngest(ctx: BenchContext): Promise<SectionResult> {
  const documents = ctx.quick ? 300 : 1000;
  const changed = Math.max(1, Math.round(documents / 100));
  const corpusDir = join(ctx.workDir, 'corpus');
  await mkdir(corpusDir, { recursive: true });
  let bytes = 0;
  for (let i = 0; i < documents; i++) {
    const text = document(i, 0);
    bytes += Buffer.byteLength(text);
    await writeFile(join(corpusDir, fileName(i)), text);
  }
  const openai = await startFakeOpenAI();
  const env = {
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-bench-not-a-key',
    OPENAI_BASE_URL: openai.url,
    OPENAI_EMBEDDING_MODEL: 'text-embedding-3-small',
  };
  const embeddingCalls = () => openai.requests.filter((r) => r.path === '/v1/embeddings').length;
  const ingest = await startLocalIngest({
    lancedbUri: join(ctx.workDir, 'ingest-lancedb'),
    stagingUri: join(ctx.workDir, 'ingest-staging'),
    baseDir: ctx.workDir,
    env,
    store: 'dynalite',
  });
  try {
    const sync = async (label: string) => {
      ctx.log(`ingest: ${label}`);
      const callsBefore = embeddingCalls();
      const started = performance.now();
      const result = await ingest.sync({ origins: ['corpus'], prune: true });
      const ms = performance.now() - started;
      if (result.status !== 'committed' || result.report === undefined) {
        throw new Error(`the ${label} did not commit: ${result.error ?? result.status}`);
      }
      const { report } = result;
      return {
        ms,
        embeddingCalls: embeddingCalls() - callsBefore,
        embeddedChunks: report.embeddedChunks,
        chunks: report.chunks,
        added: report.added,
        updated: report.updated,
        unchanged: report.unchanged,
        failed: report.failedCount,
      };
    };
    const first = await sync(`first sync of ${documents} documents`);
    const unchanged = await sync('re-sync, nothing changed');
    for (let i = 0; i < changed; i++) {
      const index = Math.floor((i * documents) / changed);
      await writeFile(join(corpusDir, fileName(index)), document(index, 1));
    }
    const edited = await sync(`re-sync after editing ${changed} documents`);

    ctx.log('ingest: baseline, the same corpus indexed in one process');
    const baseline = await indexInOneProcess(ctx, corpusDir, documents, env);
    if (first.failed > 0) throw new Error(`${first.failed} documents failed to index`);

    const real = await syncPackageDocs(ctx, env);
    const limited = await syncUnderRateLimit(ctx, {
      env,
      corpusTokens: fakeTokens(openai.requests.slice(0, first.embeddingCalls)),
    });

    return {
      key: 'ingest',
      title: 'Ingest: sync documents into the vector store',
      workload:
        `${documents.toLocaleString('en')} generated Markdown documents (${(bytes / 1e6).toFixed(1)} MB, front matter, 3–5 sections each; ${first.chunks.toLocaleString('en')} chunks) ` +
        `synced by statemachine/ingest.asl.json on the local executor (manifest and lock in dynalite, rows staged on disk, LanceDB on disk); embeddings by the real OpenAI client from the loopback fake OpenAI (1,536 dimensions), which counts the calls; ${changed} documents (1%) edited for the last sync` +
        (ctx.quick ? '; --quick syncs 300 documents instead of 1,000' : ''),
      baseline:
        'first sync: the same documents read, loaded, split and embedded (same client, same fake) and written to a new table with its indexes, in one process; re-syncs: the first sync',
      figures: [
        { name: 'first sync: time', value: first.ms, unit: 'ms', baseline: baseline.ms },
        {
          name: 'first sync: chunks per second',
          value: first.embeddedChunks / (first.ms / 1000),
          unit: 'chunks/s',
          baseline: baseline.chunks / (baseline.ms / 1000),
        },
        {
          name: 'first sync: embedding calls',
          value: first.embeddingCalls,
          unit: 'count',
          baseline: baseline.embeddingCalls,
        },
        {
          name: 'unchanged re-sync: embedding calls',
          value: unchanged.embeddingCalls,
          unit: 'count',
          target: { max: 0 },
        },
        {
          name: 'unchanged re-sync: time ÷ first sync',
          value: unchanged.ms / first.ms,
          unit: 'ratio',
          target: { max: 0.1, text: '< 0.1' },
        },
        { name: 'unchanged re-sync: time', value: unchanged.ms, unit: 'ms', baseline: first.ms },
        { name: '1% edited re-sync: time', value: edited.ms, unit: 'ms', baseline: first.ms },
        {
          name: '1% edited re-sync: embedding calls',
          value: edited.embeddingCalls,
          unit: 'count',
          baseline: first.embeddingCalls,
        },
        {
          name: '1% edited re-sync: chunks embedded',
          value: edited.embeddedChunks,
          unit: 'count',
          baseline: first.embeddedChunks,
        },
        {
          name: 'real corpus, first sync: chunks per second',
          value: real.first.embeddedChunks / (real.first.ms / 1000),
          unit: 'chunks/s',
          baseline: first.embeddedChunks / (first.ms / 1000),
        },
        { name: 'real corpus, first sync: time', value: real.first.ms, unit: 'ms' },
        { name: 'real corpus: files', value: real.files, unit: 'count' },
        { name: 'real corpus: chunks', value: real.first.chunks, unit: 'count' },
        { name: 'real corpus: files failed, with a reason', value: real.first.failed, unit: 'count' },
        {
          name: 'real corpus, unchanged re-sync: chunks embedded',
          value: real.unchanged.embeddedChunks,
          unit: 'count',
          target: { max: 0 },
        },
        {
          name: 'real corpus, unchanged re-sync: time',
          value: real.unchanged.ms,
          unit: 'ms',
          baseline: real.first.ms,
        },
        ...rateLimitFigures(limited, 'first sync'),
      ],
      notes: [
        `Real corpus: the Markdown shipped in this project's node_modules (${real.files.toLocaleString('en')} files, ${(real.bytes / 1e6).toFixed(1)} MB of READMEs, changelogs and docs by hundreds of authors), synced the same way; baseline: the generated corpus's chunks per second. Failures are files with nothing to index (only headings) or over the size limit, each listed with its reason.`,
        `Under a modelled rate limit: the generated corpus's first sync again, into a new table, against a fake OpenAI limiting embeddings to ${limited.tokensPerWindow.toLocaleString('en')} tokens per ${limited.windowMs / 1000} s (a third of the corpus's ${limited.corpusTokens.toLocaleString('en')} tokens as the fake counts them: OpenAI's limits are per minute, shortened here so the bench waits seconds, not minutes; the proportion of burst to refill is the same), ${limited.concurrency} batches at once, each pacing itself by the x-ratelimit-* headers; baseline for its time: the floor the limit sets (everything past the first full budget at the refill rate). The share of the limit used is the tokens embedded over what the limit allowed in the sync's embedding span (burst plus refill).`,
        'The fake OpenAI embeds in this same process with the local hashing embedder, so chunks per second here is the pipeline’s own throughput; with OpenAI the embedding requests (each up to the provider’s batch limits) take most of a first sync.',
      ],
      details: {
        documents,
        bytes,
        changedDocuments: changed,
        first,
        unchanged,
        edited,
        baseline,
        real,
        limited,
      },
    };
  } finally {
    await ingest.close();
    await openai.close();
  }
}

/** Tokens the fake OpenAI counted in the embedding requests it answered (a quarter of each input's characters). */
export function fakeTokens(requests: FakeOpenAI['requests']): number {
  return requests
    .filter((r) => r.path === '/v1/embeddings' && r.status === 200)
    .flatMap((r) => {
      const input = (r.body as { input?: unknown }).input;
      return Array.isArray(input) ? input.map(String) : [String(input)];
    })
    .reduce((sum, input) => sum + Math.max(1, Math.ceil(input.length / 4)), 0);
}

/** The figures of a sync under a modelled rate limit (`what`: which sync it was). */
export function rateLimitFigures(
  limited: Awaited<ReturnType<typeof syncUnderRateLimit>>,
  what: string,
): Figure[] {
  return [
    {
      name: `under a modelled rate limit, ${what}: time`,
      value: limited.ms,
      unit: 'ms',
      baseline: limited.floorMs,
    },
    {
      name: 'under a modelled rate limit: share of the limit used',
      value: limited.share,
      unit: 'ratio',
      target: { min: 0.7, text: '≥ 0.7' },
    },
    {
      name: 'under a modelled rate limit: chunks per second',
      value: limited.embedding.chunksPerSecond,
      unit: 'chunks/s',
    },
    {
      name: 'under a modelled rate limit: 429s waited out',
      value: limited.embedding.rateLimited,
      unit: 'count',
      baseline: limited.embedding.requests,
    },
    {
      name: 'under a modelled rate limit: chunks embedded twice or lost',
      value: limited.duplicatedOrLost,
      unit: 'count',
      target: { max: 0 },
    },
  ];
}

/**
 * The generated corpus synced again into a new table against a fake OpenAI whose embeddings are limited to a third
 * of the corpus's tokens per window: how close to the limit the batches run, what they wait, and that every chunk
 * is embedded exactly once.
 */
export async function syncUnderRateLimit(
  ctx: BenchContext,
  options: {
    env: Record<string, string>;
    corpusTokens: number;
    /** Where the `corpus` folder is. @default the bench's scratch directory */
    baseDir?: string;
    /** Where the new table and its staging go. @default `<scratch>/limited` */
    root?: string;
  },
) {
  const { env, corpusTokens } = options;
  const windowMs = 10_000;
  const tokensPerWindow = Math.ceil(corpusTokens / 3);
  const openai = await startFakeOpenAI({
    embeddingRateLimit: { tokensPerMinute: tokensPerWindow, windowMs },
  });
  const root = options.root ?? join(ctx.workDir, 'limited');
  const limitedEnv = { ...env, OPENAI_BASE_URL: openai.url };
  const ingest = await startLocalIngest({
    lancedbUri: join(root, 'lancedb'),
    stagingUri: join(root, 'staging'),
    baseDir: options.baseDir ?? ctx.workDir,
    env: limitedEnv,
    store: 'dynalite',
  });
  try {
    ctx.log(`ingest: first sync under a limit of ${tokensPerWindow} tokens per ${windowMs / 1000} s`);
    const started = performance.now();
    const result = await ingest.sync({ origins: ['corpus'], prune: true });
    const ms = performance.now() - started;
    const embedding = result.report?.embedding;
    if (result.status !== 'committed' || embedding === undefined) {
      throw new Error(`the rate-limited sync did not commit: ${result.error ?? result.status}`);
    }
    const answered = openai.requests
      .filter((r) => r.path === '/v1/embeddings' && r.status === 200)
      .flatMap((r) => (r.body as { input: string[] }).input);
    // Texts answered against chunks written: a batch retried after its request succeeded would send its texts
    // twice, a lost one fewer. (Not distinct texts: real documents share paragraphs, each embedded for its own
    // chunk; the scale section's real text has about 50 such in 2,000 chunks.)
    const duplicatedOrLost = Math.abs(answered.length - embedding.chunks);
    const embedded = fakeTokens(openai.requests);
    const allowed = tokensPerWindow + (tokensPerWindow * embedding.ms) / windowMs;
    return {
      ms,
      floorMs: ((corpusTokens - tokensPerWindow) / tokensPerWindow) * windowMs,
      share: embedded / allowed,
      embedding,
      duplicatedOrLost,
      corpusTokens,
      tokensPerWindow,
      windowMs,
      concurrency: loadConfig(limitedEnv).ingest.concurrency,
    };
  } finally {
    await ingest.close();
    await openai.close();
  }
}

/**
 * The Markdown of the project's node_modules (see package-docs.ts) synced through the same state machine and fake
 * OpenAI as the generated corpus, then re-synced unchanged.
 */
async function syncPackageDocs(ctx: BenchContext, env: Record<string, string>) {
  const root = join(ctx.workDir, 'real');
  const corpus = await copyPackageDocs(join(root, 'packages'));
  const ingest = await startLocalIngest({
    lancedbUri: join(root, 'lancedb'),
    stagingUri: join(root, 'staging'),
    baseDir: root,
    env,
    store: 'dynalite',
  });
  try {
    const sync = async (label: string) => {
      ctx.log(`ingest: real corpus, ${label}`);
      const started = performance.now();
      const result = await ingest.sync({ origins: ['packages'], prune: true });
      const ms = performance.now() - started;
      if (result.status !== 'committed' || result.report === undefined) {
        throw new Error(`the real corpus's ${label} did not commit: ${result.error ?? result.status}`);
      }
      const { chunks, embeddedChunks, failedCount } = result.report;
      return { ms, chunks, embeddedChunks, failed: failedCount };
    };
    const first = await sync(`first sync of ${corpus.files.length} files`);
    const unchanged = await sync('re-sync, nothing changed');
    return { files: corpus.files.length, bytes: corpus.bytes, first, unchanged };
  } finally {
    await ingest.close();
  }
}

async function indexInOneProcess(
  ctx: BenchContext,
  corpusDir: string,
  documents: number,
  env: Record<string, string>,
): Promise<{ ms: number; chunks: number; embeddingCalls: number }> {
  const config = loadConfig(env);
  const embeddings = createEmbeddings(config.llm, env.OPENAI_API_KEY);
  const connection = await connectVectorStore(join(ctx.workDir, 'baseline-lancedb'));
  try {
    const started = performance.now();
    const chunks = [];
    for (let i = 0; i < documents; i++) {
      const source = `corpus/${fileName(i)}`;
      const loaded = await loadDocument(await readFile(join(corpusDir, fileName(i))), source);
      if (!loaded.ok) throw new Error(loaded.message);
      chunks.push(
        ...(await splitDocument(loaded.document, {
          chunkSize: config.ingest.chunkSize,
          chunkOverlap: config.ingest.chunkOverlap,
        })),
      );
    }
    const { rows, requests } = await embedInRequests(embeddings, chunks, {
      dimensions: 1536,
      updatedAt: Date.now(),
    });
    const handle = await createDocumentTable(
      connection,
      { table: 'documents', embedderName: config.llm.embeddingModel, dimensions: 1536, embeddings },
      { overwrite: true },
    );
    await handle.table.add(rows as never);
    await ensureIndexes(handle, { vectorIndexMinRows: config.ingest.vectorIndexMinRows });
    handle.close();
    return { ms: performance.now() - started, chunks: rows.length, embeddingCalls: requests };
  } finally {
    connection.close();
  }
}
