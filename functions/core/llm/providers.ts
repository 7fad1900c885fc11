import type { Embeddings } from '@langchain/core/embeddings';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import type { AppConfig } from '../config';
import { ConfigError } from '../errors';
import { BedrockTextEmbeddings, createBedrockChatModel, createBedrockEmbeddings } from './bedrock';
import { LocalExtractiveChatModel } from './local-chat-model';
import { DEFAULT_LOCAL_DIMENSIONS, LocalHashEmbeddings } from './local-embeddings';

/**
 * The one place that turns the `llm` configuration into LangChain clients: OpenAI's (or any OpenAI-compatible
 * server's, through `baseUrl`), Amazon Bedrock's (bedrock.ts), or the offline `local` stand-ins. Everything downstream takes a `BaseChatModel`
 * and an `Embeddings` and never asks which one it got, except to record an honest model name.
 */

export type LlmConfig = AppConfig['llm'];

/**
 * Passed explicitly so that `loadConfig` stays the only reader of the environment: without a `baseURL`,
 * ChatOpenAI looks at `OPENAI_API_BASE`, `OPENAI_BASE_URL` and even `LANGSMITH_GATEWAY` on its own.
 */
const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** Dimensions of OpenAI's embedding models at their default size (a Map: a model named "constructor" is unknown). */
const OPENAI_EMBEDDING_DIMENSIONS = new Map<string, number>([
  ['text-embedding-3-small', 1536],
  ['text-embedding-3-large', 3072],
  ['text-embedding-ada-002', 1536],
]);

function requireKey(llmConfig: LlmConfig, apiKey: string | undefined): string {
  if (llmConfig.provider === 'openai' && (apiKey === undefined || apiKey === '')) {
    throw new ConfigError(
      'LLM_PROVIDER is openai but no OpenAI API key was given (OPENAI_API_KEY or OPENAI_API_KEY_ARN)',
    );
  }
  return apiKey ?? '';
}

/**
 * Reasoning models (o-series, gpt-5 except its chat variants) accept only their default temperature and fail
 * the request otherwise; ChatOpenAI 1.6 still sends the configured one, so it is left out for them.
 */
function acceptsTemperature(model: string): boolean {
  if (/^o\d/.test(model)) return false;
  return !(/^gpt-[5-9]/.test(model) && !/^gpt-\d+(\.\d+)?-chat/.test(model));
}

/**
 * The chat model for `llmConfig`. Retries are LangChain's (`maxRetries`; the OpenAI SDK's own are turned off
 * by ChatOpenAI): 5xx and connection errors, and a 429 only when it carries a `Retry-After` of a minute or less.
 *
 * @param apiKey required when the provider is `openai`; never logged or put in an error message.
 * @param opts.streaming makes `invoke` stream under the hood too; `stream()` streams either way.
 * @throws ConfigError when the provider is `openai` and no key is given.
 */
export function createChatModel(
  llmConfig: LlmConfig,
  apiKey?: string,
  opts: { streaming?: boolean } = {},
): BaseChatModel {
  if (llmConfig.provider === 'local') {
    // A `local-…` name (a channel profile's, say) is the offline model under that name, so the footer shows it.
    const named = llmConfig.chatModel.startsWith('local-') ? { modelName: llmConfig.chatModel } : {};
    return new LocalExtractiveChatModel(named);
  }
  if (llmConfig.provider === 'bedrock') return createBedrockChatModel(llmConfig, opts);
  return new ChatOpenAI({
    apiKey: requireKey(llmConfig, apiKey),
    model: llmConfig.chatModel,
    ...(acceptsTemperature(llmConfig.chatModel) ? { temperature: llmConfig.temperature } : {}),
    maxTokens: llmConfig.maxOutputTokens,
    timeout: llmConfig.timeoutMs,
    maxRetries: llmConfig.maxRetries,
    streamUsage: true,
    // `streaming: false` would make ChatOpenAI disable `stream()` altogether, so it is only ever set to true.
    ...(opts.streaming === true ? { streaming: true } : {}),
    configuration: { baseURL: llmConfig.baseUrl ?? OPENAI_DEFAULT_BASE_URL },
  });
}

