import MarkdownIt from 'markdown-it';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import { blockquote } from '../../functions/core/markdown/blockquote';
import { withTypedLineArrays } from '../../functions/core/markdown/line-arrays';
import { toSlackMrkdwn } from '../../functions/core/slack/mrkdwn';
import { cpuMs, median, seededRandom } from '../../scripts/bench/stats';
import { ADVERSARIAL_MARKDOWN, type AdversarialMarkdown } from '../fixtures/adversarial-markdown/corpus';

/**
 * Every adversarial document (test/fixtures/adversarial-markdown) goes through what a user's text goes through:
 * ingest (the real loadDocument and splitDocument) and the answer path (toSlackMrkdwn). Each must finish, without
 * a stack overflow, and in time linear in its size. Before the parser, the slowest of these took 15 s to 64 s at
 * 100k characters, or overflowed the stack.
 *
 * How linearity is measured so that a busy machine cannot fail it (issue 18, point 23): the same characters are
 * timed twice, as one document of 100k characters and as 16 documents of 6,250, runs interleaved. Linear time
 * costs the same both ways (a ratio of about 1); quadratic time costs 16× more in one piece, and even n^1.5
 * costs 4×. Both sides do the same amount of work, so neither sits at the timer's noise floor (as a 25k document
 * of a few ms did when 4× the size was timed against 1×: JIT tiers and a scavenge made the small side swing 3×,
 * and the ratio with it, 8.3–13× on an idle machine). Time is the thread's CPU time, which other processes on the
 * machine do not add to. The rates themselves, and growth up to the 2 MiB document limit, are the bench's
 * (npm run bench -- --only markdown).
 */

const LARGE = 100_000;
const PIECES = 16;
const RUNS = 3;
const ATTEMPTS = 3;
/**
 * Linear: about 1 (up to 2.5 measured, the deep quote with lazy lines, before its per-line state was kept in typed
 * arrays: see 'a document past 16,384 lines' below).
 * Quadratic: 16, which this bound catches with room on both sides.
 */
const MAX_ONE_PIECE_OVER_PIECES = 6;
/** CPU time 100k characters may take on one path: a catastrophic path took 15 s or more; the slowest now ~0.3 s. */
const LARGE_BOUND_CPU_MS = 3_000;
/** CPU times this short are timer noise: a ratio of two of them says nothing about growth. */
const NOISE_FLOOR_MS = 5;

const encoder = new TextEncoder();
/**
 * Read before every timed document: loadDocument keeps the last text's parse for the split that follows, so 16
 * identical pieces in a row would be parsed once.
 */
const OTHER = 'x';

async function ingest(text: string): Promise<number> {
  const loaded = await loadDocument(encoder.encode(text), 'adversarial.md');
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

/**
 * Median CPU times of the document in one piece and in {@link PIECES} pieces of the same total length, runs
 * interleaved, and their ratio (times under the noise floor counted as the floor).
 */
async function measure(document: AdversarialMarkdown, path: (text: string) => unknown, size = LARGE) {
  const whole = document.make(size);
  const piece = document.make(Math.floor(size / PIECES));
  const pieces = Math.round(whole.length / piece.length);
  await path(document.make(1_000));
  await path(piece);
  const wholeMs: number[] = [];
  const piecesMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    piecesMs.push(
      await cpuMs(async () => {
        for (let i = 0; i < pieces; i++) {
          await path(OTHER);
          await path(piece);
        }
      }),
    );
    wholeMs.push(
      await cpuMs(async () => {
        await path(OTHER);
        await path(whole);
      }),
    );
  }
  return {
    slowestWholeMs: Math.max(...wholeMs),
    ratio: Math.max(median(wholeMs), NOISE_FLOOR_MS) / Math.max(median(piecesMs), NOISE_FLOOR_MS),
  };
}

/**
 * The lowest ratio of up to `ATTEMPTS` measurements, stopping at the first within the bound: one measurement can
 * still land on a major garbage collection, while a quadratic path is 16× on every attempt.
 */
async function lowestRatio(
  document: AdversarialMarkdown,
  path: (text: string) => unknown,
  size = LARGE,
  bound = MAX_ONE_PIECE_OVER_PIECES,
) {
  let best = await measure(document, path, size);
  for (let attempt = 1; attempt < ATTEMPTS && best.ratio > bound; attempt++) {
    const again = await measure(document, path, size);
    if (again.ratio < best.ratio) best = again;
  }
  return best;
}

describe.each([
  ['ingest (loadDocument + splitDocument)', ingest],
  ['Slack mrkdwn (toSlackMrkdwn)', mrkdwn],
] as const)('%s on adversarial Markdown', (_, path) => {
  it.each(ADVERSARIAL_MARKDOWN.map((document) => [document.name, document] as const))(
    '%s: finishes, in time linear in its size',
    async (_name, document) => {
      // Act
      const { slowestWholeMs, ratio } = await lowestRatio(document, path);

      // Assert
      expect(slowestWholeMs).toBeLessThan(LARGE_BOUND_CPU_MS);
      expect(ratio).toBeLessThanOrEqual(MAX_ONE_PIECE_OVER_PIECES);
    },
  );
});

