import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchAccess } from './bench/access';
import { benchAck } from './bench/ack';
import { benchColdStart } from './bench/cold-start';
import type { BenchContext } from './bench/context';
import { benchCost } from './bench/cost';
import { benchDocumentsPdf } from './bench/documents-pdf';
import { benchDocumentsWeb } from './bench/documents-web';
import { benchEndToEnd } from './bench/end-to-end';
import { benchIngest } from './bench/ingest';
import { benchMarkdown } from './bench/markdown';
import { benchMemory } from './bench/memory';
import {
  describeMachine,
  renderSection,
  type SectionKey,
  type SectionReport,
  type SectionResult,
  toReport,
} from './bench/report';
import { benchRetrieval } from './bench/retrieval';
import { benchRetrievalReal } from './bench/retrieval-real';
import { benchRetrievalS3 } from './bench/retrieval-s3';
import { benchScale } from './bench/scale';
import { benchSlackLoad } from './bench/slack-load';
import { benchStreaming } from './bench/streaming';
import { benchWorkflow } from './bench/workflow';
import { defineCommand, EXIT, type ParsedCommand, runCommand } from './local/cli';
import { withoutMetricLines } from './local/cli-env';

/**
 * `npm run bench -- [--json] [--quick] [--only ack,retrieval]`: measures the speed, size and cost of every path a
 * user waits on, each beside a simple baseline measured in the same run, and prints one table per section (or,
 * with `--json`, one JSON object with a key per section). Progress goes to stderr.
 */
const SECTIONS: {
  key: SectionKey;
  run(ctx: BenchContext): Promise<SectionResult>;
  /** Run only when named in `--only` (a section that takes an hour). */
  onlyWhenNamed?: boolean;
}[] = [
  { key: 'ack', run: benchAck },
  { key: 'coldStart', run: benchColdStart },
  { key: 'workflow', run: benchWorkflow },
  { key: 'endToEnd', run: benchEndToEnd },
  { key: 'retrieval', run: benchRetrieval },
  { key: 'retrievalS3', run: benchRetrievalS3 },
  { key: 'ingest', run: benchIngest },
  { key: 'markdown', run: benchMarkdown },
  { key: 'documentsPdf', run: benchDocumentsPdf },
  { key: 'documentsWeb', run: benchDocumentsWeb },
  { key: 'streaming', run: benchStreaming },
  { key: 'memory', run: benchMemory },
  { key: 'cost', run: benchCost },
  { key: 'slackLoad', run: benchSlackLoad },
  { key: 'access', run: benchAccess },
  { key: 'retrievalReal', run: benchRetrievalReal },
  { key: 'scale', run: benchScale, onlyWhenNamed: true },
];

const BENCH = defineCommand({
  name: 'bench',
  synopsis: '[--json] [--quick] [--only SECTION,...]',
  summary:
    'Measures the speed, size and cost of every path a user waits on, each beside a simple baseline measured in the\n' +
    'same run, and prints one table per section (progress on stderr). Offline; a full run takes about 40 minutes (retrievalReal, over real text, about 30 of them).\n' +
    'The scale section (1,000,000 chunks; 200,000 with --quick) runs only when named: --only scale.',
  options: {
    quick: {
      type: 'boolean',
      default: false,
      description: 'smaller sizes and fewer rounds (about 6 minutes, 4 of them retrievalReal)',
    },
    only: {
      type: 'string',
      valueName: 'SECTION,...',
      description: `run only these sections: ${SECTIONS.map((s) => s.key).join(', ')}`,
      validate: (value: string) => {
        const unknown = value
          .split(',')
          .map((s) => s.trim())
          .filter((key) => !SECTIONS.some((s) => s.key === key));
        return unknown.length === 0
          ? undefined
          : `unknown section(s): ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.key).join(', ')}`;
      },
    },
    json: { type: 'boolean', default: false, description: 'print one JSON object with a key per section' },
  },
  examples: ['npm run bench -- --quick', 'npm run bench -- --only markdown,ack'],
  exitCodes: {
    0: 'measured (targets missed are reported, not failed)',
    1: 'a section failed',
    2: 'usage error',
  },
});

async function main({ values }: ParsedCommand<typeof BENCH.options>): Promise<number> {
  const only = values.only?.split(',').map((s) => s.trim());
  const workDir = await mkdtemp(join(tmpdir(), 'slack-rag-bench-'));
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(0);
  const ctx: BenchContext = {
    quick: values.quick,
    workDir,
    log: (message) => process.stderr.write(`[bench ${elapsed()} s] ${message}\n`),
    reports: {},
    shared: new Map(),
  };
  const machine = describeMachine();
  const loadAtStart = loadavg()[0] ?? 0;
  ctx.log(`${values.quick ? 'quick' : 'full'} run on ${machine}, load average ${loadAtStart.toFixed(1)}`);
  if (!values.json) {
    console.log(
      `## npm run bench${values.quick ? ' -- --quick' : ''}\n\n${machine}; ${new Date().toISOString().slice(0, 10)}`,
    );
  }
  try {
    for (const section of SECTIONS) {
      if (only === undefined ? section.onlyWhenNamed : !only.includes(section.key)) continue;
      const sectionStarted = performance.now();
      ctx.log(`${section.key}: starting`);
      const report = toReport(await section.run(ctx), (performance.now() - sectionStarted) / 1000);
      ctx.reports[section.key] = report;
      ctx.log(`${section.key}: done in ${report.seconds} s`);
      if (!values.json) console.log(`\n${renderSection(report, SECTIONS.indexOf(section) + 1)}`);
    }
  } finally {
    // A section that failed may leave a writer (LanceDB's threads, a step of the local executor) still writing in the
    // scratch directory; failing to remove it must not replace the section's own error.
    await rm(workDir, { recursive: true, force: true, maxRetries: 5 }).catch((error: unknown) =>
      ctx.log(`could not remove ${workDir}: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    const out: Partial<Record<SectionKey, SectionReport>> = {};
    for (const { key } of SECTIONS) if (ctx.reports[key]) out[key] = ctx.reports[key];
    console.log(JSON.stringify(out, null, 2));
  } else {
    const missed = Object.values(ctx.reports)
      .map((r) => ({ key: r.key, names: r.figures.filter((f) => f.met === false).map((f) => f.name) }))
      .filter((r) => r.names.length > 0)
      .map(
        (r) =>
          `${r.key} (${r.names.length}: ${r.names.slice(0, 3).join('; ')}${r.names.length > 3 ? '; …' : ''})`,
      );
    console.log(
      `\n${values.quick ? 'Quick' : 'Full'} run: ${seconds.toFixed(0)} s, load average ${loadAtStart.toFixed(1)} at the start and ${(loadavg()[0] ?? 0).toFixed(1)} at the end. ` +
        (missed.length === 0 ? 'Every target met.' : `Targets missed in ${missed.join(', ')}.`),
    );
  }
  ctx.log(`finished in ${seconds.toFixed(0)} s`);
  // Clients with keep-alive sockets or native handles (LanceDB) could hold the process open.
  process.exit(EXIT.ok);
}

// The steps the bench runs emit metrics (EMF on stdout); the bench reports its own figures.
withoutMetricLines();
runCommand(BENCH, (parsed) =>
  main(parsed).catch((error: unknown) => {
    // A failed measurement is a bug to find: its stack, not only its message.
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(EXIT.failed);
  }),
);
