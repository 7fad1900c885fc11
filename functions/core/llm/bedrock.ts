import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { BedrockEmbeddings, ChatBedrockConverse } from '@langchain/aws';
import type { AppConfig, BedrockConfig } from '../config';
import { ConfigError } from '../errors';

/**
 * Amazon Bedrock as the `bedrock` provider: chat through the Converse and ConverseStream APIs (LangChain's
 * `ChatBedrockConverse`), embeddings through InvokeModel (Titan Text Embeddings or Cohere Embed). The function's IAM role signs the
 * calls; there is no key. Only the handlers that call a model import this module.
 */

type LlmConfig = AppConfig['llm'];

/** SDK attempts per call: ThrottlingException and 5xx are retried with the SDK's backoff, then the step's Retry. */
const SDK_MAX_ATTEMPTS = 3;

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

function bedrockOf(llm: LlmConfig): BedrockConfig {
  if (llm.bedrock === undefined) throw new ConfigError('LLM_PROVIDER is not bedrock');
  return llm.bedrock;
}

/**
 * The setting that names `modelId`, for an error a person can act on. Deploy-wide settings are `bot:*` context keys
 * that reach the functions as these variables.
 */
function settingOf(llm: LlmConfig, modelId: string): string {
  return modelId === llm.embeddingModel
    ? 'bot:embeddingModel (OPENAI_EMBEDDING_MODEL)'
    : 'bot:chatModel (OPENAI_MODEL)';
}

/**
 * One Bedrock runtime client for both models. A model the account has not enabled answers AccessDeniedException:
 * it is turned into a ConfigError (never retried) that names the model, the region and the setting, since the fix is
 * in the console or in cdk.json, not in trying again.
 */
export function createBedrockClient(llm: LlmConfig): BedrockRuntimeClient {
  const bedrock = bedrockOf(llm);
  const client = new BedrockRuntimeClient({
    region: bedrock.region,
    maxAttempts: SDK_MAX_ATTEMPTS,
    ...(bedrock.endpoint === undefined ? {} : { endpoint: bedrock.endpoint }),
    // The local stand-in checks that a request is signed, not by whom.
    ...(bedrock.endpoint !== undefined && isLoopback(bedrock.endpoint)
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if ((error as { name?: unknown } | null)?.name !== 'AccessDeniedException') throw error;
        const modelId = String((args.input as { modelId?: unknown }).modelId ?? '');
        throw new ConfigError(
          `Amazon Bedrock refused ${modelId} in ${bedrock.region} (${context.commandName}: ` +
            `${(error as Error).message}). Enable access to this model in the Bedrock console (Model access) ` +
            `of that region, or name an enabled one in ${settingOf(llm, modelId)}.`,
          { cause: error },
        );
      }
    },
    { step: 'initialize', name: 'explainAccessDenied' },
  );
  return client;
}

/** Converse and ConverseStream, with usage from the stream's metadata event and the guardrail when one is set. */
export function createBedrockChatModel(
  llm: LlmConfig,
  opts: { streaming?: boolean } = {},
): ChatBedrockConverse {
  const bedrock = bedrockOf(llm);
  return new ChatBedrockConverse({
    client: createBedrockClient(llm),
    region: bedrock.region,
    model: llm.chatModel,
    temperature: llm.temperature,
    maxTokens: llm.maxOutputTokens,
    streamUsage: true,
    // Retries are the SDK's (above); LangChain's would multiply them.
    maxRetries: 0,
    ...(opts.streaming === true ? { streaming: true } : {}),
    ...(bedrock.guardrail === undefined
      ? {}
      : {
          guardrailConfig: {
            guardrailIdentifier: bedrock.guardrail.id,
            guardrailVersion: bedrock.guardrail.version,
          },
        }),
  });
}

/** Cohere's Embed models on Bedrock take `texts` and an `input_type`, not Titan's `inputText`. */
function isCohere(model: string): boolean {
  return /(^|\.)cohere\.embed/.test(model.replace(/^arn:.*\//, ''));
}

/**
 * `BedrockEmbeddings` with its error left intact, and Cohere's request body. LangChain's (1.4.5) replaces the SDK's
 * error by a plain Error (losing `AccessDeniedException`'s name and the status its retry decision and the state
 * machine's read), prints it with `console.error`, and sends Titan's body (`{inputText, dimensions, normalize}`) to
 * every model but Nova, which Cohere Embed refuses. This one sends Titan's body to Titan and Cohere's
 * (`{texts, input_type}`: `search_document` for the documents, `search_query` for a question) to Cohere.
 */
export class BedrockTextEmbeddings extends BedrockEmbeddings {
  override async embedQuery(text: string): Promise<number[]> {
    return this.embedOne(text, 'search_query');
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    return Promise.all(documents.map((document) => this.embedOne(document, 'search_document')));
  }

  override async _embedText(text: string): Promise<number[]> {
    return this.embedOne(text, 'search_document');
  }

  private async embedOne(text: string, inputType: 'search_document' | 'search_query'): Promise<number[]> {
    const cleaned = text.replace(/\n/g, ' ');
    const cohere = isCohere(this.model);
    const body = cohere
      ? { ...this.modelParameters, texts: [cleaned], input_type: inputType, truncate: 'END' }
      : {
          ...this.modelParameters,
          inputText: cleaned,
          ...(this.dimensions === undefined ? {} : { dimensions: this.dimensions }),
        };
    return this.caller.call(async () => {
      const response = await this.client.send(
        new InvokeModelCommand({
          modelId: this.model,
          contentType: 'application/json',
          accept: 'application/json',
          body: JSON.stringify(body),
        }),
      );
      const parsed = JSON.parse(new TextDecoder().decode(response.body)) as {
        embedding?: unknown;
        embeddings?: unknown[];
      };
      const embedding = cohere ? parsed.embeddings?.[0] : parsed.embedding;
      if (!Array.isArray(embedding)) throw new Error(`${this.model} answered without an embedding`);
      return embedding as number[];
    });
  }
}

/** Requests in flight at once per embedder: a batch of documents has hundreds of chunks. */
const EMBED_CONCURRENCY = 8;

/**
 * Titan Text Embeddings (or Cohere Embed) through InvokeModel; Titan v2 at `EMBEDDING_DIMENSIONS`, normalized (what
 * cosine search wants). A 4xx other than throttling is not retried: it fails the same way again.
 */
export function createBedrockEmbeddings(llm: LlmConfig, maxRetries = llm.maxRetries): BedrockTextEmbeddings {
  const bedrock = bedrockOf(llm);
  const v2 = llm.embeddingModel.includes('titan-embed-text-v2');
  return new BedrockTextEmbeddings({
    client: createBedrockClient(llm),
    model: llm.embeddingModel,
    ...(v2 ? { dimensions: bedrock.embeddingDimensions, modelParameters: { normalize: true } } : {}),
    maxConcurrency: EMBED_CONCURRENCY,
    maxRetries,
    onFailedAttempt: (error: unknown) => {
      const e = error as { name?: string; $fault?: string } | null;
      if (error instanceof ConfigError || (e?.$fault === 'client' && e.name !== 'ThrottlingException')) {
        throw error;
      }
    },
  });
}
