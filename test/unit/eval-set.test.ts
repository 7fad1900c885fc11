import { EvalSetError, matchesExpected, parseEvalSet } from '../../scripts/eval/dataset';
import { checkThresholds, parseThreshold, summarize } from '../../scripts/eval/metrics';
import type { QuestionResult, RunOutcome } from '../../scripts/eval/run';

describe('the eval set format', () => {
  it('reads questions, follow-up threads, expected sections and unanswerable questions', () => {
    // Arrange
    const text = [
      '{"id": "rotate", "question": "How do I rotate my VPN key?", "sources": ["vpn-guide.md#Rotating your VPN key"], "language": "en"}',
      '',
      '// a follow-up',
      '{"question": "How often?", "thread": [{"role": "human", "content": "How do I rotate it?"}, {"role": "ai", "content": "Run rotate-key."}], "sources": ["vpn-guide.md"]}',
      '{"question": "Is MFA required?", "sources": []}',
    ].join('\n');

    // Act
    const questions = parseEvalSet(text);

    // Assert
    expect(questions.map((q) => [q.id, q.sources, q.thread.length])).toEqual([
      ['rotate', [{ path: 'vpn-guide.md', heading: 'Rotating your VPN key' }], 0],
      ['line 4', [{ path: 'vpn-guide.md' }], 2],
      ['line 5', [], 0],
    ]);
  });

  it('names the line and the field of a mistake', () => {
    // Act / Assert
    expect(() => parseEvalSet('{"question": "x"}', 'set.jsonl')).toThrow(
      new EvalSetError(
        'set.jsonl, line 1: "sources" must be a list (empty when the documents cannot answer it)',
      ),
    );
    expect(() => parseEvalSet('{"question": "x", "sources": [], "lang": "en"}', 'set.jsonl')).toThrow(
      /set\.jsonl, line 1: unknown field "lang"/,
    );
    expect(() => parseEvalSet('\n{not json', 'set.jsonl')).toThrow(/set\.jsonl, line 2: not JSON/);
    expect(() => parseEvalSet('{"question": "x", "sources": [], "thread": ["hi"]}')).toThrow(
      /"thread" must be a list/,
    );
  });

  it('matches an expected source by the end of its path, and a section with the sections under it', () => {
    // Arrange
    const expected = { path: 'vpn-guide.md', heading: 'Troubleshooting' };

    // Act / Assert
    expect(
      matchesExpected(expected, { source: 'samples/docs/vpn-guide.md', heading: 'Troubleshooting' }),
    ).toBe(true);
    expect(
      matchesExpected(expected, { source: 's3://docs/it/vpn-guide.md', heading: 'Troubleshooting › Slow' }),
    ).toBe(true);
    expect(matchesExpected(expected, { source: 'docs/old-vpn-guide.md', heading: 'Troubleshooting' })).toBe(
      false,
    );
    expect(matchesExpected(expected, { source: 'docs/vpn-guide.md', heading: 'Connecting' })).toBe(false);
    expect(matchesExpected({ path: 'vpn-guide.md' }, { source: 'docs/vpn-guide.md', heading: '' })).toBe(
      true,
    );
  });
});

function result(overrides: Partial<QuestionResult>): QuestionResult {
  return {
    id: 'q',
    question: 'q',
    standalone: 'q',
    followUp: false,
    answerable: true,
    search: 'hybrid',
    ranked: [],
    expectedRank: 1,
    answer: 'a [1]',
    declined: false,
    sources: [{ source: 'a.md', title: 'A', heading: '' }],
    citesExpected: true,
    unexpectedSources: 0,
    language: 'en',
    answerLanguage: 'en',
    ms: { condense: 0, retrieve: 10, answer: 20, firstToken: 5 },
    tokens: {
      condense: { inputTokens: 0, outputTokens: 0 },
      embed: 0,
      answer: { inputTokens: 1000, outputTokens: 100 },
    },
    passages: [],
    ...overrides,
  };
}

describe('the eval figures', () => {
  it('counts retrieval, answers, refusals and cost the way the docs/evaluation.md table states them', () => {
    // Arrange: 4 answerable (expected section at rank 1, 3, missed, 2; the third declined), 2 unanswerable (one declined).
    const outcome: RunOutcome = {
      settings: {
        name: 'configured',
        llm: {} as RunOutcome['settings']['llm'],
        lancedbUri: '',
        table: 'documents',
        topK: 6,
        search: 'hybrid',
      },
      model: 'gpt-4.1-mini',
      embeddingModel: 'text-embedding-3-small',
      results: [
        result({}),
        result({
          expectedRank: 3,
          sources: [
            { source: 'a.md', title: 'A', heading: '' },
            { source: 'b.md', title: 'B', heading: '' },
          ],
          unexpectedSources: 1,
        }),
        result({ expectedRank: null, declined: true, sources: [], citesExpected: false }),
        result({ expectedRank: 2, citesExpected: false, unexpectedSources: 1 }),
        result({ answerable: false, expectedRank: null, declined: true, sources: [], citesExpected: false }),
        result({ answerable: false, expectedRank: null, citesExpected: false, unexpectedSources: 1 }),
      ],
    };

    // Act
    const summary = summarize(outcome);

    // Assert
    expect(summary).toMatchObject({
      questions: 6,
      answerable: 4,
      unanswerable: 2,
      hit1: 0.25,
      hit3: 0.75,
      answered: 0.75,
      cited: 0.5,
      declined: 0.5,
      refusalPrecision: 0.5,
      sourcesUnderDeclines: 0,
    });
    expect(summary.mrr).toBeCloseTo((1 + 1 / 3 + 0 + 1 / 2) / 4, 10);
    expect(summary.sourcePrecision).toBeCloseTo(2 / 4, 10);
    // 6 answers of 1,000 input and 100 output tokens at gpt-4.1-mini's $0.40 / $1.60 per million.
    expect(summary.costUsd).toBeCloseTo((6000 * 0.4 + 600 * 1.6) / 1_000_000, 12);
  });

  it('checks thresholds, and refuses a metric or value it does not know', () => {
    // Arrange
    const results = [result({}), result({ expectedRank: 4 })];
    const summary = { declined: null } as unknown as ReturnType<typeof summarize>;

    // Act
    const checks = checkThresholds(
      [parseThreshold('hit@3=0.5'), parseThreshold('hit@1=0.9'), parseThreshold('declined=0.9')],
      summary,
      results,
    );

    // Assert
    expect(checks.map((c) => [c.metric, c.value, c.passed])).toEqual([
      ['hit@3', 0.5, true],
      ['hit@1', 0.5, false],
      ['declined', null, false],
    ]);
    expect(() => parseThreshold('speed=1')).toThrow('unknown metric "speed"');
    expect(() => parseThreshold('hit@3=2')).toThrow('the value must be from 0 to 1');
    expect(() => parseThreshold('hit@3')).toThrow('--min takes METRIC=VALUE');
  });
});
