import type { Embeddings } from '@langchain/core/embeddings';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { createChatModel, createEmbeddings } from './llm/providers';
import type { Runtime } from './runtime';

/**
 * The chat model and embeddings of a runtime, built once per warm container. They live apart from `Runtime` so
 * that only the handlers that call a model (Condense question, Retrieve, Generate and stream) bundle LangChain's
 * OpenAI client; Load history, Persist turn and the others stay small and start fast.
 */

const chatModels = new WeakMap<Runtime, Promise<BaseChatModel>>();
const embeddingModels = new WeakMap<Runtime, Promise<Embeddings>>();

function cachedPer<T>(
  cache: WeakMap<Runtime, Promise<T>>,
  runtime: Runtime,
  make: () => Promise<T>,
): Promise<T> {
  let value = cache.get(runtime);
  if (!value) {
    value = make();
    // A failure (say, Secrets Manager throttled on a cold start) is not kept: the next call tries again.
    value.catch(() => cache.delete(runtime));
    cache.set(runtime, value);
  }
  return value;
}

async function openaiApiKey(runtime: Runtime): Promise<string | undefined> {
  const { config } = runtime;
  return config.llm.provider === 'openai'
    ? runtime.secrets.read(config.secrets.openaiApiKey, 'OPENAI_API_KEY')
    : undefined;
}

export function chatModelFor(runtime: Runtime): Promise<BaseChatModel> {
  return cachedPer(chatModels, runtime, async () =>
    createChatModel(runtime.config.llm, await openaiApiKey(runtime)),
  );
}

export function embeddingsFor(runtime: Runtime): Promise<Embeddings> {
  return cachedPer(embeddingModels, runtime, async () =>
    createEmbeddings(runtime.config.llm, await openaiApiKey(runtime)),
  );
}
