import { execFile, spawnSync } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { pdfFormat } from '../../functions/core/ingest/formats/pdf';
import {
  DEBIAN_DOCUMENTS,
  debianDocumentFile,
  missingDebianDocuments,
  readDebianDocument,
} from '../../test/support/debian-documents';
import { REPO_ROOT } from '../local/stack';
import { productionBundleOptions } from './bundle-settings';
import type { BenchContext } from './context';
import type { Figure, SectionResult } from './report';
import { median } from './stats';

const run = promisify(execFile);

/**
 * The PDF reader (functions/core/ingest/formats/pdf.ts) on real PDFs: pages per second on the Debian Policy Manual
 * (193 pages, an outline) and the FHS (an outline-less layout), in this process after a warm-up; and, from the
 * reader as the Batch function bundles it, in a fresh Node each: its load time, the first PDF's cost (pdf.js is
 * evaluated on the first PDF), and the peak resident memory reading a 300-page PDF (policy.pdf's 193 pages and its
 * first 107 again, joined by qpdf). Section `documentsPdf` of `npm run bench`.
 */
export async function benchDocumentsPdf(ctx: BenchContext): Promise<SectionResult> {
  const missing = missingDebianDocuments(['policyPdf', 'fhsPdf']);
  if (missing.length > 0) {
    return {
      key: 'documentsPdf',
      title: 'PDF documents',
      workload: 'none',
      baseline: 'none',
      figures: [],
      notes: [`skipped: ${missing.join(', ')} not installed (apt-get install -y debian-policy)`],
      details: {},
    };
  }
  const runs = ctx.quick ? 2 : 5;
  const rate = async (path: string) => {
    const bytes = readDebianDocument(path);
    const first = await pdfFormat.read(bytes, { source: path, maxBytes: Number.POSITIVE_INFINITY });
    if (!first.ok) throw new Error(`${path}: ${first.message}`);
    const pages = Math.max(...first.sections.flatMap((s) => (s.pages ?? []).map((p) => p.page)));
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await pdfFormat.read(bytes, { source: path, maxBytes: Number.POSITIVE_INFINITY });
      times.push(performance.now() - started);
    }
    const ms = median(times);
    return { pages, ms, pagesPerSecond: (pages / ms) * 1000, sections: first.sections.length };
  };
  ctx.log('documents-pdf: policy.pdf and fhs-3.0.pdf, pages per second');
  const policy = await rate(DEBIAN_DOCUMENTS.policyPdf);
  const fhs = await rate(DEBIAN_DOCUMENTS.fhsPdf);

  ctx.log('documents-pdf: the reader bundled as the Batch function bundles it');
  const dir = join(ctx.workDir, 'documents-pdf');
  await mkdir(dir, { recursive: true });
  await build(
    productionBundleOptions(
      { reader: resolve(REPO_ROOT, 'functions/core/ingest/formats/pdf.ts') },
      dir,
      false,
    ),
  );
  const bundle = join(dir, 'reader.js');
  const bundleKb = (await stat(bundle)).size / 1024;
  const policyFile = debianDocumentFile(DEBIAN_DOCUMENTS.policyPdf, dir);
  const notes: string[] = [];
  let pdf300: string | undefined = join(dir, 'policy-300-pages.pdf');
  const joined = spawnSync('qpdf', ['--empty', '--pages', policyFile, policyFile, '1-107', '--', pdf300]);
  if (joined.status !== 0) {
    notes.push('no 300-page PDF: qpdf is not installed (apt-get install -y qpdf); the peak is policy.pdf’s');
    pdf300 = undefined;
  }
  // Linux keeps getrusage's maxRSS across exec, so a child's would start at this process's size; /proc's VmHWM is
  // the child's own high-water mark.
  const peakExpression =
    "(() => { try { return Number(/VmHWM:\\s*(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024 } catch { return process.resourceUsage().maxRSS / 1024 } })()";
  const child = `
    const t0 = process.hrtime.bigint();
    const { pdfFormat } = require(process.argv[1]);
    const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const bytes = require('node:fs').readFileSync(process.argv[2]);
    const t1 = process.hrtime.bigint();
    pdfFormat.read(bytes, { source: 'x.pdf', maxBytes: Infinity }).then((r) => {
      const readMs = Number(process.hrtime.bigint() - t1) / 1e6;
      const pages = r.ok ? Math.max(...r.sections.flatMap((s) => s.pages.map((p) => p.page))) : 0;
      console.log(JSON.stringify({ ok: r.ok, pages, loadMs, readMs, peakRssMb: ${peakExpression} }));
    });`;
  // Not this process's NODE_OPTIONS: under tsx they load its loader into every child, 50 MB of the peak.
  const bareEnv = { PATH: process.env.PATH };
  const fresh = async (file: string) => {
    const { stdout } = await run(process.execPath, ['-e', child, bundle, file], { cwd: dir, env: bareEnv });
    return JSON.parse(stdout) as {
      ok: boolean;
      pages: number;
      loadMs: number;
      readMs: number;
      peakRssMb: number;
    };
  };
  // A one-page PDF: what the first PDF of a Batch run costs beyond reading it (pdf.js's evaluation).
  const tiny = join(dir, 'one-page.pdf');
  spawnSync('qpdf', ['--empty', '--pages', policyFile, '1', '--', tiny]);
  const first = joined.status === 0 ? await fresh(tiny) : undefined;
  const peak = await fresh(pdf300 ?? policyFile);
  // A fresh Node that loads nothing: the peak above includes Node's own resident memory.
  const idle = JSON.parse(
    (
      await run(process.execPath, ['-e', `console.log(JSON.stringify({ peakRssMb: ${peakExpression} }))`], {
        env: bareEnv,
      })
    ).stdout,
  ) as { peakRssMb: number };

  const figures: Figure[] = [
    {
      name: 'policy.pdf (193 pages, outline): pages per second',
      value: policy.pagesPerSecond,
      unit: 'per s',
    },
    { name: 'fhs-3.0.pdf (layout headings): pages per second', value: fhs.pagesPerSecond, unit: 'per s' },
    {
      name: `peak RSS reading a ${peak.pages}-page PDF (fresh Node, bundled reader)`,
      value: peak.peakRssMb,
      unit: 'MB',
      baseline: idle.peakRssMb,
      target: { max: 512, text: '< half the Batch function’s 1,024 MB' },
    },
    { name: 'the reader bundle: load time', value: peak.loadMs, unit: 'ms' },
  ];
  if (first !== undefined) {
    figures.push({ name: 'first PDF (one page) read, pdf.js evaluated', value: first.readMs, unit: 'ms' });
  }
  return {
    key: 'documentsPdf',
    title: 'PDF documents',
    workload: `policy.pdf ${policy.pages} pages, fhs-3.0.pdf ${fhs.pages} pages, median of ${runs} reads each; a ${peak.pages}-page PDF in a fresh Node`,
    baseline: 'peak RSS: a fresh Node that loads nothing',
    figures,
    notes,
    details: { policy, fhs, peak, first, idle, bundleKb },
  };
}
