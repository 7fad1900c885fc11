import { pagesLabel } from '../../functions/core/slack/answer-message';
import type { SourceRef } from '../../functions/core/types';
import { type Grade, meanOf } from './grade';
import type { Summary, ThresholdCheck } from './metrics';
import type { QuestionResult, RunOutcome } from './run';

/** Plain-text tables for a terminal, and Markdown-compatible (`|` columns) so a README can hold them as printed. */

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function ratio(value: number | null): string {
  return value === null ? '–' : value.toFixed(2);
}

function ms(value: { p50: number; p95: number } | null): string {
  return value === null ? '–' : `${Math.round(value.p50)} / ${Math.round(value.p95)}`;
}

function usd(value: number | null): string {
  if (value === null) return 'price unknown';
  return value < 0.01 ? `$${value.toFixed(5)}` : `$${value.toFixed(4)}`;
}

function tokens(pair: { input: number; output: number }): string {
  return `${pair.input} / ${pair.output}`;
}

/**
 * A section as the sources under an answer show it: the document's title (its file name when it has none), the
 * section, and its pages: `Debian Policy Manual › 4.9 Main building script: debian/rules, pp. 33–36`. Titles tell
 * apart documents that share a file name (a corpus of READMEs).
 */
function label(section: Pick<SourceRef, 'source' | 'title' | 'heading' | 'pageStart' | 'pageEnd'>): string {
  const name = section.title?.trim() || (section.source.split('/').pop() ?? section.source);
  const path = section.heading === '' || section.heading === name ? name : `${name} › ${section.heading}`;
  return `${path}${pagesLabel(section)}`;
}

/** One row a question: what retrieval found, and what the answer did. */
export function questionTable(results: QuestionResult[]): string {
  const rows = results.map((r) => [
    r.id,
    r.language,
    r.followUp ? 'yes' : '',
    r.answerable ? (r.expectedRank === null ? 'missed' : String(r.expectedRank)) : 'n/a',
    r.answerable ? (r.declined ? 'DECLINED' : 'answered') : r.declined ? 'declined' : 'ANSWERED',
    r.answerable ? (r.citesExpected ? 'yes' : 'no') : '',
    r.sources.map(label).join(', '),
    r.answerLanguage === r.language ? 'ok' : r.answerLanguage,
    String(Math.round(r.ms.condense + r.ms.retrieve + r.ms.answer)),
  ]);
  return table(
    ['question', 'lang', 'follow-up', 'rank', 'outcome', 'cited', 'sources listed', 'language', 'ms'],
    rows,
  );
}

/** The metric rows, one column per run. */
export function summaryTable(runs: { name: string; outcome: RunOutcome; summary: Summary }[]): string {
  const column = (pick: (s: Summary, o: RunOutcome) => string) => runs.map((r) => pick(r.summary, r.outcome));
  const rows: string[][] = [
    ['model', ...column((_, o) => o.model)],
    ['search, top-k', ...column((s, o) => `${o.results[0]?.search ?? o.settings.search}, ${s.topK}`)],
    [
      'questions (answerable / not)',
      ...column((s) => `${s.questions} (${s.answerable} / ${s.unanswerable})`),
    ],
    ['retrieval hit@1', ...column((s) => ratio(s.hit1))],
    ['retrieval hit@3', ...column((s) => ratio(s.hit3))],
    ['retrieval hit@k', ...column((s) => ratio(s.hitK))],
    ['retrieval MRR', ...column((s) => ratio(s.mrr))],
    ['answerable answered', ...column((s) => ratio(s.answered))],
    ['answer cites an expected source', ...column((s) => ratio(s.cited))],
    ['listed sources that are expected', ...column((s) => ratio(s.sourcePrecision))],
    ['unanswerable declined (refusal recall)', ...column((s) => ratio(s.declined))],
    ['refusal precision', ...column((s) => ratio(s.refusalPrecision))],
    ['answer in the question’s language', ...column((s) => ratio(s.language))],
    ['ms p50 / p95: condense (follow-ups)', ...column((s) => ms(s.latencyMs.condense))],
    ['ms p50 / p95: retrieve', ...column((s) => ms(s.latencyMs.retrieve))],
    ['ms p50 / p95: answer', ...column((s) => ms(s.latencyMs.answer))],
    ['ms p50 / p95: question', ...column((s) => ms(s.latencyMs.total))],
    ['tokens in / out: condense', ...column((s) => tokens(s.tokens.condense))],
    ['tokens in: query embeddings (estimated)', ...column((s) => String(s.tokens.embed.input))],
    ['tokens in / out: answer', ...column((s) => tokens(s.tokens.answer))],
    ['cost (per question)', ...column((s) => `${usd(s.costUsd)} (${usd(s.costPerQuestionUsd)})`)],
  ];
  return table(['', ...runs.map((r) => r.name)], rows);
}

export function thresholdLines(checks: ThresholdCheck[], runName: string): string {
  return checks
    .map(
      (c) =>
        `${c.passed ? 'ok  ' : 'FAIL'} ${c.metric} = ${c.value === null ? 'no question counts' : c.value.toFixed(2)} (at least ${c.min}) on ${runName}`,
    )
    .join('\n');
}

/** One run of the eval (the configured settings or a variant), as printed. */
export interface RunReport {
  name: string;
  outcome: RunOutcome;
  summary: Summary;
  grades?: Grade[];
}

/** What `--json` prints: one object, every run with its summary and each question's result. */
export function jsonOf(runs: RunReport[], checks: ThresholdCheck[], questionsPath: string) {
  return {
    questions: questionsPath,
    passed: checks.every((c) => c.passed),
    thresholds: checks,
    runs: runs.map((r) => ({
      name: r.name,
      model: r.outcome.model,
      embeddingModel: r.outcome.embeddingModel,
      topK: r.outcome.settings.topK,
      search: r.outcome.results[0]?.search ?? r.outcome.settings.search,
      ...(r.outcome.indexedChunks === undefined ? {} : { indexedChunks: r.outcome.indexedChunks }),
      summary: r.summary,
      ...(r.grades === undefined
        ? {}
        : {
            grades: r.grades,
            faithfulness: meanOf(r.grades.map((g) => g.faithful)),
            agreement: meanOf(r.grades.map((g) => g.agrees)),
          }),
      results: r.outcome.results.map(({ passages, ...rest }) => ({
        ...rest,
        retrieved: passages.map((p) => ({ source: p.source, heading: p.heading, score: p.score })),
      })),
    })),
  };
}
