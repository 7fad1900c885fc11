import { Embeddings } from '@langchain/core/embeddings';
import { OpenAIEmbeddings } from '@langchain/openai';
import {
  embeddingLimitsFor,
  embedInRequests,
  estimateTokens,
  groupIntoRequests,
  OPENAI_EMBEDDING_LIMITS,
  truncateToTokens,
} from '../../functions/core/ingest/embedding-requests';
import type { ChunkToEmbed } from '../../functions/core/vector-store/embed-chunks';

/** Records every `embedDocuments` call (one request each) and answers with fixed vectors. */
class RecordingEmbeddings extends Embeddings {
  readonly calls: string[][] = [];

  constructor(private readonly dimensions = 4) {
    super({});
  }

  override async embedDocuments(texts: string[]): Promise<number[][]> {
    this.calls.push(texts);
    return texts.map(() => new Array<number>(this.dimensions).fill(0.5));
  }

  override async embedQuery(): Promise<number[]> {
    return new Array<number>(this.dimensions).fill(0.5);
  }
}

function chunk(id: string, text: string): ChunkToEmbed {
  return { id, text, source: 'docs/a.md', title: 'A', heading: 'A › Part', contentHash: 'h' };
}

describe('estimateTokens', () => {
  it('counts English at three characters a token and never underestimates Japanese or emoji', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcdef')).toBe(2);
    // Japanese averages about a token a character in OpenAI's tokenizers.
    expect(estimateTokens('経費精算は月末までに')).toBeGreaterThanOrEqual(10);
    // An emoji is four UTF-8 bytes: no tokenizer makes more than four tokens of it.
    expect(estimateTokens('🙂')).toBe(4);
  });
});

describe('truncateToTokens', () => {
  it('keeps text within the limit whole and cuts longer text without splitting a character', () => {
    expect(truncateToTokens('short', 10)).toBe('short');
    const cut = truncateToTokens('🙂'.repeat(10), 10);
    expect(cut).toBe('🙂🙂');
    expect(estimateTokens(truncateToTokens('word '.repeat(10_000), 8_191))).toBeLessThanOrEqual(8_191);
  });
});

describe('groupIntoRequests', () => {
  it('starts a new request at the input limit and at the token limit, keeping the order', () => {
    const limits = { maxInputs: 3, maxRequestTokens: 10, maxInputTokens: 8 };
    const sizes = [2, 2, 2, 2, 6, 6, 1];
    const groups = groupIntoRequests(sizes, (size) => size, limits);
    expect(groups).toEqual([
      [2, 2, 2],
      [2, 6],
      [6, 1],
    ]);
  });

  it("sizes OpenAI's requests at 2,048 inputs and 300,000 tokens", () => {
    const many = Array.from({ length: 5_000 }, () => 10);
    expect(groupIntoRequests(many, (n) => n, OPENAI_EMBEDDING_LIMITS).map((g) => g.length)).toEqual([
      2_048, 2_048, 904,
    ]);
    const large = Array.from({ length: 100 }, () => 8_000);
    const groups = groupIntoRequests(large, (n) => n, OPENAI_EMBEDDING_LIMITS);
    expect(Math.max(...groups.map((g) => g.reduce((a, b) => a + b, 0)))).toBeLessThanOrEqual(300_000);
    expect(groups.flat()).toHaveLength(100);
  });
});

describe('embeddingLimitsFor', () => {
  it('keeps each OpenAIEmbeddings call within its batch size, so one call is one request', () => {
    const embeddings = new OpenAIEmbeddings({ apiKey: 'sk-test', batchSize: 512 });
    expect(embeddingLimitsFor(embeddings)).toEqual({ ...OPENAI_EMBEDDING_LIMITS, maxInputs: 512 });
  });
});

describe('embedInRequests', () => {
  it('embeds in as many requests as the limits need, one after another, keeping each row whole', async () => {
    // Arrange
    const embeddings = new RecordingEmbeddings();
    const long = 'x'.repeat(600);
    const chunks = [chunk('1', 'one'), chunk('2', 'two'), chunk('3', long), chunk('4', 'four')];

    // Act
    const { rows, requests } = await embedInRequests(embeddings, chunks, {
      dimensions: 4,
      updatedAt: 1,
      limits: { maxInputs: 2, maxRequestTokens: 1_000, maxInputTokens: 100 },
    });

    // Assert
    expect(requests).toBe(2);
    expect(embeddings.calls.map((c) => c.length)).toEqual([2, 2]);
    // The long chunk was embedded from its beginning, within the per-input limit…
    const embeddedLong = embeddings.calls[1]?.[0] ?? '';
    expect(estimateTokens(embeddedLong)).toBeLessThanOrEqual(100);
    expect(embeddedLong.startsWith('A › Part\n\nxxx')).toBe(true);
    // …and its row keeps the whole text.
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3', '4']);
    expect(rows[2]?.text).toBe(long);
  });
});

describe('embedInRequests with several requests in flight (Bedrock)', () => {
  it("cuts an input to the provider's characters, sends requests at once, and keeps the rows in order", async () => {
    // Arrange: answers come back in the reverse order of sending.
    const embeddings = new RecordingEmbeddings();
    let inFlight = 0;
    let mostInFlight = 0;
    const slow = Object.assign(Object.create(embeddings) as RecordingEmbeddings, {
      embedDocuments: async (texts: string[]) => {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 40 - ((texts[0] ?? '').length % 40)));
        inFlight -= 1;
        return embeddings.embedDocuments(texts);
      },
    });
    const long = 'é'.repeat(3_000);
    const chunks = [chunk('1', long), ...Array.from({ length: 7 }, (_, i) => chunk(`${i + 2}`, `text ${i}`))];

    // Act
    const { rows, stats } = await embedInRequests(slow, chunks, {
      dimensions: 4,
      updatedAt: 1,
      limits: {
        maxInputs: 1,
        maxRequestTokens: 8_192,
        maxInputTokens: 8_192,
        maxInputCharacters: 2_048,
        concurrency: 4,
      },
    });

    // Assert
    expect(mostInFlight).toBe(4);
    expect(embeddings.calls).toHaveLength(8);
    const cut = embeddings.calls.find((c) => c[0]?.includes('é'))?.[0] ?? '';
    expect(cut).toHaveLength(2_048);
    expect(rows.map((r) => r.id)).toEqual(chunks.map((c) => c.id));
    expect(rows[0]?.text).toBe(long);
    expect(stats).toMatchObject({ requests: 8, chunks: 8 });
  });
});