/** How an OpenAI embedder talks to its server, for callers that need more than the defaults (the ingest). */
export interface EmbeddingsClientOptions {
  /** The `fetch` the OpenAI client uses (to read every response's rate-limit headers). @default global fetch */
  fetch?: typeof fetch;
  /** Replaces LangChain's decision to retry a failed attempt (throw to stop retrying). @default LangChain's */
  onFailedAttempt?: (error: unknown) => unknown;
}

/**
 * The embeddings for `llmConfig`. For the `local` provider the model name `local-hash-<n>` sets the number of
 * dimensions; any other name (an OpenAI model left in the environment) gets the default local model.
 *
 * @throws ConfigError when the provider is `openai` and no key is given, or a `local-hash-` name is malformed.
 */
export function createEmbeddings(
  llmConfig: LlmConfig,
  apiKey?: string,
  client: EmbeddingsClientOptions = {},
): Embeddings {
  if (llmConfig.provider === 'local') {
    const model = llmConfig.embeddingModel;
    if (!model.startsWith('local-hash'))
      return new LocalHashEmbeddings({ dimensions: DEFAULT_LOCAL_DIMENSIONS });
    const dimensions = /^local-hash-(\d{1,4})$/.exec(model)?.[1];
    if (dimensions === undefined || Number(dimensions) < 8) {
      throw new ConfigError(
        `OPENAI_EMBEDDING_MODEL must be local-hash-<8 to 9999> for the local provider; got "${model}"`,
      );
    }
    return new LocalHashEmbeddings({ dimensions: Number(dimensions) });
  }
  if (llmConfig.provider === 'bedrock') return createBedrockEmbeddings(llmConfig);
  return new OpenAIEmbeddings({
    apiKey: requireKey(llmConfig, apiKey),
    model: llmConfig.embeddingModel,
    timeout: llmConfig.timeoutMs,
    maxRetries: llmConfig.maxRetries,
    batchSize: 512,
    ...(client.onFailedAttempt !== undefined ? { onFailedAttempt: client.onFailedAttempt } : {}),
    configuration: {
      baseURL: llmConfig.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
      ...(client.fetch !== undefined ? { fetch: client.fetch } : {}),
    },
  });
}

/** The name of the model behind a chat model, as recorded with an answer ('gpt-4.1-mini', 'local-extractive'). */
export function modelNameOf(model: BaseChatModel): string {
  if (model instanceof ChatOpenAI) return model.model;
  if (model instanceof LocalExtractiveChatModel) return model.modelName;
  const named = model as unknown as { model?: unknown; modelName?: unknown };
  if (typeof named.model === 'string') return named.model;
  if (typeof named.modelName === 'string') return named.modelName;
  return model._llmType();
}

/** The name of the model behind embeddings, as recorded with the vectors ('text-embedding-3-small', 'local-hash-512'). */
export function embeddingNameOf(embeddings: Embeddings): string {
  if (embeddings instanceof OpenAIEmbeddings) return embeddings.model;
  if (embeddings instanceof LocalHashEmbeddings) return embeddings.modelName;
  const named = embeddings as unknown as { model?: unknown; modelName?: unknown };
  if (typeof named.model === 'string') return named.model;
  if (typeof named.modelName === 'string') return named.modelName;
  return embeddings.constructor.name;
}

/** The length of the vectors, when known without calling the model; undefined otherwise. */
export function embeddingDimensionsOf(embeddings: Embeddings): number | undefined {
  if (embeddings instanceof LocalHashEmbeddings) return embeddings.dimensions;
  if (embeddings instanceof BedrockTextEmbeddings) return embeddings.dimensions;
  if (embeddings instanceof OpenAIEmbeddings) {
    return embeddings.dimensions ?? OPENAI_EMBEDDING_DIMENSIONS.get(embeddings.model);
  }
  return undefined;
}
