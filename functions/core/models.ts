import type { Embeddings } from '@langchain/core/embeddings';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { createChatModel, createEmbeddings } from './llm/providers';
import { memoPer } from './memo';
import type { Runtime } from './runtime';

/**
 * The chat model and embeddings of a runtime, built once per warm container. They live apart from `Runtime` so
 * that only the handlers that call a model (Condense question, Retrieve, Generate and stream) bundle LangChain's
 * OpenAI client; Load history, Persist turn and the others stay small and start fast.
 */

async function openaiApiKey(runtime: Runtime): Promise<string | undefined> {
  const { config } = runtime;
  return config.llm.provider === 'openai'
    ? runtime.secrets.read(config.secrets.openaiApiKey, 'OPENAI_API_KEY')
    : undefined;
}

/** The configured chat model, one per runtime. */
export const chatModelFor: (runtime: Runtime) => Promise<BaseChatModel> = memoPer(async (runtime: Runtime) =>
  createChatModel(runtime.config.llm, await openaiApiKey(runtime)),
);

/** The configured embeddings, one per runtime. */
export const embeddingsFor: (runtime: Runtime) => Promise<Embeddings> = memoPer(async (runtime: Runtime) =>
  createEmbeddings(runtime.config.llm, await openaiApiKey(runtime)),
);
