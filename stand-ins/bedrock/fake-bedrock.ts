import { randomUUID } from 'node:crypto';
import {
  createServer,
  type Http2ServerRequest as IncomingMessage,
  type ServerHttp2Session,
  type Http2ServerResponse as ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { LocalExtractiveChatModel } from '../../functions/core/llm/local-chat-model';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';

/**
 * A fake Amazon Bedrock runtime on loopback, for the real `@aws-sdk/client-bedrock-runtime` (through LangChain's
 * `@langchain/aws`) to run against end to end: `POST /model/{modelId}/converse` (JSON),
 * `POST /model/{modelId}/converse-stream` (an `application/vnd.amazon.eventstream` response, encoded with the SDK's
 * own codec) and `POST /model/{modelId}/invoke` for Titan Text Embeddings. Replies are grounded the way the fake
 * OpenAI's are: the `local` provider's extractive model reads the prompt received, and the embeddings are the `local`
 * provider's hashed ones, at the dimensions asked for. Errors are sent as Bedrock sends them: the `x-amzn-ErrorType`
 * header and a JSON `{ "message" }` body.
 *
 * It speaks HTTP/2 without TLS (h2c), as the SDK's Bedrock client only speaks HTTP/2 (its `NodeHttp2Handler`) and an
 * `http://` endpoint makes it start HTTP/2 at once. Browsers never speak h2c, so, unlike the HTTP/1.1 stand-ins, no
 * web page can reach it (loopback-guard.ts is not needed).
 */

/** The errors of the Bedrock runtime API that a test can inject, with the status Bedrock answers them with. */
export const BEDROCK_ERRORS = {
  AccessDeniedException: 403,
  ValidationException: 400,
  ThrottlingException: 429,
  ServiceUnavailableException: 503,
  InternalServerException: 500,
  ModelTimeoutException: 408,
} as const;
export type BedrockErrorType = keyof typeof BEDROCK_ERRORS;

export type BedrockOperation = 'converse' | 'converse-stream' | 'invoke';

export interface RecordedBedrockRequest {
  operation: BedrockOperation;
  /** The model id (or inference profile id, or ARN) from the path, decoded. */
  modelId: string;
  /** Whether the request was signed with SigV4 (the SDK always signs; a request without it is refused). */
  signed: boolean;
  /** The parsed JSON body. */
  body: unknown;
  /** The status answered. */
  status?: number;
}

export interface FakeBedrockOptions {
  /** @default 0 (any free port) */
  port?: number;
  /**
   * The models this account has access to (Bedrock's "Model access" page): any other is answered
   * AccessDeniedException, as Bedrock answers a model not enabled. @default every model
   */
  enabledModels?: readonly string[];
  /** Streamed replies send this many pieces a second, as a real model writes over seconds. @default unpaced */
  streamPiecesPerSecond?: number;
  /**
   * A guardrail (Bedrock Guardrails) this account has: a request naming it whose user text holds one of the denied
   * words is answered with the guardrail's blocked message and `stopReason: guardrail_intervened`.
   */
  guardrail?: { id: string; version: string; deniedWords: readonly string[]; blockedMessage?: string };
  /**
   * Bedrock's "On-demand InvokeModel requests per minute for ${model}" quota: each model's requests (InvokeModel,
   * and Converse, which Bedrock counts against the same quota) past it are answered ThrottlingException, 429, as
   * Bedrock answers them (no header says when to come back). The budget refills continuously over `windowMs`
   * (a minute; a test shortens it so that seconds show what minutes would). @default the environment's
   * `FAKE_BEDROCK_INVOKE_RPM`, else no limit
   */
  invokeRateLimit?: { requestsPerMinute: number; windowMs?: number };
}

export interface FakeBedrock {
  /** The endpoint to give the client, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  requests: RecordedBedrockRequest[];
  /** The next `times` requests (to `operation` only, when given) are answered with this error. */
  failNext(options: { error: BedrockErrorType; times?: number; operation?: BedrockOperation }): void;
  /** Forgets the failures `failNext` queued and no request used. */
  clearFailures(): void;
  close(): Promise<void>;
}

/** Bedrock's default message when a guardrail blocks a model's answer. */
export const GUARDRAIL_BLOCKED_MESSAGE = 'Sorry, the model cannot answer this question.';

/** The Titan Text Embeddings V2 sizes (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html). */
const TITAN_V2_DIMENSIONS = [256, 512, 1024];

type ConverseMessage = { role?: string; content?: Array<{ text?: unknown }> };

const codec = new EventStreamCodec(
  (bytes) => new TextDecoder().decode(bytes),
  (text) => new TextEncoder().encode(text),
);

function textOf(content: ConverseMessage['content']): string {
  return (content ?? []).map((block) => (typeof block.text === 'string' ? block.text : '')).join('');
}

function toLangChain(body: {
  system?: Array<{ text?: unknown }>;
  messages?: ConverseMessage[];
}): BaseMessage[] {
  const system = textOf(body.system);
  return [
    ...(system === '' ? [] : [new SystemMessage(system)]),
    ...(body.messages ?? []).map((m) =>
      m.role === 'assistant' ? new AIMessage(textOf(m.content)) : new HumanMessage(textOf(m.content)),
    ),
  ];
}

/** About four characters a token, never zero (Titan's `inputTextTokenCount`). */
function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function sendError(res: ServerResponse, type: BedrockErrorType, message: string): number {
  const status = BEDROCK_ERRORS[type];
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-requestid': randomUUID(),
    'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
  });
  res.end(JSON.stringify({ message }));
  return status;
}

