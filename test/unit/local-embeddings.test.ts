import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';

function cosine(a: number[], b: number[]): number {
  return a.reduce((sum, value, i) => sum + value * (b[i] ?? 0), 0);
}

function norm(vector: number[]): number {
  return Math.sqrt(cosine(vector, vector));
}

describe('LocalHashEmbeddings', () => {
  it('gives the same vector for the same text, across instances and calls', async () => {
    // Arrange
    const text = 'How do I rotate the VPN key?';

    // Act
    const first = await new LocalHashEmbeddings().embedQuery(text);
    const [second] = await new LocalHashEmbeddings().embedDocuments([text]);

    // Assert
    expect(second).toEqual(first);
  });

  it('returns unit-length vectors of the configured size, named after it', async () => {
    // Arrange
    const embeddings = new LocalHashEmbeddings({ dimensions: 256 });

    // Act
    const vectors = await embeddings.embedDocuments([
      'Submit expense claims within 30 days.',
      'VPNの鍵',
      '',
      '?!',
    ]);

    // Assert
    expect(embeddings.modelName).toBe('local-hash-256');
    expect(new LocalHashEmbeddings().modelName).toBe('local-hash-512');
    for (const vector of vectors) {
      expect(vector).toHaveLength(256);
      expect(norm(vector)).toBeCloseTo(1, 10);
    }
  });

  it('keeps the order of the documents', async () => {
    // Arrange
    const embeddings = new LocalHashEmbeddings();
    const texts = ['VPN keys', 'expense claims', 'holiday calendar'];

    // Act
    const batch = await embeddings.embedDocuments(texts);
    const single = await Promise.all(texts.map((t) => embeddings.embedQuery(t)));

    // Assert
    expect(batch).toEqual(single);
  });

  it('scores a related English passage above unrelated ones', async () => {
    // Arrange
    const embeddings = new LocalHashEmbeddings();
    const query = await embeddings.embedQuery('How do I rotate the VPN key?');
    const [related, unrelated, otherKey] = await embeddings.embedDocuments([
      'Rotating your VPN keys: open the VPN client, choose Settings, then Keys, then Rotate.',
      'The cafeteria serves lunch from noon until two in the afternoon.',
      'Expense reports need a receipt for every item over twenty-five dollars.',
    ]);

    // Act
    const scores = [
      cosine(query, related ?? []),
      cosine(query, unrelated ?? []),
      cosine(query, otherKey ?? []),
    ];

    // Assert
    expect(scores[0]).toBeGreaterThan(0.3);
    expect(scores[0]).toBeGreaterThan((scores[1] ?? 0) + 0.2);
    expect(scores[0]).toBeGreaterThan((scores[2] ?? 0) + 0.2);
  });

  it('scores a related Japanese passage above an unrelated one', async () => {
    // Arrange
    const embeddings = new LocalHashEmbeddings();
    const query = await embeddings.embedQuery('VPNの鍵をローテーションする方法を教えてください');
    const [related, unrelated] = await embeddings.embedDocuments([
      'VPNの鍵は毎月ローテーションしてください。設定画面の「鍵」から行えます。',
      '社員食堂は正午から午後二時まで営業しています。',
    ]);

    // Act
    const relatedScore = cosine(query, related ?? []);
    const unrelatedScore = cosine(query, unrelated ?? []);

    // Assert
    expect(relatedScore).toBeGreaterThan(0.3);
    expect(relatedScore).toBeGreaterThan(unrelatedScore + 0.2);
  });

  it('matches full-width and half-width forms of the same words', async () => {
    // Arrange
    const embeddings = new LocalHashEmbeddings();

    // Act
    const [fullWidth, ascii] = await embeddings.embedDocuments(['ＶＰＮ　ｷｰ', 'VPN キー']);

    // Assert
    expect(fullWidth).toEqual(ascii);
  });
});
