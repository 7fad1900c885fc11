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

/**
 * SDK attempts per call: ThrottlingException and 5xx are retried with the SDK's backoff, then the step's Retry (the
 * ingest's embedder makes one attempt and backs off a throttle itself, see {@link createBedrockEmbeddings}).
 */
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
export function createBedrockClient(llm: LlmConfig, maxAttempts = SDK_MAX_ATTEMPTS): BedrockRuntimeClient {
  const bedrock = bedrockOf(llm);
  const client = new BedrockRuntimeClient({
    region: bedrock.region,
    maxAttempts,
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
 * What one InvokeModel of an embedding model may hold
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html,
 * https://docs.aws.amazon.com/bedrock/latest/userguide/titan-embedding-models.html). Cohere Embed v3: up to 96
 * texts a call, each of at most 2,048 characters (longer is refused, whatever `truncate` says; `truncate: END`
 * cuts what is over its 512 tokens). Titan Text Embeddings: one text a call (`inputText`), up to 8,192 tokens
 * (v2: and 50,000 characters).
 */
export const COHERE_EMBED_MAX_TEXTS = 96;
export const COHERE_EMBED_MAX_CHARACTERS = 2_048;
export const TITAN_EMBED_MAX_TOKENS = 8_192;
export const TITAN_EMBED_MAX_CHARACTERS = 50_000;

/** Requests in flight at once per embedder: a batch of documents has hundreds of chunks. */
const EMBED_CONCURRENCY = 8;

/** The longest prefix of `text` of at most `max` UTF-16 code units, never splitting a surrogate pair. */
function cutToCharacters(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/**
 * `BedrockEmbeddings` with its error left intact, and Cohere's request body. LangChain's (1.4.5) replaces the SDK's
 * error by a plain Error (losing `AccessDeniedException`'s name and the status its retry decision and the state
 * machine's read), prints it with `console.error`, and sends Titan's body (`{inputText, dimensions, normalize}`) to
 * every model but Nova, which Cohere Embed refuses. This one sends Titan's body to Titan, one text an InvokeModel,
 * and Cohere's (`{texts, input_type}`: `search_document` for the documents, `search_query` for a question) to
 * Cohere, up to 96 texts an InvokeModel, each cut to Cohere's 2,048 characters.
 *
 * {@link embeddingLimits} tells the ingest what one InvokeModel holds, so that each of its `embedDocuments` calls is
 * exactly one InvokeModel, the unit of Bedrock's requests-per-minute quota (embedding models are throttled by
 * requests per minute, not tokens).
 */
export class BedrockTextEmbeddings extends BedrockEmbeddings {
  override async embedQuery(text: string): Promise<number[]> {
    const [vector] = await this.invoke([text], 'search_query');
    if (vector === undefined) throw new Error(`${this.model} answered without an embedding`);
    return vector;
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    const size = isCohere(this.model) ? COHERE_EMBED_MAX_TEXTS : 1;
    const calls: string[][] = [];
    for (let i = 0; i < documents.length; i += size) calls.push(documents.slice(i, i + size));
    return (await Promise.all(calls.map((texts) => this.invoke(texts, 'search_document')))).flat();
  }

  override async _embedText(text: string): Promise<number[]> {
    const [vector] = await this.invoke([text], 'search_document');
    if (vector === undefined) throw new Error(`${this.model} answered without an embedding`);
    return vector;
  }

  /** What one InvokeModel of this model may hold, for the ingest's requests (see embedding-requests.ts). */
  embeddingLimits(): {
    maxInputs: number;
    maxRequestTokens: number;
    maxInputTokens: number;
    maxInputCharacters: number;
    concurrency: number;
  } {
    if (isCohere(this.model)) {
      // No token limit a call: `truncate: END` cuts a text to Cohere's 512 tokens.
      return {
        maxInputs: COHERE_EMBED_MAX_TEXTS,
        maxRequestTokens: Number.MAX_SAFE_INTEGER,
        maxInputTokens: Number.MAX_SAFE_INTEGER,
        maxInputCharacters: COHERE_EMBED_MAX_CHARACTERS,
        concurrency: EMBED_CONCURRENCY,
      };
    }
    return {
      maxInputs: 1,
      maxRequestTokens: TITAN_EMBED_MAX_TOKENS,
      maxInputTokens: TITAN_EMBED_MAX_TOKENS,
      maxInputCharacters: TITAN_EMBED_MAX_CHARACTERS,
      concurrency: EMBED_CONCURRENCY,
    };
  }

  /** One InvokeModel: one text for Titan, up to 96 for Cohere. */
  private async invoke(texts: string[], inputType: 'search_document' | 'search_query'): Promise<number[][]> {
    const cleaned = texts.map((text) => text.replace(/\n/g, ' '));
    const cohere = isCohere(this.model);
    const body = cohere
      ? {
          ...this.modelParameters,
          texts: cleaned.map((text) => cutToCharacters(text, COHERE_EMBED_MAX_CHARACTERS)),
          input_type: inputType,
          truncate: 'END',
        }
      : {
          ...this.modelParameters,
          inputText: cleaned[0] ?? '',
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
      const vectors = cohere ? parsed.embeddings : [parsed.embedding];
      if (
        !Array.isArray(vectors) ||
        vectors.length !== texts.length ||
        !vectors.every((vector) => Array.isArray(vector))
      ) {
        throw new Error(`${this.model} answered without an embedding for each text`);
      }
      return vectors as number[][];
    });
  }
}

/** Options of {@link createBedrockEmbeddings}. */
export interface BedrockEmbeddingsOptions {
  /**
   * Hand a ThrottlingException straight back to the caller, neither the SDK nor LangChain retrying it: the ingest
   * waits it out itself, sharing the wait between its requests in flight and counting it (embedding-requests.ts).
   * Other failures are retried by LangChain (`maxRetries`) alone. @default the SDK's backoff, then LangChain's
   */
  throttlingToCaller?: boolean;
}

/**
 * Titan Text Embeddings (or Cohere Embed) through InvokeModel; Titan v2 at `EMBEDDING_DIMENSIONS`, normalized (what
 * cosine search wants). A 4xx other than throttling is not retried: it fails the same way again.
 */
export function createBedrockEmbeddings(
  llm: LlmConfig,
  maxRetries = llm.maxRetries,
  options: BedrockEmbeddingsOptions = {},
): BedrockTextEmbeddings {
  const bedrock = bedrockOf(llm);
  const v2 = llm.embeddingModel.includes('titan-embed-text-v2');
  const throttlingToCaller = options.throttlingToCaller === true;
  return new BedrockTextEmbeddings({
    client: createBedrockClient(llm, throttlingToCaller ? 1 : SDK_MAX_ATTEMPTS),
    model: llm.embeddingModel,
    ...(v2 ? { dimensions: bedrock.embeddingDimensions, modelParameters: { normalize: true } } : {}),
    maxConcurrency: EMBED_CONCURRENCY,
    maxRetries,
    onFailedAttempt: (error: unknown) => {
      const e = error as { name?: string; $fault?: string } | null;
      const throttled = e?.name === 'ThrottlingException';
      if (
        error instanceof ConfigError ||
        (e?.$fault === 'client' && !throttled) ||
        (throttled && throttlingToCaller)
      ) {
        throw error;
      }
    },
  });
}
