import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import MarkdownIt from 'markdown-it';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { splitDocument } from '../../functions/core/ingest/split-document';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import { REPO_ROOT } from '../local/stack';
import { seededRandom } from './stats';

/**
 * A corpus of real documentation text at any size, for the retrieval benches: the prose shipped on this machine
 * (the Markdown of the project's node_modules, the READMEs and text files under /usr/share/doc, and a sample of man
 * pages rendered by `man`), cut into sections of real headings and paragraphs. Written out as Markdown documents:
 * first each source as it is, then, once every source has been used, variants of them whose paragraphs are real
 * sentences of the same source recombined (a seeded draw), so that the vocabulary stays the real one (its
 * dictionary grows with the size as a real organisation's does, through the mix of sources, not through invented
 * words) and no two chunks are copies. Deterministic for a given machine: the documents for n chunks are the first
 * documents for any larger n.
 */

const run = promisify(execFile);

export interface SourceSection {
  heading: string;
  paragraphs: string[];
}

export interface TextSource {
  /** Where it came from (a path on this machine), for the report. */
  origin: string;
  title: string;
  sections: SourceSection[];
}

/** Paragraphs shorter than this many words are headings in disguise, badges or one-line list items. */
const MIN_WORDS = 8;
/** Paragraphs mostly of something else than letters and spaces are code, tables or ASCII art. */
const MIN_LETTER_SHARE = 0.7;

function isProse(text: string): boolean {
  const words = text.split(/\s+/).filter(Boolean).length;
  if (words < MIN_WORDS) return false;
  const letters = text.match(/[\p{L}\s]/gu)?.length ?? 0;
  return letters / text.length >= MIN_LETTER_SHARE;
}

const markdown = new MarkdownIt({ html: false });

/**
 * A Markdown file's sections of prose, from markdown-it's tokens (a CommonMark parser, not regexes over the text):
 * each heading starts a section; paragraphs (top level, in lists or quotes) are its prose; code, tables and HTML
 * are left out.
 */
export function markdownSections(text: string): { title?: string; sections: SourceSection[] } {
  const tokens = markdown.parse(text, {});
  const sections: SourceSection[] = [];
  let current: SourceSection = { heading: '', paragraphs: [] };
  let title: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const inline = tokens[i + 1];
    if (token === undefined || inline?.type !== 'inline') continue;
    const plain = (inline.children ?? [])
      .filter((c) => c.type === 'text' || c.type === 'code_inline' || c.type === 'softbreak')
      .map((c) => (c.type === 'softbreak' ? ' ' : c.content))
      .join('')
      .replace(/\s+/g, ' ')
      .trim();
    if (token.type === 'heading_open') {
      if (current.paragraphs.length > 0) sections.push(current);
      if (title === undefined && plain !== '') title = plain;
      current = { heading: plain, paragraphs: [] };
    } else if (token.type === 'paragraph_open' && isProse(plain)) {
      current.paragraphs.push(plain);
    }
  }
  if (current.paragraphs.length > 0) sections.push(current);
  return { ...(title === undefined ? {} : { title }), sections };
}

/**
 * Plain text (a README, a man page as `man` renders it): paragraphs are separated by blank lines; a line alone in
 * capitals (a man page's NAME, DESCRIPTION) or underlined with `===`/`---` is a heading.
 */
export function plainTextSections(text: string): SourceSection[] {
  const sections: SourceSection[] = [];
  let current: SourceSection = { heading: '', paragraphs: [] };
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const first = lines[0]?.trim() ?? '';
    const underlined = lines.length === 2 && /^[=-]{3,}$/.test(lines[1]?.trim() ?? '');
    const capitals = lines.length === 1 && /^[A-Z][A-Z0-9 /-]{2,40}$/.test(first);
    if (underlined || capitals) {
      if (current.paragraphs.length > 0) sections.push(current);
      current = {
        heading: capitals ? first.charAt(0) + first.slice(1).toLowerCase() : first,
        paragraphs: [],
      };
      continue;
    }
    const paragraph = lines
      .map((l) => l.trim())
      .join(' ')
      .replace(/\s+/g, ' ');
    if (isProse(paragraph)) current.paragraphs.push(paragraph);
  }
  if (current.paragraphs.length > 0) sections.push(current);
  return sections;
}