function event(type: string, body: unknown): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': { type: 'string', value: 'event' },
    ':event-type': { type: 'string', value: type },
    ':content-type': { type: 'string', value: 'application/json' },
  };
  return codec.encode({ headers, body: new TextEncoder().encode(JSON.stringify(body)) });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bedrock's message of a ThrottlingException on a model's request quota. */
export const THROTTLING_MESSAGE = 'Too many requests, please wait before trying again.';

/** A per-minute request budget refilled continuously (a request takes one; a full budget lets a burst through). */
class RequestBudget {
  private level: number;
  private at = Date.now();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    this.level = limit;
  }
  /** Takes one request if one is left. */
  take(): boolean {
    const now = Date.now();
    this.level = Math.min(this.limit, this.level + ((now - this.at) * this.limit) / this.windowMs);
    this.at = now;
    if (this.level < 1) return false;
    this.level -= 1;
    return true;
  }
}

function rpmFromEnv(): number | undefined {
  const raw = process.env.FAKE_BEDROCK_INVOKE_RPM?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`FAKE_BEDROCK_INVOKE_RPM must be a whole number of 1 or more; got "${raw}"`);
  }
  return value;
}

export async function startFakeBedrock(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
  const requests: RecordedBedrockRequest[] = [];
  const rpm = options.invokeRateLimit?.requestsPerMinute ?? rpmFromEnv();
  if (rpm !== undefined && (!Number.isInteger(rpm) || rpm < 1)) {
    throw new Error(`invokeRateLimit.requestsPerMinute must be a whole number of 1 or more; got ${rpm}`);
  }
  const windowMs = options.invokeRateLimit?.windowMs ?? 60_000;
  /** Each model's quota, as Bedrock keeps one per model (and Region, and account). */
  const budgets = new Map<string, RequestBudget>();
  function withinQuota(modelId: string): boolean {
    if (rpm === undefined) return true;
    let budget = budgets.get(modelId);
    if (budget === undefined) {
      budget = new RequestBudget(rpm, windowMs);
      budgets.set(modelId, budget);
    }
    return budget.take();
  }
  const failures: Array<{ error: BedrockErrorType; times: number; operation?: BedrockOperation }> = [];
  const local = new LocalExtractiveChatModel();
  const embeddingsBySize = new Map<number, LocalHashEmbeddings>();
  const pieceDelayMs =
    options.streamPiecesPerSecond !== undefined && options.streamPiecesPerSecond > 0
      ? 1000 / options.streamPiecesPerSecond
      : 0;

  /** The text to answer, and why it stops, for a Converse request: the guardrail's, or the extractive model's. */
  async function replyTo(body: {
    system?: Array<{ text?: unknown }>;
    messages?: ConverseMessage[];
    guardrailConfig?: { guardrailIdentifier?: string; guardrailVersion?: string };
  }): Promise<{ text: string; stopReason: string; inputTokens: number }> {
    const messages = toLangChain(body);
    const inputTokens = messages.reduce((sum, m) => sum + roughTokens(String(m.content)), 0);
    const { guardrail } = options;
    const asked = (body.messages ?? [])
      .filter((m) => m.role !== 'assistant')
      .map((m) => textOf(m.content).toLowerCase())
      .join('\n');
    if (
      guardrail !== undefined &&
      body.guardrailConfig?.guardrailIdentifier === guardrail.id &&
      body.guardrailConfig.guardrailVersion === guardrail.version &&
      guardrail.deniedWords.some((word) => asked.includes(word.toLowerCase()))
    ) {
      return {
        text: guardrail.blockedMessage ?? GUARDRAIL_BLOCKED_MESSAGE,
        stopReason: 'guardrail_intervened',
        inputTokens,
      };
    }
    const reply = await local.invoke(messages);
    return { text: String(reply.content), stopReason: 'end_turn', inputTokens };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(
      new URL(req.url ?? '/', 'http://127.0.0.1').pathname,
    );
    if (req.method !== 'POST' || match === null) {
      return sendError(res, 'ValidationException', `Unknown operation ${req.method} ${req.url}`);
    }
    const modelId = decodeURIComponent(match[1] ?? '');
    const operation = match[2] as BedrockOperation;
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = {};
    }
    const signed = String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ');
    const recorded: RecordedBedrockRequest = { operation, modelId, signed, body };
    requests.push(recorded);
    const answer = async (): Promise<number> => {
      if (!signed) {
        // Bedrock's answer to an unsigned request (no SigV4 Authorization header).
        res.writeHead(403, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'MissingAuthenticationTokenException',
        });
        res.end(JSON.stringify({ message: 'Missing Authentication Token' }));
        return 403;
      }
      const failure = failures.find((f) => f.operation === undefined || f.operation === operation);
      if (failure !== undefined) {
        failure.times -= 1;
        if (failure.times <= 0) failures.splice(failures.indexOf(failure), 1);
        const messages: Record<BedrockErrorType, string> = {
          AccessDeniedException: "You don't have access to the model with the specified model ID.",
          ValidationException: 'The provided request is not valid',
          ThrottlingException: THROTTLING_MESSAGE,
          ServiceUnavailableException: 'Bedrock is unable to process your request.',
          InternalServerException: 'The server encountered an internal error.',
          ModelTimeoutException: 'Model has timed out in processing the request.',
        };
        return sendError(res, failure.error, messages[failure.error]);
      }
      if (options.enabledModels !== undefined && !options.enabledModels.includes(modelId)) {
        return sendError(
          res,
          'AccessDeniedException',
          "You don't have access to the model with the specified model ID.",
        );
      }
      if (!withinQuota(modelId)) return sendError(res, 'ThrottlingException', THROTTLING_MESSAGE);
      if (operation === 'invoke') return embed(res, modelId, body);
      if (!Array.isArray(body.messages) || body.messages.length === 0) {
        return sendError(res, 'ValidationException', 'A conversation must start with a user message.');
      }
      const started = Date.now();
      const reply = await replyTo(body);
      const outputTokens = roughTokens(reply.text);
      const usage = {
        inputTokens: reply.inputTokens,
        outputTokens,
        totalTokens: reply.inputTokens + outputTokens,
      };
      if (operation === 'converse') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            output: { message: { role: 'assistant', content: [{ text: reply.text }] } },
            stopReason: reply.stopReason,
            usage,
            metrics: { latencyMs: Date.now() - started },
          }),
        );
        return 200;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      res.write(event('messageStart', { role: 'assistant' }));
      const pieces = reply.text.match(/\S+\s*|\s+/g) ?? [];
      for (const [i, piece] of pieces.entries()) {
        if (i > 0 && pieceDelayMs > 0) await sleep(pieceDelayMs);
        if (res.stream.destroyed) return 200;
        res.write(event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: piece } }));
      }
      res.write(event('contentBlockStop', { contentBlockIndex: 0 }));
      res.write(event('messageStop', { stopReason: reply.stopReason }));
      res.end(event('metadata', { usage, metrics: { latencyMs: Date.now() - started } }));
      return 200;
    };
    recorded.status = await answer();
    return recorded.status;
  }

  /** Titan Text Embeddings (v2: `dimensions` 256, 512 or 1024; v1: 1536), as InvokeModel answers them. */
  async function embed(res: ServerResponse, modelId: string, body: Record<string, unknown>): Promise<number> {
    if (/^cohere\.embed-(multilingual|english)-v3/.test(modelId)) return embedCohere(res, body);
    if (!/^amazon\.titan-embed-text-v[12]/.test(modelId.replace(/^arn:.*\//, ''))) {
      return sendError(
        res,
        'ValidationException',
        `The stand-in embeds with Titan Text Embeddings only, not ${modelId}`,
      );
    }
    const v2 = modelId.includes('-v2');
    if (typeof body.inputText !== 'string' || body.inputText === '') {
      return sendError(
        res,
        'ValidationException',
        'Malformed input request: #: required key [inputText] not found',
      );
    }
    const dimensions = body.dimensions === undefined ? (v2 ? 1024 : 1536) : body.dimensions;
    if (
      typeof dimensions !== 'number' ||
      (v2 ? !TITAN_V2_DIMENSIONS.includes(dimensions) : dimensions !== 1536)
    ) {
      return sendError(
        res,
        'ValidationException',
        `Malformed input request: #/dimensions: ${String(dimensions)} is not a valid enum value`,
      );
    }
    let embeddings = embeddingsBySize.get(dimensions);
    if (embeddings === undefined) {
      embeddings = new LocalHashEmbeddings({ dimensions });
      embeddingsBySize.set(dimensions, embeddings);
    }
    const embedding = await embeddings.embedQuery(body.inputText);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ embedding, inputTextTokenCount: roughTokens(body.inputText) }));
    return 200;
  }

  /** Cohere Embed v3 (1,024 dimensions): `{texts, input_type}` in, `{embeddings, id, response_type, texts}` out. */
  async function embedCohere(res: ServerResponse, body: Record<string, unknown>): Promise<number> {
    const { texts, input_type: inputType } = body;
    if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string')) {
      return sendError(
        res,
        'ValidationException',
        'Malformed input request: #: required key [texts] not found',
      );
    }
    if (texts.length > 96) {
      return sendError(
        res,
        'ValidationException',
        `Malformed input request: #/texts: expected maxItems: 96, actual: ${texts.length}, please reformat your input and try again.`,
      );
    }
    const long = (texts as string[]).findIndex((t) => t.length > 2048);
    if (long >= 0) {
      return sendError(
        res,
        'ValidationException',
        `Malformed input request: #/texts/${long}: expected maxLength: 2048, actual: ${(texts[long] as string).length}, please reformat your input and try again.`,
      );
    }
    if (!['search_document', 'search_query', 'classification', 'clustering'].includes(String(inputType))) {
      return sendError(
        res,
        'ValidationException',
        'Malformed input request: #: required key [input_type] not found',
      );
    }
    let embeddings = embeddingsBySize.get(1024);
    if (embeddings === undefined) {
      embeddings = new LocalHashEmbeddings({ dimensions: 1024 });
      embeddingsBySize.set(1024, embeddings);
    }
    const vectors = await embeddings.embedDocuments(texts as string[]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ embeddings: vectors, id: 'fake', response_type: 'embeddings_floats', texts }));
    return 200;
  }

  const sessions = new Set<ServerHttp2Session>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 'InternalServerException', String(error));
      else res.stream.destroy();
    });
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext({ error, times = 1, operation }) {
      failures.push({ error, times, ...(operation === undefined ? {} : { operation }) });
    },
    clearFailures() {
      failures.splice(0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}
