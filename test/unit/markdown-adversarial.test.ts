import { loadDocument } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import { toSlackMrkdwn } from '../../functions/core/slack/mrkdwn';
import { ADVERSARIAL_MARKDOWN, type AdversarialMarkdown } from '../fixtures/adversarial-markdown/corpus';

/**
 * Every adversarial document (test/fixtures/adversarial-markdown) goes through what a user's text goes through:
 * ingest (the real loadDocument and splitDocument) and the answer path (toSlackMrkdwn). Each must finish, without
 * a stack overflow, in a bound generous enough for a busy 2-CPU CI machine, and in time linear in its size: 4×
 * the text may take at most 8× the time (medians of interleaved runs, so that a pause of the machine hits both
 * sizes). Before the parser, the slowest of these took 15 s to 64 s at 100k characters, or overflowed the stack.
 */

const SMALL = 25_000;
const LARGE = 100_000;
const RUNS = 3;
const ATTEMPTS = 3;
/** Linear time grows 4× at 4× the size; twice that leaves room for garbage collection and a busy machine. */
const MAX_GROWTH = 8;
/** What 100k characters may take on one path, on a loaded CI machine; ordinary text takes a few ms to 100 ms. */
const LARGE_BOUND_MS = 2_000;
/** Times this short are timer and scheduler noise: a ratio of two of them says nothing about growth. */
const NOISE_FLOOR_MS = 5;

const encoder = new TextEncoder();

async function ingest(text: string): Promise<number> {
  const loaded = loadDocument(encoder.encode(text), 'adversarial.md');
  if (!loaded.ok) return 0;
  const chunks = await splitDocument(loaded.document);
  for (const chunk of chunks) {
    if (chunk.text.length > 1000) throw new Error(`a chunk of ${chunk.text.length} characters`);
  }
  return chunks.length;
}

function mrkdwn(text: string): number {
  const converted = toSlackMrkdwn(text);
  // Escaping `&` is the largest growth (5×); output much larger than that would itself be a quadratic cost.
  if (converted.length > 6 * text.length + 100) {
    throw new Error(`${text.length} characters became ${converted.length}`);
  }
  return converted.length;
}

async function timeMs(work: () => unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Median times at the small and large size, runs interleaved; the large runs' slowest for the bound; and the
 * growth, time at the large size over time at the small one per 4× the characters, times under the noise floor
 * counted as the floor.
 */
async function measure(document: AdversarialMarkdown, path: (text: string) => unknown) {
  const small = document.make(SMALL);
  const large = document.make(LARGE);
  await path(document.make(1_000));
  const smallMs: number[] = [];
  const largeMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    smallMs.push(await timeMs(() => path(small)));
    largeMs.push(await timeMs(() => path(large)));
  }
  const sizeRatio = large.length / small.length;
  return {
    slowestLargeMs: Math.max(...largeMs),
    growth:
      (4 / sizeRatio) *
      (Math.max(median(largeMs), NOISE_FLOOR_MS) / Math.max(median(smallMs), NOISE_FLOOR_MS)),
  };
}

/**
 * The lowest growth of up to `ATTEMPTS` measurements, stopping at the first within the bound: on a machine
 * shared with other test workers one measurement can land on a busy moment, while a quadratic path grows 16× on
 * every attempt.
 */
async function lowestGrowth(document: AdversarialMarkdown, path: (text: string) => unknown) {
  let best = await measure(document, path);
  for (let attempt = 1; attempt < ATTEMPTS && best.growth > MAX_GROWTH; attempt++) {
    const again = await measure(document, path);
    if (again.growth < best.growth) best = again;
  }
  return best;
}

describe.each([
  ['ingest (loadDocument + splitDocument)', ingest],
  ['Slack mrkdwn (toSlackMrkdwn)', mrkdwn],
] as const)('%s on adversarial Markdown', (_, path) => {
  it.each(ADVERSARIAL_MARKDOWN.map((document) => [document.name, document] as const))(
    '%s: finishes within the bound, in time linear in its size',
    async (_name, document) => {
      // Act
      const { slowestLargeMs, growth } = await lowestGrowth(document, path);

      // Assert
      expect(slowestLargeMs).toBeLessThan(LARGE_BOUND_MS);
      expect(growth).toBeLessThanOrEqual(MAX_GROWTH);
    },
  );
});

describe('the inputs seen in issue 9', () => {
  it('loads and splits the 3 KB heading line that took 14 s', async () => {
    // Arrange: a line of `#`, 3,000 spaces, then U+2028 (a line separator to JavaScript, not to Markdown).
    const text = `#${' '.repeat(3_000)}\u2028\n\n# Title\n\nThe body.`;

    // Act
    const started = performance.now();
    const loaded = loadDocument(encoder.encode(text), 'hostile.md');
    const chunks = loaded.ok ? await splitDocument(loaded.document) : [];
    const ms = performance.now() - started;

    // Assert
    expect(ms).toBeLessThan(500);
    expect(loaded.ok && loaded.document.title).toBe('Title');
    expect(chunks.map((chunk) => [chunk.heading, chunk.text]).at(-1)).toEqual(['Title', 'The body.']);
  });

  it('converts 6,000 > at a line start without overflowing the stack', () => {
    // Act
    const alone = () => toSlackMrkdwn('>'.repeat(6_000));
    const converted = toSlackMrkdwn(`${'>'.repeat(6_000)} quoted`);

    // Assert
    expect(alone).not.toThrow();
    expect(converted).toBe('> quoted');
  });
});
