import { loadDocument, MAX_DOCUMENT_BYTES } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import { parseMarkdown } from '../../functions/core/markdown/parse-markdown';
import { ANSWER_CHARS_PER_MESSAGE } from '../../functions/core/slack/answer-message';
import { toSlackMrkdwn } from '../../functions/core/slack/mrkdwn';
import { ADVERSARIAL_MARKDOWN, ordinaryMarkdown } from '../../test/fixtures/adversarial-markdown/corpus';
import type { BenchContext } from './context';
import type { SectionResult } from './report';
import { cpuMs, median } from './stats';

const encoder = new TextEncoder();

/**
 * Ingest's Markdown path: the real loadDocument and splitDocument, as the Batch function runs them. Sizes here are
 * in characters, and a document of 2 MiB characters of `。` is 6 MiB of UTF-8: the byte limit is lifted so that
 * every shape is measured at the limit's length rather than rejected unread.
 */
async function ingest(text: string, name = 'bench.md'): Promise<void> {
  const loaded = await loadDocument(encoder.encode(text), name, { maxBytes: Number.POSITIVE_INFINITY });
  if (loaded.ok) await splitDocument(loaded.document);
}

/**
 * Median wall time of `runs` calls, after one unmeasured call that warms the JIT. Wall time, not {@link cpuMs}:
 * these runs take 1-3 ms, and the thread's CPU time can be counted in scheduler ticks, which reads them as 0.
 */
async function medianMs(work: () => unknown, runs: number): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Times this short are timer and scheduler noise: a ratio of two of them says nothing about growth. */
const NOISE_FLOOR_MS = 5;

/**
 * Read before every timed document: loadDocument keeps the last text's parse for the split that follows
 * (markdown-headings.ts), so the same text twice in a row would be parsed once.
 */
const OTHER = 'x';

/**
 * The growth of one path's CPU time from a document at one size to the same document at about 4× (scaled to
 * exactly 4× the characters), measured on equal characters: the small document `sizeRatio` times in a row (about
 * 4) against the large one once, runs interleaved (small batch, large, small batch, …) so that a busy moment of the
 * machine falls on both, after a warm-up of both. Both sides then take about the same time, so neither sits at the
 * timer's resolution (the thread's CPU time can be counted in 4 ms ticks: a 25k document of 4-16 ms timed alone
 * read ±30%), and linear time reads 4 whatever the sizes.
 */
async function growthOf(
  work: (text: string) => unknown,
  small: string,
  large: string,
  runs: number,
): Promise<{ largeMs: number; growth: number }> {
  const sizeRatio = large.length / small.length;
  const batch = Math.max(1, Math.round(sizeRatio));
  for (const text of [small, large]) {
    await work(OTHER);
    await work(text);
  }
  const batchMs: number[] = [];
  const largeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    batchMs.push(
      await cpuMs(async () => {
        for (let j = 0; j < batch; j++) {
          await work(OTHER);
          await work(small);
        }
      }),
    );
    largeMs.push(
      await cpuMs(async () => {
        await work(OTHER);
        await work(large);
      }),
    );
  }
  const smallMs = Math.max(median(batchMs), NOISE_FLOOR_MS) / batch;
  return {
    largeMs: median(largeMs),
    growth: (4 / sizeRatio) * (Math.max(median(largeMs), NOISE_FLOOR_MS) / smallMs),
  };
}

interface DocumentRate {
  name: string;
  /** Characters per second at the large size. */
  ingestPerSecond: number;
  mrkdwnPerSecond: number;
  /** Time at 4× the size over time at 1×: 4 when linear. */
  ingestGrowth: number;
  mrkdwnGrowth: number;
}

/**
 * Section: how fast Markdown goes through its two paths, in characters per second of CPU time. Ingest (load +
 * split: front matter, headings, sections, chunks) reads documents of up to 2 MiB (INGEST_MAX_FILE_BYTES), so the
 * full run grows every adversarial document from 512 KiB to that limit; the answer path (toSlackMrkdwn) converts
 * the whole answer on every streamed update, and an answer is at most a few messages of Slack's 40,000 characters,
 * so it grows from 100k to 400k. Both on ordinary Markdown and on the adversarial corpus of
 * test/fixtures/adversarial-markdown, whose slowest document and worst growth (time at 4× the size over time at
 * 1×) are the figures that matter: linear time means a growth of about 4.
 */