async function walk(dir: string, keep: (path: string) => boolean, into: string[] = []): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, keep, into);
    else if (entry.isFile() && keep(path)) into.push(path);
  }
  return into;
}

const withoutGz = (path: string) => path.replace(/\.gz$/, '');

async function readText(path: string): Promise<string> {
  const bytes = await readFile(path);
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** Man pages rendered by `man` itself (no hyphenation, no justification), `count` of them spread over sections 1–8. */
async function manPages(count: number): Promise<TextSource[]> {
  if (count === 0) return [];
  const pages = await walk('/usr/share/man', (p) => /\/man[1-8]\/[^/]+\.gz$/.test(p));
  const step = Math.max(1, Math.floor(pages.length / count));
  const chosen = pages.filter((_, i) => i % step === 0).slice(0, count);
  const sources: TextSource[] = [];
  // Two at a time: `man` is a pipeline of processes, and the machine has two cores.
  for (let i = 0; i < chosen.length; i += 2) {
    const rendered = await Promise.all(
      chosen.slice(i, i + 2).map((page) =>
        run('man', ['--nh', '--nj', '-E', 'UTF-8', '-P', 'cat', '-l', page], {
          env: { PATH: process.env.PATH, MANWIDTH: '100', LANG: 'C.UTF-8' },
          maxBuffer: 1 << 24,
        })
          .then(({ stdout }) => ({ page, stdout }))
          .catch(() => undefined),
      ),
    );
    for (const r of rendered) {
      if (r === undefined) continue;
      const sections = plainTextSections(r.stdout);
      const name = basename(withoutGz(r.page)).replace(/\.[0-9a-z]+$/, '');
      if (sections.length > 0) sources.push({ origin: r.page, title: `${name} manual`, sections });
    }
  }
  return sources;
}

export interface SourceOptions {
  /** Man pages to render (each takes `man` a few hundred ms). */
  manPages: number;
  /** Where node_modules is. @default the project's */
  nodeModules?: string;
}

/** Every source of real prose on this machine, in a fixed order. */
export async function collectSources(options: SourceOptions): Promise<TextSource[]> {
  const sources: TextSource[] = [];
  const nodeModules = options.nodeModules ?? join(REPO_ROOT, 'node_modules');
  for (const path of await walk(nodeModules, (p) => /\.(md|markdown)$/i.test(p))) {
    const { title, sections } = markdownSections(await readText(path));
    const name = relative(nodeModules, path);
    if (sections.length > 0) sources.push({ origin: path, title: title ?? name, sections });
  }
  const docs = await walk('/usr/share/doc', (p) => {
    const name = basename(withoutGz(p)).toLowerCase();
    return /\.(md|markdown)$/.test(name) || /^readme/.test(name) || /\.txt$/.test(name);
  });
  for (const path of docs) {
    const text = await readText(path).catch(() => '');
    const isMarkdown = /\.(md|markdown)$/i.test(withoutGz(path));
    const parsed = isMarkdown ? markdownSections(text) : { sections: plainTextSections(text) };
    const pkg = relative('/usr/share/doc', path).split('/')[0] ?? path;
    if (parsed.sections.length > 0) {
      sources.push({
        origin: path,
        title: parsed.title ?? `${pkg} ${basename(withoutGz(path))}`,
        sections: parsed.sections,
      });
    }
  }
  sources.push(...(await manPages(options.manPages)));
  return sources;
}

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

function sentencesOf(source: TextSource): string[] {
  const out: string[] = [];
  for (const section of source.sections) {
    for (const paragraph of section.paragraphs) {
      for (const { segment } of sentenceSegmenter.segment(paragraph)) {
        const s = segment.trim();
        if (s.split(' ').length >= 4) out.push(s);
      }
    }
  }
  return out;
}

/** One generated document: its file name, its Markdown, and the chunks the product's splitter makes of it. */
export interface CorpusDocument {
  name: string;
  markdown: string;
  chunks: number;
  /** The headings and sentences a person's question may be drawn from. */
  headings: string[];
  title: string;
}

/** The collections documents belong to, in turn (front matter), so the table has the collection index it has in use. */
export const REAL_COLLECTIONS = ['team-a', 'team-b', 'team-c', 'team-d'];

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const pick = <T>(items: readonly T[], random: () => number): T =>
  items[Math.floor(random() * items.length)] as T;

/**
 * A page of at most this many characters of prose (about 35 chunks): a few sources are whole changelogs or manuals
 * of a megabyte, which would make one document a large part of a small table and overshoot its size.
 */
const MAX_DOCUMENT_CHARS = 30_000;

function capped(sections: readonly SourceSection[]): SourceSection[] {
  const out: SourceSection[] = [];
  let chars = 0;
  for (const section of sections) {
    const paragraphs: string[] = [];
    for (const paragraph of section.paragraphs) {
      if (chars + paragraph.length > MAX_DOCUMENT_CHARS) break;
      paragraphs.push(paragraph);
      chars += paragraph.length;
    }
    if (paragraphs.length > 0) out.push({ heading: section.heading, paragraphs });
    if (paragraphs.length < section.paragraphs.length) break;
  }
  return out;
}

/** YAML's plain scalars break on `: ` and a leading indicator; a double-quoted string holds anything. */
const yamlString = (text: string) => JSON.stringify(text.slice(0, 150));

/**
 * The documents of a corpus, generated one after another from `sources` (a seeded order): round 0 is every source
 * as written; each later round makes, of each source, a variant under its own headings whose paragraphs are 2–6 of
 * the source's sentences drawn at random (one in five from another source, as pages quote one another).
 */
export async function* corpusDocuments(
  sources: readonly TextSource[],
  split: (markdown: string, name: string) => Promise<number>,
  seed = 23,
): AsyncGenerator<CorpusDocument> {
  const order = shuffled(sources, seededRandom(seed));
  const sentences = order.map(sentencesOf);
  const usable = order.map((_, i) => i).filter((i) => (sentences[i]?.length ?? 0) >= 3);
  for (let round = 0; ; round++) {
    for (const i of usable) {
      const source = order[i] as TextSource;
      const random = seededRandom(seed * 1_000_003 + round * 100_003 + i);
      const index = round * usable.length + usable.indexOf(i);
      const name = `doc-${String(index).padStart(7, '0')}.md`;
      let sections: SourceSection[];
      let title = source.title;
      if (round === 0) sections = capped(source.sections);
      else {
        const own = sentences[i] as string[];
        const headings = source.sections.map((s) => s.heading).filter((h) => h !== '');
        const count = Math.min(Math.max(2, headings.length), 2 + Math.floor(random() * 4));
        sections = Array.from({ length: count }, () => ({
          heading: headings.length > 0 ? pick(headings, random) : source.title,
          paragraphs: Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
            Array.from({ length: 2 + Math.floor(random() * 5) }, () =>
              random() < 0.2 ? pick(sentences[pick(usable, random)] as string[], random) : pick(own, random),
            ).join(' '),
          ),
        }));
        title = `${source.title} (${pick(headings.length > 0 ? headings : [source.title], random)})`;
      }
      const body = sections
        .map((s) => `${s.heading === '' ? '' : `## ${s.heading}\n\n`}${s.paragraphs.join('\n\n')}`)
        .join('\n\n');
      const collection = REAL_COLLECTIONS[index % REAL_COLLECTIONS.length] as string;
      const text = `---\ntitle: ${yamlString(title)}\ncollection: ${collection}\n---\n\n# ${title}\n\n${body}\n`;
      yield {
        name,
        markdown: text,
        chunks: await split(text, name),
        title,
        headings: sections.map((s) => s.heading).filter((h) => h !== ''),
      };
    }
  }
}

/** The product's own load and split, as Batch runs them, counting the chunks a document makes. */
export async function chunkCounter(chunkSize: number, chunkOverlap: number) {
  return async (text: string, name: string): Promise<number> => {
    const loaded = await loadDocument(Buffer.from(text), name);
    if (!loaded.ok) return 0;
    return (await splitDocument(loaded.document, { chunkSize, chunkOverlap })).length;
  };
}

/** Distinct words of a text (letters and digits, lower-cased): the size of a full-text index's term dictionary. */
export function distinctTerms(texts: Iterable<string>): number {
  const terms = new Set<string>();
  for (const text of texts) for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) terms.add(m[0]);
  return terms.size;
}

