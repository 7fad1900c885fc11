import { OpenAIEmbeddings } from '@langchain/openai';
import { LocalExtractiveChatModel } from '../../functions/core/llm/local-chat-model';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { embeddingDimensionsOf } from '../../functions/core/llm/providers';
import { keyTerms, matchTerms, segments, terms } from '../../functions/core/llm/terms';
import type { Passage } from '../../functions/core/types';
import { parseThreshold } from '../../scripts/eval/metrics';
import { priceOf } from '../../scripts/eval/prices';
import { answerMessages, condenseMessages } from '../support/local-model-prompts';

/**
 * Words are untrusted input: a question or a document may hold any of them, including the names plain objects
 * inherit ("constructor", "toString", "__proto__"). Each one, alone, capitalised, possessive or contracted, and
 * random words around them, go through the tokenizer, the offline embeddings and the offline chat model (answer
 * and condense mode): every term is a string, every vector a unit vector of numbers, and the model answers.
 */

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

/** Forms a word takes in running text: as is, capitalised, possessive, plural, contracted. */
function formsOf(name: string): string[] {
  const capital = name.charAt(0).toUpperCase() + name.slice(1);
  const forms = [
    name,
    name.toLowerCase(),
    capital,
    `${name}'s`,
    `${name}’s`,
    `${name}s`,
    `${name}n't`,
    `${name}'ll`,
  ];
  return [...new Set(forms)];
}

/** A small seeded generator (mulberry32), so a failure names a case that can be run again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_'’0123456789éßあ鍵";

function randomWord(next: () => number): string {
  if (next() < 0.3) return PROTOTYPE_NAMES[Math.floor(next() * PROTOTYPE_NAMES.length)] as string;
  const length = 1 + Math.floor(next() * 12);
  let word = '';
  for (let i = 0; i < length; i += 1) word += LETTERS.charAt(Math.floor(next() * LETTERS.length));
  return word;
}

function passage(text: string): Passage {
  return { source: 'docs/cdk/constructs.md', title: 'Constructs', heading: 'Constructs', text, score: 0.8 };
}

function expectTokenizes(text: string): void {
  for (const segment of segments(text)) expect(typeof segment.surface).toBe('string');
  for (const term of [...terms(text), ...matchTerms(text)]) expect(typeof term).toBe('string');
  for (const key of keyTerms(text)) for (const term of key.terms) expect(typeof term).toBe('string');
}

function expectUnitVector(vector: number[], dimensions: number): void {
  expect(vector).toHaveLength(dimensions);
  expect(vector.every((v) => Number.isFinite(v))).toBe(true);
  expect(Math.hypot(...vector)).toBeCloseTo(1, 6);
}

describe('words that plain objects inherit, and random words, through the offline models', () => {
  const embeddings = new LocalHashEmbeddings({ dimensions: 64 });
  const model = new LocalExtractiveChatModel();

  it('answers "How do I pass props to a construct\'s constructor?" from a CDK passage that says how', async () => {
    // Arrange
    const cdk = passage(
      "A construct is a class that extends Construct. To pass props to a construct's constructor, declare an " +
        'interface for them and accept it as the third argument of the constructor.',
    );
    const messages = await answerMessages("How do I pass props to a construct's constructor?", [cdk]);

    // Act
    const reply = await model.invoke(messages);

    // Assert
    expect(reply.text).toContain("> To pass props to a construct's constructor, declare an interface");
  });

  it.each([...new Set(PROTOTYPE_NAMES.flatMap(formsOf))])(
    '"%s": tokenized, embedded, quoted and condensed',
    async (word) => {
      // Arrange
      const sentence = `Call ${word} with the deployment props before synthesis.`;
      const question = `How do I call ${word} with the deployment props?`;

      // Act
      const [vector, reply, condensed] = await Promise.all([
        embeddings.embedQuery(sentence),
        answerMessages(question, [passage(`Read the guide first. ${sentence}`)]).then((m) => model.invoke(m)),
        condenseMessages([`What does ${word} do?`], 'And how do I call it?').then((m) => model.invoke(m)),
      ]);

      // Assert
      expectTokenizes(sentence);
      expectTokenizes(word);
      expectUnitVector(vector, 64);
      expect(reply.text).toContain(`> ${sentence}`);
      expect(typeof condensed.text).toBe('string');
      expect(condensed.text).toContain('call it');
    },
  );

  it('never fails on 300 random sentences of random and inherited words, as questions and as documents', async () => {
    // Arrange
    const next = random(0x5eed);
    const sentences = Array.from({ length: 300 }, () =>
      Array.from({ length: 1 + Math.floor(next() * 10) }, () => randomWord(next)).join(' '),
    );

    for (const [i, text] of sentences.entries()) {
      // Act
      const vector = embeddings.embed(text);
      const reply = await model.invoke(
        await answerMessages(text, [passage(`${sentences.at(i - 1)}. ${text}.`)]),
      );
      const condensed = await model.invoke(await condenseMessages([sentences.at(i - 1) as string], text));

      // Assert
      expectTokenizes(text);
      expectUnitVector(vector, 64);
      expect(reply.text.length).toBeGreaterThan(0);
      expect(condensed.text.length).toBeGreaterThan(0);
    }
  });
});

describe('other lookups of names that come from outside', () => {
  it.each(PROTOTYPE_NAMES)(
    '"%s" is no OpenAI embedding model, no priced model and no eval metric',
    (name) => {
      // Arrange
      const embeddings = new OpenAIEmbeddings({ apiKey: 'sk-unused', model: name });

      // Act
      const dimensions = embeddingDimensionsOf(embeddings);
      const price = priceOf(name);
      const threshold = () => parseThreshold(`${name}=0.5`);

      // Assert
      expect(dimensions).toBeUndefined();
      expect(price).toBeUndefined();
      if (/^[a-z@0-9-]+$/i.test(name)) expect(threshold).toThrow(/unknown metric/);
      else expect(threshold).toThrow(/METRIC=VALUE/);
    },
  );
});
