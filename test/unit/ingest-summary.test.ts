import type { SyncReport } from '../../functions/core/ingest/sync-types';
import { jsonResult, summary } from '../../scripts/local/ingest-report';

function report(extra: Partial<SyncReport> = {}): SyncReport {
  return {
    status: 'committed',
    executionName: 'ingest-1',
    origins: ['docs'],
    startedAt: '2026-12-06T00:00:00.000Z',
    ms: 9_000,
    added: 16,
    updated: 0,
    unchanged: 0,
    refiled: 0,
    deleted: 0,
    failed: [],
    failedCount: 0,
    skipped: [],
    skippedCount: 0,
    skippedKinds: '',
    emptyOrigins: [],
    chunks: 1_200,
    embeddedChunks: 1_200,
    stale: 0,
    ...extra,
  };
}

const embedding = {
  chunks: 1_200,
  tokens: 360_000,
  requests: 8,
  rateLimited: 3,
  waitedMs: 2_100,
  ms: 8_000,
  chunksPerSecond: 150,
  tokensPerSecond: 45_000,
};

describe("npm run ingest's account of the embedding", () => {
  it('says how fast the sync embedded and what the rate limit cost it, in the summary and in --json', () => {
    // Act
    const text = summary(report({ embedding }), '.local/lancedb', 'documents', 9_000);
    const json = jsonResult(report({ embedding }), 9_000);

    // Assert
    expect(text).toContain(
      'Embedded 1,200 chunks in 8 request(s) over 8.0 s: 150 chunks/s, 45,000 tokens/s (estimated); ' +
        'rate limited: 3 answer(s) 429, 2.1 s waited.',
    );
    expect(json.embedding).toEqual(embedding);
  });

  it('says nothing of embedding when nothing was embedded', () => {
    expect(summary(report(), '.local/lancedb', 'documents', 9_000)).not.toContain('Embedded');
    expect(jsonResult(report(), 9_000)).not.toHaveProperty('embedding');
  });
});

describe("npm run ingest's account of the indexes", () => {
  const optimized = {
    status: 'optimized' as const,
    rows: 1_200,
    fullText: 'exists' as const,
    vector: 'exists' as const,
    compacted: false,
    oldVersionsRemoved: 0,
  };

  it('says how many rows a sync left outside the indexes, and when they are folded in', () => {
    // Act
    const text = summary(
      report({ optimize: { ...optimized, indexes: 'deferred', unindexedRows: 42 } }),
      '.local/lancedb',
      'documents',
      9_000,
    );

    // Assert
    expect(text).toContain(
      '42 row(s) are not in the indexes yet: searches find them all the same, and a sync folds them in once they ' +
        'reach INGEST_INDEX_TAIL_ROWS.',
    );
  });

  it('says nothing of the indexes once they are updated', () => {
    const text = summary(
      report({ optimize: { ...optimized, compacted: true, indexes: 'updated', unindexedRows: 0 } }),
      '.local/lancedb',
      'documents',
      9_000,
    );
    expect(text).not.toContain('not in the indexes');
  });
});