export async function benchMarkdown(ctx: BenchContext): Promise<SectionResult> {
  // The quick run starts at 50k, not lower: a document of 25k characters can have under 16,384 lines or inline
  // tokens and its 4× over that, and an array of one entry per line or token costs more per entry past that length
  // (a large object in V8's heap; see functions/core/markdown/line-arrays.ts): markdown-it's inline tokens of a
  // paragraph of 25k 2-character lines grew 8-9× from 25k to 100k characters, then 4× from 50k on.
  const [small, large] = ctx.quick ? [50_000, 200_000] : [100_000, 400_000];
  const [ingestSmall, ingestLarge] = ctx.quick
    ? [small, large]
    : [MAX_DOCUMENT_BYTES / 4, MAX_DOCUMENT_BYTES];
  const runs = 5;
  const ingestRuns = ctx.quick ? 5 : 3;
  const ordinaryChars = ctx.quick ? 200_000 : 1_000_000;
  const ordinary = ordinaryMarkdown(ordinaryChars);
  const answer = ordinaryMarkdown(ANSWER_CHARS_PER_MESSAGE);

  ctx.log(`markdown: ordinary text (${ordinary.length.toLocaleString('en')} characters)`);
  // Each run reads a text of its own: markdown-headings.ts keeps the last text's headings (for the split that
  // follows the load), and a run served from the one before would measure nothing.
  let run = 0;
  const ingestMs = await medianMs(() => ingest(`${ordinary}${run++}`), runs);
  const plainTextMs = await medianMs(() => ingest(`${ordinary}${run++}`, 'bench.txt'), runs);
  const answerMs = await medianMs(() => toSlackMrkdwn(answer), 4 * runs);
  const parseMs = await medianMs(() => parseMarkdown(answer), 4 * runs);

  ctx.log(
    `markdown: ${ADVERSARIAL_MARKDOWN.length} adversarial documents, ingest at ${ingestSmall} and ${ingestLarge} characters, mrkdwn at ${small} and ${large}`,
  );
  const rates: DocumentRate[] = [];
  for (const document of ADVERSARIAL_MARKDOWN) {
    const ingestLargeText = document.make(ingestLarge);
    const ingested = await growthOf(ingest, document.make(ingestSmall), ingestLargeText, ingestRuns);
    const largeText = document.make(large);
    const converted = await growthOf(toSlackMrkdwn, document.make(small), largeText, runs);
    rates.push({
      name: document.name,
      ingestPerSecond: ingestLargeText.length / (ingested.largeMs / 1000),
      mrkdwnPerSecond: largeText.length / (converted.largeMs / 1000),
      ingestGrowth: ingested.growth,
      mrkdwnGrowth: converted.growth,
    });
  }
  const slowest = (key: 'ingestPerSecond' | 'mrkdwnPerSecond') =>
    rates.reduce((worst, rate) => (rate[key] < worst[key] ? rate : worst));
  const steepest = (key: 'ingestGrowth' | 'mrkdwnGrowth') =>
    rates.reduce((worst, rate) => (rate[key] > worst[key] ? rate : worst));
  const slowestIngest = slowest('ingestPerSecond');
  const slowestMrkdwn = slowest('mrkdwnPerSecond');
  const steepestIngest = steepest('ingestGrowth');
  const steepestMrkdwn = steepest('mrkdwnGrowth');
  const ordinaryIngestRate = ordinary.length / (ingestMs / 1000);
  const answerRate = answer.length / (answerMs / 1000);

  return {
    key: 'markdown',
    title: 'Markdown: ingest and Slack mrkdwn, characters per second',
    workload:
      `ordinary Markdown (a handbook page with headings, lists, code, a table, links and Japanese, repeated): ${ordinary.length.toLocaleString('en')} characters through loadDocument + splitDocument, and a ${answer.length.toLocaleString('en')}-character answer (one message) through toSlackMrkdwn; ` +
      `then the ${ADVERSARIAL_MARKDOWN.length} adversarial documents of test/fixtures/adversarial-markdown through ingest at ${ingestSmall.toLocaleString('en')} and ${ingestLarge.toLocaleString('en')} characters (the 2 MiB document limit in a full run) and through toSlackMrkdwn at ${small.toLocaleString('en')} and ${large.toLocaleString('en')}; growth on equal characters: the small document 4 times against the large once, median CPU time of ${ingestRuns} (ingest) and ${runs} (mrkdwn) runs of each after a warm-up, interleaved`,
    baseline:
      'ingest: the same ordinary text loaded as plain text (.txt: no Markdown parsing, one section for the splitter); mrkdwn: markdown-it’s parse of the same answer alone (the floor of a conversion from its tokens); adversarial figures: the ordinary text’s rate',
    figures: [
      {
        name: 'ingest, ordinary Markdown',
        value: ordinaryIngestRate,
        unit: 'chars/s',
        baseline: ordinary.length / (plainTextMs / 1000),
      },
      {
        name: `ingest, slowest adversarial (${slowestIngest.name})`,
        value: slowestIngest.ingestPerSecond,
        unit: 'chars/s',
        baseline: ordinaryIngestRate,
        // A 2 MiB document, the size limit, within 10 s of the Batch function's 600 s.
        target: { min: 200_000 },
      },
      {
        name: `ingest, steepest growth at 4× the size (${steepestIngest.name})`,
        value: steepestIngest.ingestGrowth,
        unit: 'ratio',
        target: { max: 8, text: '≤ 8 (linear: 4)' },
      },
      {
        name: 'mrkdwn, one message of ordinary answer',
        value: answerMs,
        unit: 'ms',
        baseline: parseMs,
        // Every streamed update converts the whole answer so far.
        target: { max: 50 },
      },
      {
        name: 'mrkdwn, ordinary answer',
        value: answerRate,
        unit: 'chars/s',
        baseline: answer.length / (parseMs / 1000),
      },
      {
        name: `mrkdwn, slowest adversarial (${slowestMrkdwn.name})`,
        value: slowestMrkdwn.mrkdwnPerSecond,
        unit: 'chars/s',
        baseline: answerRate,
        // A 40,000-character answer (Slack's limit for a message's text) within 200 ms.
        target: { min: 200_000 },
      },
      {
        name: `mrkdwn, steepest growth at 4× the size (${steepestMrkdwn.name})`,
        value: steepestMrkdwn.mrkdwnGrowth,
        unit: 'ratio',
        target: { max: 8, text: '≤ 8 (linear: 4)' },
      },
    ],
    notes: [
      `Growth is the time at 4× the size over the time at 1×, read as 4 × the time of the large document over that of the small one 4 times (equal characters, so neither side is a few CPU ticks; runs interleaved; scaled to exactly 4× where a document cannot grow that much; times under ${NOISE_FLOOR_MS} ms counted as ${NOISE_FLOOR_MS} ms); before the Markdown parser, runs of \`[\`, \`(*a\` and \`*_\` grew 12–16× and a \`#\` line of spaces and U+2028 grew cubically (3 KB: 14 s).`,
      'Ingest parses a document once (the load’s title and the split’s sections share it) and only its block structure (the inline content of headings alone); toSlackMrkdwn parses everything, inline included, on every streamed update.',
    ],
    details: {
      sizes: { ingest: { small: ingestSmall, large: ingestLarge }, mrkdwn: { small, large } },
      runs: { ingest: ingestRuns, mrkdwn: runs },
      ordinary: { characters: ordinary.length, ingestMs, plainTextMs },
      answer: { characters: answer.length, mrkdwnMs: answerMs, parseMs },
      documents: rates.map((rate) => ({
        ...rate,
        ingestPerSecond: Math.round(rate.ingestPerSecond),
        mrkdwnPerSecond: Math.round(rate.mrkdwnPerSecond),
        ingestGrowth: Math.round(rate.ingestGrowth * 100) / 100,
        mrkdwnGrowth: Math.round(rate.mrkdwnGrowth * 100) / 100,
      })),
    },
  };
}
