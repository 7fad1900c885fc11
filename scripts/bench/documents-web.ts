import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DocumentFormat } from '../../functions/core/ingest/formats/document-format';
import { docxFormat } from '../../functions/core/ingest/formats/docx';
import { htmlFormat } from '../../functions/core/ingest/formats/html';
import { loadDocument } from '../../functions/core/ingest/load-document';
import {
  DEBIAN_DOCUMENTS,
  DEBIAN_INSTALL_HINT,
  missingDebianDocuments,
} from '../../test/support/debian-documents';
import type { BenchContext } from './context';
import type { SectionResult } from './report';
import { median } from './stats';

interface Corpus {
  name: string;
  files: { name: string; bytes: Buffer }[];
}

/** Median wall time of `runs` passes over a corpus, after one unmeasured pass that warms the JIT. */
async function medianPassMs(pass: () => Promise<void>, runs: number): Promise<number> {
  await pass();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await pass();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function readAll(format: DocumentFormat, corpus: Corpus): Promise<number> {
  let sections = 0;
  for (const file of corpus.files) {
    const result = await format.read(file.bytes, { source: file.name, maxBytes: Number.POSITIVE_INFINITY });
    if (!result.ok) throw new Error(`${file.name}: ${result.message}`);
    sections += result.sections.length;
  }
  return sections;
}

/** The HTML reader's output of each chapter written back as one Markdown document: the same text, as Markdown. */
async function asMarkdown(corpus: Corpus): Promise<Corpus> {
  const files: Corpus['files'] = [];
  for (const file of corpus.files) {
    const result = await htmlFormat.read(file.bytes, {
      source: file.name,
      maxBytes: Number.POSITIVE_INFINITY,
    });
    if (!result.ok) continue;
    const markdown = result.sections
      .map(
        (section) =>
          `${'#'.repeat(Math.max(1, section.path.length))} ${section.path.at(-1) ?? ''}\n\n${section.text}`,
      )
      .join('\n\n');
    files.push({ name: file.name.replace(/\.html$/, '.md'), bytes: Buffer.from(markdown) });
  }
  return { name: `${corpus.name} as Markdown`, files };
}

const totalBytes = (corpus: Corpus) => corpus.files.reduce((sum, file) => sum + file.bytes.length, 0);

/**
 * Section: documents per second through the HTML and Word readers (bytes to sections, as the Batch function reads
 * them), on real documents: the Debian Reference's 15 HTML pages in English and in Japanese, and the English ones
 * made into Word files by pandoc (once, into the run's scratch folder). The baseline is the Markdown path
 * (loadDocument and its sections) on the same text written as Markdown.
 */
export async function benchDocumentsWeb(ctx: BenchContext): Promise<SectionResult> {
  const missing = missingDebianDocuments(['referenceDir', 'pandoc']);
  if (missing.length > 0) throw new Error(`${missing.join(', ')} not installed: ${DEBIAN_INSTALL_HINT}`);
  const runs = ctx.quick ? 2 : 5;
  const chapters = (language: string): Corpus => {
    const names = readdirSync(DEBIAN_DOCUMENTS.referenceDir).filter((name) =>
      name.endsWith(`.${language}.html`),
    );
    return {
      name: `Debian Reference (${language})`,
      files: names.map((name) => ({ name, bytes: readFileSync(join(DEBIAN_DOCUMENTS.referenceDir, name)) })),
    };
  };
  const english = chapters('en');
  const japanese = chapters('ja');
  const docxDir = join(ctx.workDir, 'documents-web-docx');
  mkdirSync(docxDir, { recursive: true });
  ctx.log(`documents-web: pandoc makes ${english.files.length} Word files`);
  const word: Corpus = {
    name: 'Debian Reference (en) as Word',
    files: english.files.map((file) => {
      const target = join(docxDir, file.name.replace(/\.html$/, '.docx'));
      if (!existsSync(target)) {
        execFileSync(DEBIAN_DOCUMENTS.pandoc, [
          '--quiet',
          join(DEBIAN_DOCUMENTS.referenceDir, file.name),
          '-o',
          target,
        ]);
      }
      return { name: file.name.replace(/\.html$/, '.docx'), bytes: readFileSync(target) };
    }),
  };
  const markdown = await asMarkdown(english);

  const measured: Record<string, { documents: number; bytes: number; sections: number; ms: number }> = {};
  for (const [key, format, corpus] of [
    ['html-en', htmlFormat, english],
    ['html-ja', htmlFormat, japanese],
    ['docx-en', docxFormat, word],
  ] as const) {
    ctx.log(`documents-web: ${corpus.name}, ${corpus.files.length} documents, ${runs} passes`);
    let sections = 0;
    const ms = await medianPassMs(async () => {
      sections = await readAll(format, corpus);
    }, runs);
    measured[key] = { documents: corpus.files.length, bytes: totalBytes(corpus), sections, ms };
  }
  let markdownSectionCount = 0;
  const markdownMs = await medianPassMs(async () => {
    markdownSectionCount = 0;
    for (const file of markdown.files) {
      const loaded = await loadDocument(file.bytes, file.name, { maxBytes: Number.POSITIVE_INFINITY });
      if (loaded.ok) markdownSectionCount += loaded.document.sections.length;
    }
  }, runs);
  measured.markdown = {
    documents: markdown.files.length,
    bytes: totalBytes(markdown),
    sections: markdownSectionCount,
    ms: markdownMs,
  };

  const perSecond = (key: string) => {
    const entry = measured[key];
    return entry ? entry.documents / (entry.ms / 1000) : Number.NaN;
  };
  return {
    key: 'documentsWeb',
    title: 'HTML and Word documents: documents per second',
    workload: `the Debian Reference's ${english.files.length} HTML pages in English (${(totalBytes(english) / 1e6).toFixed(1)} MB) and ${japanese.files.length} in Japanese (${(totalBytes(japanese) / 1e6).toFixed(1)} MB) through htmlFormat.read, and the English ones made into Word files by pandoc (${(totalBytes(word) / 1e6).toFixed(1)} MB) through docxFormat.read; bytes to sections; median of ${runs} passes after a warm-up`,
    baseline:
      'Markdown: the English pages as the HTML reader writes them, one Markdown document each, through loadDocument (sections included)',
    figures: [
      { name: 'HTML, English', value: perSecond('html-en'), unit: 'per s', baseline: perSecond('markdown') },
      { name: 'HTML, Japanese', value: perSecond('html-ja'), unit: 'per s', baseline: perSecond('markdown') },
      {
        name: 'Word (pandoc-made)',
        value: perSecond('docx-en'),
        unit: 'per s',
        baseline: perSecond('markdown'),
      },
    ],
    notes: [
      'A Debian Reference page is a long chapter (up to 600 KB of HTML): ordinary web pages and Word files are smaller and faster.',
    ],
    details: measured,
  };
}
