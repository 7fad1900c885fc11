import type { Embeddings } from '@langchain/core/embeddings';
import { AsyncCaller } from '@langchain/core/utils/async_caller';
import { createBedrockEmbeddings } from '../llm/bedrock';
import { createEmbeddings } from '../llm/providers';
import type { Runtime } from '../runtime';
import { attachRateLimiter, EmbeddingRateLimiter, observingFetch } from './embedding-rate-limit';

/**
 * LangChain's own decision on a failed attempt (retry 5xx and dropped connections, stop on 4xx), which it does not
 * export by name: a default AsyncCaller holds it, in a member only a subclass may read.
 */
const langChainDecision = new (class extends AsyncCaller {
  readonly decision = this.onFailedAttempt;
})({}).decision;

/**
 * A 429 goes straight back to the batch, which waits it out knowing its invocation's time and counting it
 * (embedding-requests.ts); LangChain would sleep at least its own backoff (1–2 s, doubling) whatever the provider
 * says, past the invocation's end if need be, and uncounted. Everything else is LangChain's to retry.
 */
function rateLimitsToTheBatch(error: unknown): unknown {
  const status = (error as { status?: unknown } | null)?.status;
  if (status === 429) throw error;
  return langChainDecision?.(error);
}

/**
 * The embedder of the ingest steps that use one (Plan records its name and dimensions, Batch embeds), with the
 * ingest's own retry budget: a batch has minutes, a question seconds. Its responses feed a rate limiter (see
 * embedding-rate-limit.ts) that the batch consults before each request. A module of its own, imported by those
 * steps' entries only (through `defineIngestStep`'s `embeddings`), so that Batch failed, Commit, Optimize and
 * Report do not bundle the OpenAI client, a megabyte they never call.
 */
export async function createIngestEmbeddings(runtime: Runtime): Promise<Embeddings> {
  const { config } = runtime;
  if (config.llm.provider === 'bedrock') {
    // Bedrock says nothing of its quota but the ThrottlingException (429, no header): the batch backs off from
    // it, its InvokeModel calls in flight sharing one wait (embedding-rate-limit.ts), and counts it.
    return createBedrockEmbeddings(config.llm, config.ingest.embedMaxRetries, { throttlingToCaller: true });
  }
  if (config.llm.provider !== 'openai') {
    return createEmbeddings({ ...config.llm, maxRetries: config.ingest.embedMaxRetries });
  }
  const apiKey = await runtime.secrets.read(config.secrets.openaiApiKey, 'OPENAI_API_KEY');
  const limiter = new EmbeddingRateLimiter();
  const embeddings = createEmbeddings({ ...config.llm, maxRetries: config.ingest.embedMaxRetries }, apiKey, {
    fetch: observingFetch(limiter),
    onFailedAttempt: rateLimitsToTheBatch,
  });
  attachRateLimiter(embeddings, limiter);
  return embeddings;
}
