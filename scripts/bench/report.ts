import { cpus, totalmem } from 'node:os';

/**
 * What every section of `npm run bench` returns: its workload in words, its figures each beside the baseline
 * measured in the same run (so that a ratio holds on a noisy machine), the target a figure must meet, and the
 * details behind them for `--json`.
 */

export type SectionKey =
  | 'ack'
  | 'coldStart'
  | 'workflow'
  | 'endToEnd'
  | 'retrieval'
  | 'retrievalS3'
  | 'retrievalReal'
  | 'scale'
  | 'access'
  | 'ingest'
  | 'markdown'
  | 'documentsPdf'
  | 'documentsWeb'
  | 'streaming'
  | 'slackLoad'
  | 'memory'
  | 'cost';

export type Unit = 'ms' | 'MB' | 'count' | 'ratio' | 'per s' | 'USD' | 'tokens' | 'chunks/s' | 'chars/s';

/** A bound a figure must stay within: `max` (at most) or `min` (at least). */
export interface Target {
  max?: number;
  min?: number;
  /** How the target reads in the table when the bound alone does not say it, e.g. "< 10% of the first sync". */
  text?: string;
}

export interface Figure {
  name: string;
  value: number;
  unit: Unit;
  /** The same quantity measured for the section's baseline, in the same unit. */
  baseline?: number;
  target?: Target;
}

export interface FigureReport extends Figure {
  /** value ÷ baseline, when both exist. */
  ratio?: number;
  /** Whether the target is met; absent without a target. */
  met?: boolean;
}

export interface SectionResult {
  key: SectionKey;
  title: string;
  /** Sizes, counts and dimensions, as one line. */
  workload: string;
  /** What the baseline is, as one line. */
  baseline: string;
  figures: Figure[];
  /** Facts a reader needs to read the figures right: a missed target's why, an assumption. */
  notes: string[];
  /** Everything else measured (per state, per bundle, per variant), for `--json`. */
  details: Record<string, unknown>;
}

export interface SectionReport extends Omit<SectionResult, 'figures'> {
  figures: FigureReport[];
  /** Wall time of the section itself. */
  seconds: number;
}

export function meets(value: number, target: Target | undefined): boolean | undefined {
  if (target === undefined) return undefined;
  if (!Number.isFinite(value)) return false;
  if (target.max !== undefined && value > target.max) return false;
  if (target.min !== undefined && value < target.min) return false;
  return true;
}

export function toReport(result: SectionResult, seconds: number): SectionReport {
  return {
    ...result,
    seconds: round(seconds, 1),
    figures: result.figures.map((figure) => {
      const ratio =
        figure.baseline !== undefined && figure.baseline !== 0 && Number.isFinite(figure.baseline)
          ? round(figure.value / figure.baseline, 2)
          : undefined;
      const met = meets(figure.value, figure.target);
      return {
        ...figure,
        value: round(figure.value, 3),
        ...(figure.baseline === undefined ? {} : { baseline: round(figure.baseline, 3) }),
        ...(ratio === undefined ? {} : { ratio }),
        ...(met === undefined ? {} : { met }),
      };
    }),
  };
}

export function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A number as a person reads it: three significant figures or fewer, thousands grouped. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs >= 1000) return Math.round(value).toLocaleString('en');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs >= 0.01) return value.toFixed(3);
  return value.toPrecision(2);
}

export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'ms':
      return `${formatNumber(value)} ms`;
    case 'MB':
      return `${formatNumber(value)} MB`;
    case 'per s':
      return `${formatNumber(value)}/s`;
    case 'USD':
      return `$${value < 0.01 && value > 0 ? value.toPrecision(2) : value.toFixed(value >= 100 ? 0 : 4)}`;
    case 'ratio':
      return formatNumber(value);
    case 'count':
    case 'tokens':
      return Number.isInteger(value) ? value.toLocaleString('en') : formatNumber(value);
    case 'chunks/s':
      return `${formatNumber(value)} chunks/s`;
    case 'chars/s':
      return `${formatNumber(value)} chars/s`;
    default:
      return formatNumber(value);
  }
}

export function formatTarget(target: Target | undefined, unit: Unit): string {
  if (target === undefined) return '';
  if (target.text !== undefined) return target.text;
  const parts: string[] = [];
  if (target.max !== undefined) parts.push(`≤ ${formatValue(target.max, unit)}`);
  if (target.min !== undefined) parts.push(`≥ ${formatValue(target.min, unit)}`);
  return parts.join(', ');
}

/** The rows of a section's table as cells: figure, value, baseline, ratio, target, met. */
export function tableRows(section: SectionReport): string[][] {
  return section.figures.map((figure) => [
    figure.name,
    formatValue(figure.value, figure.unit),
    figure.baseline === undefined ? '' : formatValue(figure.baseline, figure.unit),
    figure.ratio === undefined ? '' : `${formatNumber(figure.ratio)}×`,
    formatTarget(figure.target, figure.unit),
    figure.met === undefined ? '' : figure.met ? 'met' : 'MISSED',
  ]);
}

const HEADER = ['figure', 'value', 'baseline', 'ratio', 'target', ''];

/** A Markdown table (it reads as plain text in a terminal too). */
export function markdownTable(rows: string[][], header = HEADER): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${header.map((_, i) => (cells[i] ?? '').padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function renderSection(section: SectionReport, index: number): string {
  const lines = [
    `### ${index}. ${section.title}`,
    '',
    `Workload: ${section.workload}`,
    `Baseline: ${section.baseline}`,
    '',
    markdownTable(tableRows(section)),
  ];
  if (section.notes.length > 0) lines.push('', ...section.notes.map((note) => `- ${note}`));
  lines.push('', `(${section.seconds} s)`);
  return lines.join('\n');
}

/** The machine the figures were measured on, for the header of the table. */
export function describeMachine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
}
