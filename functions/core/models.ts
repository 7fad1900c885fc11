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

const chatModelsByName = new WeakMap<Runtime, Map<string, Promise<BaseChatModel>>>();

/**
 * The chat model a channel's profile names (`CHANNEL_PROFILES`), of the deployment's provider, one per runtime and
 * name; the configured one when `name` is undefined or is the configured model.
 */
export function chatModelNamed(runtime: Runtime, name: string | undefined): Promise<BaseChatModel> {
  if (name === undefined || name === runtime.config.llm.chatModel) return chatModelFor(runtime);
  let byName = chatModelsByName.get(runtime);
  if (byName === undefined) {
    byName = new Map();
    chatModelsByName.set(runtime, byName);
  }
  let model = byName.get(name);
  if (model === undefined) {
    model = openaiApiKey(runtime).then((key) =>
      createChatModel({ ...runtime.config.llm, chatModel: name }, key),
    );
    model.catch(() => byName.delete(name));
    byName.set(name, model);
  }
  return model;
}

/** The configured embeddings, one per runtime. */
export const embeddingsFor: (runtime: Runtime) => Promise<Embeddings> = memoPer(async (runtime: Runtime) =>
  createEmbeddings(runtime.config.llm, await openaiApiKey(runtime)),
);
