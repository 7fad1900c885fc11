import { ChatPromptTemplate } from '@langchain/core/prompts';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { ANSWER_SYSTEM_PROMPT, formatPassages } from '../../functions/core/chains/prompts';
import type { AppConfig } from '../../functions/core/config';
import { ConfigError, isTransient } from '../../functions/core/errors';
import { LocalExtractiveChatModel } from '../../functions/core/llm/local-chat-model';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import {
  createChatModel,
  createEmbeddings,
  embeddingDimensionsOf,
  embeddingNameOf,
  modelNameOf,
} from '../../functions/core/llm/providers';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';

const API_KEY = 'sk-test-a1b2c3d4e5f6';

let fake: FakeOpenAI;

function openaiConfig(overrides: Partial<AppConfig['llm']> = {}): AppConfig['llm'] {
  return {
    provider: 'openai',
    chatModel: 'gpt-4.1-mini',
    temperature: 0,
    maxOutputTokens: 256,
    embeddingModel: 'text-embedding-3-small',
    baseUrl: fake.url,
    timeoutMs: 5_000,
    maxRetries: 0,
    ...overrides,
  };
}

function chatRequests() {
  return fake.requests.filter((r) => r.path === '/v1/chat/completions');
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: API_KEY });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.requests.splice(0);
});

describe('createChatModel with the openai provider', () => {
  it('streams the answer token by token and reports the token usage', async () => {
    // Arrange
    const model = createChatModel(openaiConfig(), API_KEY, { streaming: true });
    fake.script('Open the VPN app and choose Rotate key.');

    // Act
    const pieces: string[] = [];
    let usage: { input_tokens: number; output_tokens: number } | undefined;
    for await (const chunk of await model.stream('How do I rotate the VPN key?')) {
      pieces.push(chunk.text);
      usage = chunk.usage_metadata ?? usage;
    }

    // Assert
    expect(pieces.filter((p) => p !== '').length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe('Open the VPN app and choose Rotate key.');
    expect(usage?.input_tokens).toBeGreaterThan(0);
    expect(usage?.output_tokens).toBeGreaterThan(0);
    const [request] = chatRequests();
    expect(request?.auth).toBe('ok');
    expect(request?.body).toMatchObject({
      model: 'gpt-4.1-mini',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_tokens: 256,
    });
  });

  it('answers from the passages of the real answer prompt when nothing is scripted', async () => {
    // Arrange
    const model = createChatModel(openaiConfig(), API_KEY);
    const prompt = ChatPromptTemplate.fromMessages([
      ['system', ANSWER_SYSTEM_PROMPT],
      ['human', '{question}'],
    ]);
    const passages = formatPassages([
      {
        source: 's3://docs/it/vpn.md',
        title: 'VPN guide',
        heading: 'Rotating keys',
        text: 'To rotate the VPN key, open the VPN app and choose Rotate. Keys expire after 90 days.',
        score: 0.8,
      },
    ]);

    // Act
    const reply = await prompt.pipe(model).invoke({ passages, question: 'How do I rotate the VPN key?' });

    // Assert
    expect(reply.text).toContain('From *VPN guide › Rotating keys* [1]:\n> To rotate the VPN key');
    expect(reply.usage_metadata?.total_tokens).toBeGreaterThan(0);
  });

  it('retries a 429 that says when to come back, when retries are allowed', async () => {
    // Arrange
    const model = createChatModel(openaiConfig({ maxRetries: 1 }), API_KEY);
    fake.failNext({ status: 429, retryAfterSeconds: 0 });
    fake.script('Recovered.');

    // Act
    const reply = await model.invoke('How do I rotate the VPN key?');

    // Assert
    expect(reply.text).toBe('Recovered.');
    expect(chatRequests()).toHaveLength(2);
  });

  it('leaves a 429 without Retry-After to the state machine, as a transient error', async () => {
    // Arrange
    const model = createChatModel(openaiConfig({ maxRetries: 2 }), API_KEY);
    fake.failNext({ status: 429 });

    // Act
    const error = await model.invoke('How do I rotate the VPN key?').catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(Error);
    expect(isTransient(error)).toBe(true);
    expect(chatRequests()).toHaveLength(1);
  });

  it('sends the key as a bearer token but never puts it in an error message', async () => {
    // Arrange
    const model = createChatModel(openaiConfig({ maxRetries: 0 }), API_KEY);
    fake.failNext({ status: 500 });

    // Act
    const error = await model.invoke('How do I rotate the VPN key?').catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/500/);
    expect((error as Error).message).not.toContain(API_KEY);
    expect(String((error as Error).stack)).not.toContain(API_KEY);
    expect(isTransient(error)).toBe(true);
    expect(chatRequests()).toHaveLength(1);
    expect(chatRequests()[0]?.auth).toBe('ok');
    expect(JSON.stringify(chatRequests()[0]?.headers)).not.toContain(API_KEY);
  });

  it('fails, as a transient error, when the stream is cut before it ends', async () => {
    // Arrange
    const model = createChatModel(openaiConfig(), API_KEY);
    fake.script('one two three four five six');
    fake.cutStreamNext({ afterChunks: 2 });

    // Act
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of await model.stream('Count to six.')) received.push(chunk.text);
    })().catch((e: unknown) => e);

    // Assert
    expect(received.join('')).toBe('one two ');
    // Node's fetch fails with its own realm's TypeError, which is not an instance of the test's Error.
    expect((error as Error | undefined)?.message).toEqual(expect.any(String));
    expect(isTransient(error)).toBe(true);
  });

  it('reports the configured model name', () => {
    // Arrange
    const model = createChatModel(openaiConfig({ chatModel: 'gpt-4.1-nano' }), API_KEY);

    // Act
    const name = modelNameOf(model);

    // Assert
    expect(model).toBeInstanceOf(ChatOpenAI);
    expect(name).toBe('gpt-4.1-nano');
  });

  it('refuses to start without an API key', () => {
    // Arrange
    const config = openaiConfig();

    // Act
    const create = () => createChatModel(config, undefined);

    // Assert
    expect(create).toThrow(ConfigError);
    expect(() => createEmbeddings(config, '')).toThrow(ConfigError);
  });
});

