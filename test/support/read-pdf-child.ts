import { readFileSync } from 'node:fs';
import { pdfFormat } from '../../functions/core/ingest/formats/pdf';

/**
 * Reads one PDF with the product's reader in a process of its own and prints `{ result, ms, peakRssMb }` as JSON
 * (a read PDF's result is its sections' paths):
 * the peak resident memory of a fresh process is the reader's (plus Node's and pdf.js's own), where a Jest worker's
 * peak holds whatever the suites it ran before did. Run as `node --import tsx read-pdf-child.ts <file>` by
 * `test/unit/format-pdf.test.ts`.
 */
async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: read-pdf-child.ts <file.pdf>');
  const bytes = readFileSync(file);
  const started = performance.now();
  const result = await pdfFormat.read(bytes, { source: file, maxBytes: 50 * 1024 * 1024 });
  const ms = Math.round(performance.now() - started);
  // The peak once nothing is left to run: work pdf.js left going after the read returned (an image it decodes in
  // the background, say) would land on the next document in a Batch function, so it counts.
  process.once('beforeExit', () => {
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    const shown = result.ok ? { ok: true, paths: result.sections.map((s) => s.path) } : result;
    process.stdout.write(`${JSON.stringify({ result: shown, ms, peakRssMb })}\n`);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
