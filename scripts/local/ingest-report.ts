import type { EmbeddingThroughput } from '../../functions/core/ingest/embedding-rate-limit';
import type { SyncReport } from '../../functions/core/ingest/sync-types';
import type { IngestProgress } from './ingest-local';
import type { ProgressBar } from './progress-bar';

/**
 * What `npm run ingest` prints of a sync: the `--json` object, the summary table a person reads, and the progress
 * bar's updates on a terminal. The command (scripts/ingest.ts) only parses its arguments and runs the sync.
 */

/** Skipped files named one by one in the summary; the rest are counted. */
const SKIPPED_ROWS = 20;

export type JsonResult = {
  added: number;
  updated: number;
  unchanged: number;
  /** Documents moved to another collection without re-embedding. */
  refiled: number;
  deleted: number;
  failed: { source: string; reason: string }[];
  skipped: { source: string; reason: string }[];
  chunks: number;
  embeddedChunks: number;
  /** How fast the sync embedded and what the provider's rate limit cost it, when it embedded anything. */
  embedding?: EmbeddingThroughput;
  ms: number;
  emptyOrigins?: { origin: string; message: string }[];
  error?: string;
};

export function jsonResult(report: SyncReport | undefined, ms: number, error?: string): JsonResult {
  return {
    added: report?.added ?? 0,
    updated: report?.updated ?? 0,
    unchanged: report?.unchanged ?? 0,
    refiled: report?.refiled ?? 0,
    deleted: report?.deleted ?? 0,
    failed: (report?.failed ?? []).map(({ source, reason }) => ({ source, reason })),
    skipped: (report?.skipped ?? []).map(({ source, reason }) => ({ source, reason })),
    chunks: report?.chunks ?? 0,
    embeddedChunks: report?.embeddedChunks ?? 0,
    ...(report?.embedding !== undefined ? { embedding: report.embedding } : {}),
    ms,
    ...(report !== undefined && report.emptyOrigins.length > 0 ? { emptyOrigins: report.emptyOrigins } : {}),
    ...(error !== undefined ? { error } : {}),
  };
}

function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

export function summary(report: SyncReport, lancedbUri: string, tableName: string, ms: number): string {
  const lines: string[] = [];
  lines.push(
    `Synced ${report.origins.join(', ')} into ${lancedbUri} (table ${tableName}) in ${(ms / 1000).toFixed(1)} s`,
  );
  const rows: string[][] = [
    ...(report.changes ?? []).map((c) => [
      c.source,
      c.change === 'refiled' ? 're-filed' : c.change,
      c.change === 'deleted' ? '' : String(c.chunks),
      c.collection === undefined
        ? ''
        : `collection ${c.collection.from ?? '(none)'} → ${c.collection.to ?? '(none)'}, not re-embedded`,
    ]),
    ...report.failed.map((f) => [f.source, 'failed', '', f.reason]),
    ...report.skipped.slice(0, SKIPPED_ROWS).map((f) => [f.source, 'skipped', '', f.reason]),
    ...(report.skippedCount > SKIPPED_ROWS
      ? [[`… and ${report.skippedCount - SKIPPED_ROWS} more`, 'skipped', '', '']]
      : []),
  ];
  if (rows.length > 0) {
    lines.push('', table([['document', 'change', 'chunks', ''], ...rows]).replace(/^/gm, '  '));
  } else if (report.emptyOrigins.length === 0) {
    lines.push('', '  Everything is up to date: nothing was embedded.');
  }
  lines.push(
    '',
    table([
      [
        'added',
        'updated',
        'unchanged',
        ...(report.refiled > 0 ? ['re-filed'] : []),
        'deleted',
        'failed',
        'skipped',
        'chunks in the table',
        'embedded now',
      ],
      [
        report.added,
        report.updated,
        report.unchanged,
        ...(report.refiled > 0 ? [report.refiled] : []),
        report.deleted,
        report.failedCount,
        report.skippedCount,
        report.chunks,
        report.embeddedChunks,
      ].map(String),
    ]).replace(/^/gm, '  '),
  );
  if (report.embedding !== undefined) lines.push('', `  ${embeddingLine(report.embedding)}`);
  if (report.skippedCount > 0) {
    const files = report.skippedCount === 1 ? '1 file' : `${report.skippedCount} files`;
    lines.push('', `  ${files} skipped (${report.skippedKinds}).`);
  }
  for (const { message } of report.emptyOrigins) lines.push('', `  ${capitalized(message)}.`);
  const stale = report.staleSources ?? [];
  if (stale.length > 0) {
    const shown = stale.slice(0, 5).join(', ') + (stale.length > 5 ? `, and ${stale.length - 5} more` : '');
    lines.push(
      '',
      `  ${stale.length} indexed document(s) no longer exist in these origins and were kept: ${shown}.`,
      '  Run again with --prune to remove them.',
    );
  }
  if (
    report.optimize !== undefined &&
    'indexes' in report.optimize &&
    report.optimize.indexes === 'deferred'
  ) {
    const rows = report.optimize.unindexedRows ?? 0;
    lines.push(
      '',
      `  ${rows.toLocaleString('en')} row(s) are not in the indexes yet: searches find them all the same, and a sync ` +
        'folds them in once they reach INGEST_INDEX_TAIL_ROWS.',
    );
  }
  if (report.optimize !== undefined && 'error' in report.optimize) {
    lines.push(
      '',
      `  The index could not be optimized (the documents are committed): ${report.optimize.error}`,
    );
  }
  return lines.join('\n');
}

/** "Embedded 1,200 chunks in 8 requests: 150 chunks/s, 45,000 tokens/s; 3 answers 429 waited out (2.1 s)." */
export function embeddingLine(e: EmbeddingThroughput): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const waited =
    e.rateLimited > 0 || e.waitedMs > 0
      ? `; rate limited: ${e.rateLimited} answer(s) 429, ${(e.waitedMs / 1000).toFixed(1)} s waited`
      : '';
  return (
    `Embedded ${n(e.chunks)} chunks in ${n(e.requests)} request(s) over ${(e.ms / 1000).toFixed(1)} s: ` +
    `${n(e.chunksPerSecond)} chunks/s, ${n(e.tokensPerSecond)} tokens/s (estimated)${waited}.`
  );
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function progressReporter(bar: ProgressBar): (event: IngestProgress) => void {
  let total = 0;
  let done = 0;
  let embedded = 0;
  return (event) => {
    if (event.type === 'planned') {
      if (event.plan.status !== 'planned') return;
      total = event.plan.changed;
      const refiling = event.plan.refiling > 0 ? `${event.plan.refiling} to re-file, ` : '';
      const label =
        total > 0
          ? 'embedding the changed documents'
          : refiling !== ''
            ? 'nothing to embed'
            : 'nothing changed';
      bar.update(`${event.plan.unchanged} unchanged, ${refiling}${label}`, 0, total, true);
    } else if (event.type === 'batch') {
      done += event.result.documents;
      embedded += event.result.embeddedChunks;
      bar.update(`documents · ${embedded} chunks embedded`, done, total);
    } else if (event.type === 'batch-failed') {
      if (event.document !== undefined) done += 1;
      const what = event.document !== undefined ? 'a document failed' : 'a batch failed';
      bar.update(`documents · ${what}, carrying on`, done, total, true);
    } else if (event.phase === 'started') {
      bar.update(event.step === 'Commit' ? 'writing the table' : 'refreshing the indexes', done, total, true);
    }
  };
}