/**
 * Past 16,384 lines a plain array of one number per line outgrows V8's largest regular heap object, and every
 * growth after that is a large-object allocation from the operating system: markdown-it's per-line state, and a
 * block quote's saved copy of it (once per nesting level, 20 deep), cost several times as much per line there (the
 * bench's deep quote with lazy lines: 4.3× the CPU time per character at 100k characters as at 25k). The parser
 * keeps that state in typed arrays (line-arrays.ts, blockquote.ts), whose cost per line is the same at every
 * length: a document of 40,000 lines costs what its 16 pieces of 2,500 lines cost.
 */
describe('a document past 16,384 lines', () => {
  const LINES = 40_000;
  /**
   * Measured, the lowest of 3: with typed arrays 1.01 and 1.68 (ingest), 1.06 and 0.77 (mrkdwn); with markdown-it's
   * plain arrays 2.47 and 4.76 (ingest), 2.78 and 5.85 (mrkdwn), for the lazy lines and the lines in quotes. Too
   * close to tell apart on a busy machine: a bound of 2.2 failed at 2.68 with the typed arrays while a benchmark
   * ran beside the suite (2026-12-07). So this test holds the same bound as the others (quadratic growth, 16, is
   * caught on every attempt), and the typed arrays' gain is the bench's to show (`npm run bench -- --only
   * markdown`: characters per second on these documents); the test below checks the typed rule gives
   * markdown-it's own tokens.
   */
  const MAX_WHOLE_OVER_PIECES = MAX_ONE_PIECE_OVER_PIECES;
  /** Each shape's lines are 2 characters (lazy lines) or 22 (a line in 20 quotes). */
  const documents: (AdversarialMarkdown & { lineLength: number })[] = [
    {
      name: 'a quote 20 deep with lazy lines',
      make: (size) => `${'>'.repeat(20)} a\n${'b\n'.repeat(Math.max(1, Math.floor(size / 2) - 12))}`,
      lineLength: 2,
    },
    {
      name: 'lines in quotes 20 deep',
      make: (size) => `${'>'.repeat(20)}a\n`.repeat(Math.max(1, Math.floor(size / 22))),
      lineLength: 22,
    },
  ];

  describe.each([
    ['ingest (loadDocument + splitDocument)', ingest],
    ['Slack mrkdwn (toSlackMrkdwn)', mrkdwn],
  ] as const)('%s', (_, path) => {
    it.each(documents.map((document) => [document.name, document] as const))(
      '%s: 40,000 lines cost what their 16 pieces cost',
      async (_name, document) => {
        // Act
        const { ratio } = await lowestRatio(
          document,
          path,
          LINES * document.lineLength,
          MAX_WHOLE_OVER_PIECES,
        );

        // Assert
        expect(ratio).toBeLessThanOrEqual(MAX_WHOLE_OVER_PIECES);
      },
    );
  });
});

describe('the typed-array block state and block quote rule', () => {
  it("give markdown-it's own tokens", () => {
    // Arrange: markdown-it as it comes, and with the two replacements parse-markdown.ts makes.
    const parsers = [false, true].map((html) => {
      const stock = new MarkdownIt('default', { html, maxNesting: 20 });
      const typed = new MarkdownIt('default', { html, maxNesting: 20 });
      typed.block.State = withTypedLineArrays(typed.block.State);
      typed.block.ruler.at('blockquote', blockquote, {
        alt: ['paragraph', 'reference', 'blockquote', 'list'],
      });
      return { stock, typed };
    });
    const random = seededRandom(18);
    const pieces = ['>', '> ', '>\t', ' ', '    ', '\t', '- ', '1. ', '* ', 'a', 'b', '\n', '\n\n', '\r\n'];
    pieces.push('```', '~~~', '# ', '***', '---', '===', '|', '<div>', '<!--', '[a]: b', '    x');
    const texts = ADVERSARIAL_MARKDOWN.flatMap((document) =>
      [10, 100, 1_000].map((size) => document.make(size)),
    );
    for (let i = 0; i < 3_000; i++) {
      let text = '';
      for (let j = 1 + Math.floor(random() * 30); j > 0; j--)
        text += pieces[Math.floor(random() * pieces.length)];
      texts.push(text);
    }

    // Act
    const differing = texts.filter((text) =>
      parsers.some(
        ({ stock, typed }) => JSON.stringify(stock.parse(text, {})) !== JSON.stringify(typed.parse(text, {})),
      ),
    );

    // Assert
    expect(differing).toEqual([]);
  });
});

describe('the inputs seen in issue 9', () => {
  it('loads and splits the 3 KB heading line that took 14 s', async () => {
    // Arrange: a line of `#`, 3,000 spaces, then U+2028 (a line separator to JavaScript, not to Markdown).
    const text = `#${' '.repeat(3_000)}\u2028\n\n# Title\n\nThe body.`;

    // Act
    let loaded: Awaited<ReturnType<typeof loadDocument>> | undefined;
    let chunks: Awaited<ReturnType<typeof splitDocument>> = [];
    const ms = await cpuMs(async () => {
      loaded = await loadDocument(encoder.encode(text), 'hostile.md');
      chunks = loaded.ok ? await splitDocument(loaded.document) : [];
    });

    // Assert
    expect(ms).toBeLessThan(500);
    expect(loaded?.ok && loaded.document.title).toBe('Title');
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
