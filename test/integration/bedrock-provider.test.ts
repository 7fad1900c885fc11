import { streamAnswer } from '../../functions/core/chains/answer-chain';
import { type AppConfig, loadConfig } from '../../functions/core/config';
import { ConfigError, isTransient, toStepError } from '../../functions/core/errors';
import {
  createChatModel,
  createEmbeddings,
  embeddingDimensionsOf,
  embeddingNameOf,
  modelNameOf,
} from '../../functions/core/llm/providers';
import type { Passage } from '../../functions/core/types';
import {
  type FakeBedrock,
  GUARDRAIL_BLOCKED_MESSAGE,
  startFakeBedrock,
} from '../../stand-ins/bedrock/fake-bedrock';

const CHAT_MODEL = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const EMBEDDING_MODEL = 'amazon.titan-embed-text-v2:0';

let fake: FakeBedrock;

function bedrockConfig(env: Record<string, string> = {}): AppConfig['llm'] {
  return loadConfig({
    LLM_PROVIDER: 'bedrock',
    OPENAI_MODEL: CHAT_MODEL,
    BEDROCK_ENDPOINT: fake.url,
    BEDROCK_REGION: 'us-west-2',
    EMBEDDING_DIMENSIONS: '512',
    ...env,
  }).llm;
}

const passages: Passage[] = [
  {
    source: 'handbook/vpn.md',
    title: 'VPN',
    heading: 'Rotating the key',
    text: 'To rotate the VPN key, open the VPN app and choose Rotate key. The old key stops working after an hour.',
    score: 1,
  },
];

beforeAll(async () => {
  fake = await startFakeBedrock({
    enabledModels: [CHAT_MODEL, EMBEDDING_MODEL, 'cohere.embed-multilingual-v3'],
    guardrail: { id: 'gr0policy1', version: '3', deniedWords: ['salary'] },
  });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.requests.splice(0);
});

