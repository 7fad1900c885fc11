import { terms as indexTerms, matchTerms as terms } from '../../functions/core/llm/terms';

describe('matchTerms, how the offline answer model matches words', () => {
  it('brings the forms of a word together: plurals, tenses, adverbs and British spelling', () => {
    // Arrange
    const pairs = [
      ['travelling', 'travel'],
      ['travelled', 'travels'],
      ['submitted', 'submit'],
      ['installed', 'install'],
      ['slowly', 'slow'],
      ['policies', 'policy'],
      ['applied', 'apply'],
      ['rotating', 'rotate'],
    ];

    // Act / Assert
    for (const [a, b] of pairs) expect(terms(a as string)).toEqual(terms(b as string));
    expect(terms('passed')).toEqual(['pass']);
    expect(terms('billing')).toEqual(['bill']);
  });

  it('reads contractions and possessives as the words they stand for', () => {
    // Act / Assert: I'm, don't, what's and can't are stopwords once expanded; a possessive is its noun.
    expect(terms("I'm sure I don't know what's wrong, I can't connect")).toEqual(
      terms('sure know wrong connect'),
    );
    expect(terms("the company's VPN")).toEqual(terms('company VPN'));
  });

  it('drops the particles of Japanese text whatever script comes before them, and keeps a text of hiragana alone', () => {
    // Act / Assert
    expect(terms('VPNにつながらない')).toEqual(['vpn']);
    expect(terms('鍵につながらない')).toEqual(['鍵']);
    expect(terms('つながらない')).toEqual(['つな', 'なが', 'がら', 'らな', 'ない']);
  });
});

describe("terms, the offline embeddings' features", () => {
  it('stay as they were, so that a table built with them before still meets its questions', () => {
    // Act / Assert
    expect(indexTerms('travelling slowly')).toEqual(['travell', 'slowly']);
    expect(indexTerms("I'm")).toEqual(['im']);
    expect(indexTerms('VPNにつながらない')).toEqual(['vpn', 'につ', 'つな', 'なが', 'がら', 'らな', 'ない']);
  });
});
