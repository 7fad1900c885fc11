import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DocumentFormat } from '../../functions/core/ingest/formats/document-format';
import { docxFormat } from '../../functions/core/ingest/formats/docx';
import { htmlFormat } from '../../functions/core/ingest/formats/html';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import {
  DEBIAN_DOCUMENTS,
  DEBIAN_INSTALL_HINT,
  missingDebianDocuments,
} from '../../test/support/debian-documents';
import { startDocSite } from '../../test/support/doc-site';
import { startLocalIngest } from '../local/ingest-local';
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
 * The Debian Reference's English pages served as a site on loopback (ETag and Last-Modified, a sitemap), synced as a
 * web origin through the ingest state machine (dynalite, LanceDB on disk, the fake OpenAI's embeddings) at the
 * default pace, twice: the second sync is the unchanged re-sync a schedule runs, conditional requests only.
 */
async function webResync(ctx: BenchContext, corpus: Corpus) {
  const routes = Object.fromEntries(
    corpus.files.map((file) => [
      `/reference/${file.name}`,
      { kind: 'page' as const, body: file.bytes.toString('utf8'), contentType: 'text/html; charset=utf-8' },
    ]),
  );
  const site = await startDocSite({
    routes,
    robots: 'User-agent: *\nAllow: /\n',
    sitemap: Object.keys(routes),
  });
  const openai = await startFakeOpenAI();
  const embeddingCalls = () => openai.requests.filter((r) => r.path === '/v1/embeddings').length;
  const ingest = await startLocalIngest({
    lancedbUri: join(ctx.workDir, 'web-lancedb'),
    stagingUri: join(ctx.workDir, 'web-staging'),
    baseDir: ctx.workDir,
    store: 'dynalite',
    env: {
      LLM_PROVIDER: 'openai',
      OPENAI_API_KEY: 'sk-bench-not-a-key',
      OPENAI_BASE_URL: openai.url,
      OPENAI_EMBEDDING_MODEL: 'text-embedding-3-small',
    },
  });
  try {
    const sync = async (label: string) => {
      ctx.log(`documents-web: web origin, ${label}`);
      const requestsBefore = site.requests.length;
      const callsBefore = embeddingCalls();
      const started = performance.now();
      const result = await ingest.sync({ origins: [`${site.origin}/reference/`], prune: true });
      const ms = performance.now() - started;
      if (result.status !== 'committed' || result.report === undefined)
        throw new Error(`the web ${label} did not commit: ${result.error ?? result.status}`);
      const requests = site.requests.slice(requestsBefore);
      return {
        ms,
        pages: result.report.added + result.report.updated + result.report.unchanged,
        added: result.report.added,
        unchanged: result.report.unchanged,
        embeddingCalls: embeddingCalls() - callsBefore,
        requests: requests.length,
        notModified: requests.filter((r) => r.status === 304).length,
        bodyBytes: requests.reduce((sum, r) => sum + r.bodyBytes, 0),
      };
    };
    const first = await sync('first sync');
    const unchanged = await sync('re-sync, nothing changed');
    return { first, unchanged };
  } finally {
    await ingest.close();
    await openai.close();
    await site.close();
  }
}

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

  const web = await webResync(ctx, english);

  const perSecond = (key: string) => {
    const entry = measured[key];
    return entry ? entry.documents / (entry.ms / 1000) : Number.NaN;
  };
  return {
    key: 'documentsWeb',
    title: 'HTML and Word documents: documents per second, and a web origin re-synced',
    workload: `the Debian Reference's ${english.files.length} HTML pages in English (${(totalBytes(english) / 1e6).toFixed(1)} MB) and ${japanese.files.length} in Japanese (${(totalBytes(japanese) / 1e6).toFixed(1)} MB) through htmlFormat.read, and the English ones made into Word files by pandoc (${(totalBytes(word) / 1e6).toFixed(1)} MB) through docxFormat.read; bytes to sections; median of ${runs} passes after a warm-up`,
    baseline:
      'Markdown: the English pages as the HTML reader writes them, one Markdown document each, through loadDocument (sections included)',
    figures: [
      { name: 'HTML, English', value: perSecond('html-en'), unit: 'per s', baseline: perSecond('markdown') },
      { name: 'HTML, Japanese', value: perSecond('html-ja'), unit: 'per s', baseline: perSecond('markdown') },
      { name: 'Web origin, unchanged re-sync', value: web.unchanged.ms, unit: 'ms' },
      {
        name: 'Web origin, unchanged re-sync: embedding calls',
        value: web.unchanged.embeddingCalls,
        unit: 'count',
        target: { max: 0 },
      },
      {
        name: 'Word (pandoc-made)',
        value: perSecond('docx-en'),
        unit: 'per s',
        baseline: perSecond('markdown'),
      },
    ],
    notes: [
      'A Debian Reference page is a long chapter (up to 600 KB of HTML): ordinary web pages and Word files are smaller and faster.',
      `Web origin: the ${web.first.pages} English pages served on loopback with ETags and a sitemap, synced at the default pace (INGEST_WEB_REQUESTS_PER_SECOND 5): the first sync took ${(web.first.ms / 1000).toFixed(1)} s, ${web.first.requests} requests (${(web.first.bodyBytes / 1e6).toFixed(1)} MB of bodies) and ${web.first.embeddingCalls} embedding calls; the unchanged re-sync made ${web.unchanged.requests} requests, ${web.unchanged.notModified} of them answered 304 (${(web.unchanged.bodyBytes / 1e3).toFixed(1)} KB of bodies: robots.txt and the sitemap), and ${web.unchanged.embeddingCalls} embedding calls.`,
    ],
    details: { ...measured, web },
  };
}