const STOP = new Set(
  'a an the and or of to in on for with by is are be was were it its this that these those as at from can you your we our not no if then than when which what how do does into use used using will may also more most any all each only one two other such there their they them has have had but so about over under via'.split(
    ' ',
  ),
);

/**
 * Questions as a person writes them, from the documents' headings and sentences: a heading turned into a question
 * ("How do I configure the proxy?"), or a sentence's content words asked about ("How does … work?"), lower-cased and
 * reworded so that they are not the document's own text.
 */
export function personQuestions(documents: readonly CorpusDocument[], count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const out = new Set<string>();
  const headingForms = [
    (h: string) => `How does ${h} work?`,
    (h: string) => `what does the documentation say about ${h}`,
    (h: string) => `Where can I read about ${h}?`,
    (h: string) => `can someone explain ${h} to me`,
  ];
  const wordForms = [
    (w: string) => `How does ${w} work?`,
    (w: string) => `is it possible to ${w}?`,
    (w: string) => `why would ${w} fail`,
    (w: string) => `what is the right way to ${w}`,
  ];
  for (let attempts = 0; out.size < count && attempts < count * 50; attempts++) {
    const doc = pick(documents, random);
    const heading = doc.headings.length > 0 ? pick(doc.headings, random) : '';
    if (random() < 0.5 && heading.split(' ').length >= 2 && heading.length < 80) {
      out.add(pick(headingForms, random)(heading.toLowerCase()));
      continue;
    }
    const sentences = [...sentenceSegmenter.segment(doc.markdown.split('\n---\n')[1] ?? '')]
      .map((s) => s.segment.trim())
      .filter((s) => !s.startsWith('#') && s.split(' ').length >= 6);
    if (sentences.length === 0) continue;
    const words = pick(sentences, random)
      .toLowerCase()
      .match(/[\p{L}][\p{L}\p{N}-]*/gu)
      ?.filter((w) => !STOP.has(w) && w.length > 2);
    if (words === undefined || words.length < 3) continue;
    const start = Math.floor(random() * Math.max(1, words.length - 4));
    out.add(pick(wordForms, random)(words.slice(start, start + 3 + Math.floor(random() * 2)).join(' ')));
  }
  return [...out];
}