describe('the bedrock provider against the Bedrock stand-in', () => {
  it('streams an answer through ConverseStream, with the usage of its metadata event', async () => {
    // Arrange
    const model = createChatModel(bedrockConfig());
    const deltas: string[] = [];

    // Act
    const answer = await streamAnswer(model, 'How do I rotate the VPN key?', passages, (d) => {
      deltas.push(d);
    });

    // Assert
    expect(answer.text).toContain('Rotate key');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(answer.text);
    expect(answer.usage.inputTokens).toBeGreaterThan(0);
    expect(answer.usage.outputTokens).toBeGreaterThan(0);
    expect(answer.guardrailIntervened).toBeUndefined();
    expect(modelNameOf(model)).toBe(CHAT_MODEL);
    const [request] = fake.requests;
    expect(request).toMatchObject({ operation: 'converse-stream', modelId: CHAT_MODEL, signed: true });
    expect(request?.body).toMatchObject({ inferenceConfig: { temperature: 0, maxTokens: 1024 } });
  });

  it('embeds with Titan Text Embeddings v2 at the configured dimensions', async () => {
    // Arrange
    const embeddings = createEmbeddings(bedrockConfig());

    // Act
    const vectors = await embeddings.embedDocuments(['rotate the VPN key', 'submit an expense claim']);
    const query = await embeddings.embedQuery('rotate the VPN key');

    // Assert
    expect(vectors.map((v) => v.length)).toEqual([512, 512]);
    expect(query).toEqual(vectors[0]);
    expect(embeddingNameOf(embeddings)).toBe(EMBEDDING_MODEL);
    expect(embeddingDimensionsOf(embeddings)).toBe(512);
    expect(fake.requests[0]).toMatchObject({
      operation: 'invoke',
      modelId: EMBEDDING_MODEL,
      body: { inputText: 'rotate the VPN key', dimensions: 512, normalize: true },
    });
  });

  it('embeds with Cohere Embed multilingual, documents and questions each with their input type', async () => {
    // Arrange
    const embeddings = createEmbeddings(
      bedrockConfig({ OPENAI_EMBEDDING_MODEL: 'cohere.embed-multilingual-v3' }),
    );

    // Act
    const [document] = await embeddings.embedDocuments(['VPN の鍵を更新する']);
    const query = await embeddings.embedQuery('VPN の鍵を更新する');

    // Assert
    expect(document).toHaveLength(1024);
    expect(query).toEqual(document);
    expect(fake.requests.map((r) => r.body)).toEqual([
      { texts: ['VPN の鍵を更新する'], input_type: 'search_document', truncate: 'END' },
      { texts: ['VPN の鍵を更新する'], input_type: 'search_query', truncate: 'END' },
    ]);
  });

  it("sends Cohere up to 96 texts an InvokeModel, each cut to Cohere's 2,048 characters, and Titan one", async () => {
    // Arrange
    const cohere = createEmbeddings(
      bedrockConfig({ OPENAI_EMBEDDING_MODEL: 'cohere.embed-multilingual-v3' }),
    );
    const titan = createEmbeddings(bedrockConfig());
    const texts = Array.from({ length: 100 }, (_, i) => (i === 0 ? 'x'.repeat(3_000) : `text ${i}`));

    // Act
    const vectors = await cohere.embedDocuments(texts);
    const cohereCalls = fake.requests.splice(0).map((r) => (r.body as { texts: string[] }).texts);
    await titan.embedDocuments(texts.slice(1, 4));

    // Assert
    expect(vectors).toHaveLength(100);
    expect(cohereCalls.map((t) => t.length)).toEqual([96, 4]);
    expect(cohereCalls[0]?.[0]).toHaveLength(2_048);
    expect(fake.requests.map((r) => (r.body as { inputText?: string }).inputText)).toEqual(texts.slice(1, 4));
  });

  it('names the model and the setting when the account has not enabled the model, without retrying', async () => {
    // Arrange
    const model = createChatModel(bedrockConfig({ OPENAI_MODEL: 'amazon.nova-pro-v1:0' }));

    // Act
    const failure = await streamAnswer(model, 'How do I rotate the VPN key?', passages, () => {}).catch(
      (error: unknown) => error,
    );

    // Assert
    expect(failure).toBeInstanceOf(ConfigError);
    expect(String((failure as Error).message)).toMatch(/amazon\.nova-pro-v1:0 in us-west-2/);
    expect(String((failure as Error).message)).toMatch(/Model access/);
    expect(String((failure as Error).message)).toMatch(/bot:chatModel/);
    expect(isTransient(failure)).toBe(false);
    expect(fake.requests).toHaveLength(1);
  });

  it('names the embedding setting when the embedding model is not enabled', async () => {
    // Arrange
    const embeddings = createEmbeddings(
      bedrockConfig({ OPENAI_EMBEDDING_MODEL: 'amazon.titan-embed-text-v1', EMBEDDING_DIMENSIONS: '1024' }),
    );

    // Act
    const failure = await embeddings.embedQuery('vpn').catch((error: unknown) => error);

    // Assert
    expect(failure).toBeInstanceOf(ConfigError);
    expect(String((failure as Error).message)).toMatch(/bot:embeddingModel/);
    expect(fake.requests).toHaveLength(1);
  });

  it('backs off and retries a ThrottlingException, and hands on a transient error when it persists', async () => {
    // Arrange
    const model = createChatModel(bedrockConfig());
    fake.failNext({ error: 'ThrottlingException', times: 1 });

    // Act
    const recovered = await streamAnswer(model, 'How do I rotate the VPN key?', passages, () => {});
    fake.failNext({ error: 'ThrottlingException', times: 3 });
    const failure = await streamAnswer(model, 'How do I rotate the VPN key?', passages, () => {}).catch(
      (error: unknown) => error,
    );

    // Assert
    expect(recovered.text).toContain('Rotate key');
    expect(toStepError(failure, 'Generate answer').name).toBe('TransientError');
    // 2 for the first answer, then the SDK's 3 attempts for the second.
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200, 429, 429, 429]);
  });

  it('says when a guardrail blocked the answer', async () => {
    // Arrange
    const model = createChatModel(bedrockConfig({ BEDROCK_GUARDRAIL: 'gr0policy1:3' }));

    // Act
    const blocked = await streamAnswer(model, "What is the CEO's salary?", passages, () => {});
    const answered = await streamAnswer(model, 'How do I rotate the VPN key?', passages, () => {});

    // Assert
    expect(blocked).toMatchObject({ text: GUARDRAIL_BLOCKED_MESSAGE, guardrailIntervened: true });
    expect(answered.guardrailIntervened).toBeUndefined();
    expect(fake.requests[0]?.body).toMatchObject({
      guardrailConfig: { guardrailIdentifier: 'gr0policy1', guardrailVersion: '3' },
    });
  });

  it('refuses bad Bedrock settings naming the variable', () => {
    expect(() => bedrockConfig({ EMBEDDING_DIMENSIONS: '768' })).toThrow(
      /EMBEDDING_DIMENSIONS must be 256, 512 or 1024/,
    );
    expect(() => bedrockConfig({ BEDROCK_GUARDRAIL: 'policy' })).toThrow(/BEDROCK_GUARDRAIL must be/);
  });
});