describe('createEmbeddings with the openai provider', () => {
  it('returns one vector per text, decoded from what the server sent', async () => {
    // Arrange
    const embeddings = createEmbeddings(openaiConfig(), API_KEY);
    const texts = ['How do I rotate the VPN key?', 'VPNの鍵は毎月ローテーションしてください。'];

    // Act
    const vectors = await embeddings.embedDocuments(texts);
    const query = await embeddings.embedQuery(texts[0] ?? '');

    // Assert
    const expected = await new LocalHashEmbeddings({ dimensions: 1536 }).embedDocuments(texts);
    expect(vectors).toHaveLength(2);
    for (const [i, vector] of vectors.entries()) {
      expect(vector).toHaveLength(1536);
      vector.forEach((value, j) => {
        expect(value).toBeCloseTo(expected[i]?.[j] ?? Number.NaN, 6);
      });
    }
    expect(query).toEqual(vectors[0]);
    const requests = fake.requests.filter((r) => r.path === '/v1/embeddings');
    expect(requests.map((r) => r.auth)).toEqual(['ok', 'ok']);
    expect(requests[0]?.body).toMatchObject({ model: 'text-embedding-3-small', input: texts });
  });

  it('reports the model name and its vector size', () => {
    // Arrange
    const embeddings = createEmbeddings(openaiConfig(), API_KEY);

    // Act
    const name = embeddingNameOf(embeddings);
    const dimensions = embeddingDimensionsOf(embeddings);

    // Assert
    expect(embeddings).toBeInstanceOf(OpenAIEmbeddings);
    expect(name).toBe('text-embedding-3-small');
    expect(dimensions).toBe(1536);
  });
});

describe('the local provider', () => {
  it('needs no key and reports the offline models by their own names', () => {
    // Arrange
    const config: AppConfig['llm'] = {
      ...openaiConfig(),
      provider: 'local',
      chatModel: 'local-extractive',
      embeddingModel: 'local-hash-256',
      baseUrl: undefined,
    };

    // Act
    const model = createChatModel(config);
    const embeddings = createEmbeddings(config);

    // Assert
    expect(model).toBeInstanceOf(LocalExtractiveChatModel);
    expect(modelNameOf(model)).toBe('local-extractive');
    expect(embeddingNameOf(embeddings)).toBe('local-hash-256');
    expect(embeddingDimensionsOf(embeddings)).toBe(256);
  });
});
