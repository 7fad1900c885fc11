import type { Embeddings } from '@langchain/core/embeddings';
import { createEmbeddings } from '../llm/providers';
import type { Runtime } from '../runtime';

/**
 * The embedder of the ingest steps that use one (Plan records its name and dimensions, Batch embeds), with the
 * ingest's own retry budget: a batch has minutes, a question seconds. A module of its own, imported by those
 * steps' entries only (through `defineIngestStep`'s `embeddings`), so that Batch failed, Commit, Optimize and
 * Report do not bundle the OpenAI client, a megabyte they never call.
 */
export async function createIngestEmbeddings(runtime: Runtime): Promise<Embeddings> {
  const { config } = runtime;
  const apiKey =
    config.llm.provider === 'openai'
      ? await runtime.secrets.read(config.secrets.openaiApiKey, 'OPENAI_API_KEY')
      : undefined;
  return createEmbeddings({ ...config.llm, maxRetries: config.ingest.embedMaxRetries }, apiKey);
}