/** Writes documents from `documents` into `dir` until they make at least `chunks` chunks; returns those written. */
export async function writeUntil(
  dir: string,
  documents: AsyncIterator<CorpusDocument>,
  chunks: number,
  already: { chunks: number; written: CorpusDocument[] },
): Promise<void> {
  while (already.chunks < chunks) {
    const next = await documents.next();
    if (next.done) throw new Error('the corpus generator ran out');
    if (next.value.chunks === 0) continue;
    await writeFile(join(dir, next.value.name), next.value.markdown);
    already.chunks += next.value.chunks;
    already.written.push(next.value);
  }
}

/**
 * A probe's rows for one version of a document, without the product's splitter (the probes measure the table, not
 * the split): 1,000-character slices every 900 characters, all in collection `team-a`, embedded by `embeddings`.
 */
export async function probeRows(
  embeddings: { embedDocuments(texts: string[]): Promise<number[][]> },
  doc: { name: string; markdown: string },
  version: number,
): Promise<DocumentRow[]> {
  const texts: string[] = [];
  for (let i = 0; i < doc.markdown.length; i += 900) texts.push(doc.markdown.slice(i, i + 1000));
  const vectors = await embeddings.embedDocuments(texts);
  return texts.map((text, i) => ({
    id: `${doc.name}#${i}#${version}`,
    vector: vectors[i] as number[],
    text,
    source: doc.name,
    title: doc.name,
    heading: '',
    collection: 'team-a',
    contentHash: `h${version}`,
    updatedAt: 0,
  }));
}
