import {
  answerSources,
  citedPassageNumbers,
  isDecline,
  renumberCitations,
} from '../../functions/core/chains/answer-sources';
import type { Passage } from '../../functions/core/types';

function passage(source: string, title: string, heading: string, text = 'Some text.'): Passage {
  return { source, title, heading, text, score: 0.5 };
}

// Ranked as Retrieve returns them: two chunks of one section, then other sections.
const PASSAGES: Passage[] = [
  passage('docs/vpn-guide.md', 'VPN guide', 'VPN guide › Rotating your VPN key', 'Rotate every 90 days.'),
  passage('docs/vpn-guide.md', 'VPN guide', 'VPN guide › Rotating your VPN key', 'Run corpvpn rotate-key.'),
  passage('docs/vpn-guide.md', 'VPN guide', 'VPN guide › Troubleshooting'),
  passage('docs/expense-policy.md', 'Expense policy', 'Expense policy › How to claim'),
  passage('docs/onboarding.md', 'Onboarding checklist', 'Onboarding checklist'),
];

describe('answerSources', () => {
  it('lists only the sections the answer cites, not every passage retrieved', () => {
    // Act
    const sources = answerSources(PASSAGES, 'Run `corpvpn rotate-key` and approve the push [2].');

    // Assert
    expect(sources).toEqual([
      { source: 'docs/vpn-guide.md', title: 'VPN guide', heading: 'Rotating your VPN key' },
    ]);
  });

  it('lists a section once however many of its chunks are cited, best-ranked first', () => {
    // Act
    const sources = answerSources(
      PASSAGES,
      'Expenses go in the app [4]. The key rotates every 90 days [2][1].',
    );

    // Assert
    expect(sources.map((s) => `${s.source} ${s.heading}`)).toEqual([
      'docs/vpn-guide.md Rotating your VPN key',
      'docs/expense-policy.md How to claim',
    ]);
  });

  it('reads several numbers in one pair of brackets, and names a document without a heading by its title alone', () => {
    // Act
    const sources = answerSources(PASSAGES, 'See the checklist and the troubleshooting steps [3, 5].');

    // Assert
    expect(sources).toEqual([
      { source: 'docs/vpn-guide.md', title: 'VPN guide', heading: 'Troubleshooting' },
      { source: 'docs/onboarding.md', title: 'Onboarding checklist', heading: '' },
    ]);
  });

  it('caps the list', () => {
    // Act
    const sources = answerSources(PASSAGES, 'Everything [1][3][4][5].', 2);

    // Assert
    expect(sources).toHaveLength(2);
  });

  it('lists nothing under a decline, in English or Japanese, from the local model or a chat model', () => {
    // Arrange
    const declines = [
      'The documents do not cover this question, so I cannot answer it from them.',
      "The documents don't mention a per diem for trips abroad.",
      'I could not find anything about parental leave in the provided documents.',
      'ドキュメントにはこの質問への答えが見つかりませんでした。',
      '提供された資料には育児休業についての記載がありません。',
    ];

    // Act / Assert
    for (const text of declines) {
      expect(isDecline(text)).toBe(true);
      expect(answerSources(PASSAGES, text)).toEqual([]);
    }
  });

  it('counts an answer that says what the documents lack but cites what they hold as an answer', () => {
    // Arrange
    const text =
      'The documents do not mention a rate for abroad, but meals are covered up to 60 EUR a day [4].';

    // Act / Assert
    expect(isDecline(text)).toBe(false);
    expect(answerSources(PASSAGES, text).map((s) => s.heading)).toEqual(['How to claim']);
  });

  it('ignores numbers that name no passage and bracketed numbers in code', () => {
    // Act
    const sources = answerSources(PASSAGES, 'Use `items[1]` in code:\n```\nx = a[3]\n```\nSee [9] and [0].');

    // Assert
    expect(citedPassageNumbers('Use `items[1]`\n```\nx = a[3]\n```\n[9] [0] [2]')).toEqual([9, 2]);
    expect(sources).toEqual([]);
  });
});

describe('renumberCitations', () => {
  it('renumbers citations after the listed sources, so the numbers a reader sees match the list', () => {
    // Arrange
    const text = 'Expenses go in the app [4]. The key rotates every 90 days [2][1]. Also [5].';
    const sources = answerSources(PASSAGES, text, 2);

    // Act
    const renumbered = renumberCitations(text, PASSAGES, sources);

    // Assert: passage 4 is the second listed section; 1 and 2 are the first; 5 is not listed.
    expect(renumbered).toBe('Expenses go in the app [2]. The key rotates every 90 days [1]. Also.');
  });
});
