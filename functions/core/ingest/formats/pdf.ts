import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import type { DocumentFormat, DocumentSection, FormatResult, PageMark } from './document-format';

/**
 * PDF through Mozilla's pdf.js, in the serverless build `unpdf` ships (no worker, no canvas; ES module only,
 * loaded on the first PDF so that a Batch run without PDFs does not pay for it). The text layer is read page by
 * page; headings come from the outline (bookmarks), each item resolved to its page and the line its destination
 * points at; else from the tagged structure (the H1–H6 and H elements a tagged PDF wraps its headings in: what
 * Chromium, Word and LibreOffice write when they export); else from layout: lines in a larger font than the
 * body's, and short lines wholly in a bold font. pdf.js names a run's font only once the page's operator list is
 * built (text extraction alone does not load fonts for the caller), so a page without an outline or tags, in
 * more than one font, pays that too (+65 % reading time on the Debian Policy Manual); images are skipped, never
 * decoded (`maxImageSize`).
 *
 * Memory and time are bounded before and while pdf.js works: a PDF of more than MAX_PAGES pages, a stream that
 * inflates past MAX_STREAM_BYTES (checked with zlib before pdf.js sees the file, since pdf.js inflates a content or
 * font stream whole into memory), more than MAX_CHARACTERS of text or a read longer than MAX_READ_MS is rejected
 * as too complex. A bad file is a rejection, never a throw.
 */

/** More pages than any handbook; a page tree that repeats itself to claim 10,000 pages is refused before any is read. */
export const MAX_PAGES = 2_000;
/** 20 million characters of text (about 10,000 dense pages) is the most a document's sections may hold. */
export const MAX_CHARACTERS = 20_000_000;
/**
 * The most one Flate stream may inflate to (64 MiB): pdf.js would inflate a 1 GB content stream into one array.
 * Image streams are not checked: text extraction never decodes them.
 */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;
/** The most all checked streams together may inflate to (512 MiB, counted, never held at once). */
export const MAX_INFLATED_BYTES = 512 * 1024 * 1024;
/** A read that takes longer than this (checked between pages) is given up. */
export const MAX_READ_MS = 120_000;

/** A line of text on a page, in PDF user space (y grows upwards). */
interface Line {
  text: string;
  x: number;
  y: number;
  /** Right edge of the line's last run. */
  right: number;
  /** Font size (the text matrix's vertical scale). */
  size: number;
  /** In a tagged PDF, the heading element the line's text sits in: its level (1–6) and its marked content's id. */
  heading?: { level: number; id: string };
  /** Every run with a letter or digit is in a bold (not monospaced) font. */
  bold?: boolean;
  /** Two runs of the line are more than two ems apart: columns (a table's row), not a phrase. */
  columns?: boolean;
}

interface PageLines {
  page: number;
  lines: Line[];
}

/** Where a heading starts: a page (from 1), and the line's y when the destination gives one. */
interface HeadingStart {
  path: string[];
  page: number;
  top: number | null;
}

type PdfJs = typeof import('unpdf/pdfjs');
let pdfjs: Promise<PdfJs> | undefined;
const loadPdfJs = (): Promise<PdfJs> => {
  pdfjs ??= import('unpdf/pdfjs');
  return pdfjs;
};

class RejectedPdf extends Error {
  constructor(
    readonly reason: 'no-text' | 'encrypted' | 'malformed' | 'too-complex',
    message: string,
  ) {
    super(message);
    this.name = 'RejectedPdf';
  }
}

export const pdfFormat: DocumentFormat = {
  name: 'PDF',
  extensions: ['.pdf'],
  mediaTypes: ['application/pdf'],
  async read(bytes: Uint8Array): Promise<FormatResult> {
    try {
      return await readPdf(bytes);
    } catch (error) {
      if (error instanceof RejectedPdf) return { ok: false, reason: error.reason, message: error.message };
      const name = error instanceof Error ? error.name : '';
      if (name === 'PasswordException') {
        return { ok: false, reason: 'encrypted', message: 'the PDF is password-protected' };
      }
      const detail = error instanceof Error ? error.message : String(error);
      return { ok: false, reason: 'malformed', message: `the PDF could not be read: ${detail}` };
    }
  },
};

async function readPdf(bytes: Uint8Array): Promise<FormatResult> {
  const started = Date.now();
  checkStructure(bytes);
  checkStreams(bytes);
  const { getDocument } = await loadPdfJs();
  // pdf.js takes ownership of (detaches) the buffer it is given: it gets a copy, the caller keeps its bytes.
  const task = getDocument({
    data: new Uint8Array(bytes),
    disableFontFace: true,
    useSystemFonts: false,
    // As a viewer does, a part of a page pdf.js cannot parse is skipped (with a warning, not shown) and the rest is
    // read: with stopAtErrors, the first image of a page would end its operator list (below), and the fonts after it
    // would go unnamed. A file pdf.js cannot open at all still throws (malformed), and the checks above still hold.
    stopAtErrors: false,
    // Building a page's operator list (for its fonts' names) would decode its images: any image of more than one
    // pixel is left out instead, so a page of photos costs no more than a page of text.
    maxImageSize: 1,
    verbosity: 0,
  });
  const doc = await task.promise;
  try {
    if (doc.numPages > MAX_PAGES) {
      throw new RejectedPdf(
        'too-complex',
        `the PDF has ${doc.numPages} pages, more than the ${MAX_PAGES} a document may have`,
      );
    }
    // The outline first: a PDF with one needs no structure tree read.
    const starts = await outlineStarts(doc);
    const pages: PageLines[] = [];
    let characters = 0;
    for (let number = 1; number <= doc.numPages; number++) {
      if (Date.now() - started > MAX_READ_MS) {
        throw new RejectedPdf('too-complex', `reading the PDF took more than ${MAX_READ_MS / 1000} s`);
      }
      const page = await doc.getPage(number);
      const headings = starts.length > 0 ? new Map<string, number>() : await headingContent(page);
      const content = await page.getTextContent({ includeMarkedContent: headings.size > 0 });
      const bold =
        starts.length === 0 && headings.size === 0 ? await boldFonts(page, content.styles) : undefined;
      const lines = toLines(content.items, headings, bold);
      page.cleanup();
      for (const line of lines) characters += line.text.length;
      if (characters > MAX_CHARACTERS) {
        throw new RejectedPdf(
          'too-complex',
          `the PDF holds more than ${MAX_CHARACTERS.toLocaleString('en')} characters of text`,
        );
      }
      pages.push({ page: number, lines });
    }
    if (characters === 0 || pages.every((p) => p.lines.every((l) => l.text.trim() === ''))) {
      throw new RejectedPdf(
        'no-text',
        `the PDF has ${doc.numPages} page(s) but no text layer (a scan?); OCR is not supported`,
      );
    }
    dropRunningHeadersAndFooters(pages);
    const sections =
      starts.length > 0
        ? sectionsFromOutline(pages, starts)
        : pages.some(({ lines }) => lines.some((line) => line.heading !== undefined))
          ? sectionsFromTags(pages)
          : sectionsFromLayout(pages);
    const metadata = await doc.getMetadata().catch(() => undefined);
    const info = metadata?.info as { Title?: unknown } | undefined;
    const title = meaningfulTitle(info?.Title) ?? sections.find((s) => s.path.length > 0)?.path[0];
    const kept = sections.filter((s) => s.text.trim() !== '');
    if (kept.length === 0) {
      throw new RejectedPdf('no-text', 'the PDF has no text layer (a scan?); OCR is not supported');
    }
    return { ok: true, ...(title === undefined ? {} : { title }), sections: kept };
  } finally {
    await task.destroy();
  }
}

/** A file that does not start as a PDF or was cut short (no `%%EOF` near its end) is refused as malformed. */
function checkStructure(bytes: Uint8Array): void {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).toString('latin1');
  if (!head.includes('%PDF-')) throw new RejectedPdf('malformed', 'the file is not a PDF (no %PDF- header)');
  const tailStart = Math.max(0, bytes.length - 2048);
  const tail = Buffer.from(bytes.buffer, bytes.byteOffset + tailStart, bytes.length - tailStart).toString(
    'latin1',
  );
  if (!tail.includes('%%EOF')) {
    throw new RejectedPdf('malformed', 'the PDF is truncated or broken (it has no end-of-file marker)');
  }
}

/**
 * Inflates every Flate stream that is not an image, with zlib and a cap, keeping none of the output: a stream
 * that would inflate past MAX_STREAM_BYTES, or all of them past MAX_INFLATED_BYTES, refuses the file before pdf.js
 * would hold it in memory (pdf.js inflates a content stream whole: a 1.1 GB one took it 40 s and was read). A
 * stream zlib cannot inflate (encrypted, or damaged mid-way) is left to pdf.js.
 */
function checkStreams(bytes: Uint8Array): void {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let inflated = 0;
  let at = 0;
  for (;;) {
    const keyword = buffer.indexOf('stream', at, 'latin1');
    if (keyword < 0) return;
    at = keyword + 6;
    if (keyword >= 3 && buffer.toString('latin1', keyword - 3, keyword) === 'end') continue;
    let dataStart = at;
    if (buffer[dataStart] === 0x0d) dataStart++;
    if (buffer[dataStart] !== 0x0a && buffer[at] !== 0x0d) continue;
    if (buffer[dataStart] === 0x0a) dataStart++;
    const dictionaryStart = Math.max(0, keyword - 2048);
    const dictionary = buffer.toString('latin1', dictionaryStart, keyword);
    const own = dictionary.slice(dictionary.lastIndexOf(' obj') + 1);
    if (!own.includes('/FlateDecode') || /\/Subtype\s*\/Image/.test(own)) continue;
    const end = buffer.indexOf('endstream', dataStart, 'latin1');
    const data = buffer.subarray(dataStart, end < 0 ? buffer.length : end);
    at = end < 0 ? buffer.length : end + 9;
    let size: number;
    try {
      // Raw, past the two-byte zlib header: pdf.js does not check the Adler-32 at the end, so neither may this.
      size = inflateRawSync(data.subarray(2), {
        maxOutputLength: MAX_STREAM_BYTES,
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
      }).length;
    } catch (error) {
      // By its code: a RangeError from another realm (a test's VM context) is not `instanceof RangeError`.
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new RejectedPdf(
          'too-complex',
          `a stream in the PDF inflates to more than ${MAX_STREAM_BYTES / 1024 / 1024} MiB`,
        );
      }
      continue;
    }
    inflated += size;
    if (inflated > MAX_INFLATED_BYTES) {
      throw new RejectedPdf(
        'too-complex',
        `the PDF's streams inflate to more than ${MAX_INFLATED_BYTES / 1024 / 1024} MiB`,
      );
    }
  }
}

interface TextRun {
  str: string;
  transform: number[];
  width: number;
  hasEOL: boolean;
  fontName?: string;
}

interface FontStyle {
  fontFamily?: string;
}

/**
 * Which of a page's fonts (pdf.js's names for them, as its text runs give them) are bold: by the font's own
 * flags when pdf.js sets them, else by its name ("AAAAAA+LiberationSans-Bold", "Helvetica-Bold",
 * "FreeSerifBold"). Monospaced fonts are left out: bold code is not a heading. Undefined when the page is in one
 * font (nothing can stand out) or its fonts cannot be loaded.
 */
async function boldFonts(
  page: {
    getOperatorList(): Promise<unknown>;
    commonObjs: { has(name: string): boolean; get(name: string): unknown };
  },
  styles: Record<string, FontStyle>,
): Promise<ReadonlySet<string> | undefined> {
  const names = Object.keys(styles).filter((name) => styles[name]?.fontFamily !== 'monospace');
  if (Object.keys(styles).length < 2 || names.length === 0) return undefined;
  // A page whose list cannot be built has its fonts loaded so far named all the same.
  await page.getOperatorList().catch(() => undefined);
  const bold = new Set<string>();
  for (const name of names) {
    if (!page.commonObjs.has(name)) continue;
    const font = page.commonObjs.get(name) as { name?: unknown; bold?: unknown; black?: unknown } | null;
    if (font === null || typeof font !== 'object') continue;
    const named = typeof font.name === 'string' && /bold|black|heavy|semibold|demi/i.test(font.name);
    if (font.bold === true || font.black === true || named) bold.add(name);
  }
  return bold;
}

/**
 * pdf.js's runs of a page joined into lines, in content order: a run on another baseline starts a line. With
 * `headings` (a tagged page's marked-content ids inside heading elements, with their level), a line whose text
 * sits in one of them carries it.
 */
function toLines(
  items: readonly unknown[],
  headings: ReadonlyMap<string, number> = new Map(),
  bold?: ReadonlySet<string>,
): Line[] {
  const lines: Line[] = [];
  let current: Line | undefined;
  // The marked content the runs sit in, innermost last (an id only for the content a structure element owns).
  const marked: (string | undefined)[] = [];
  for (const item of items) {
    if (typeof item !== 'object' || item === null) continue;
    if ('type' in item) {
      const { type, id } = item as { type: unknown; id?: unknown };
      if (type === 'beginMarkedContent' || type === 'beginMarkedContentProps')
        marked.push(typeof id === 'string' ? id : undefined);
      else if (type === 'endMarkedContent') marked.pop();
      continue;
    }
    if (!('str' in item)) continue;
    const run = item as TextRun;
    const headingId = marked.findLast((id) => id !== undefined && headings.has(id));
    const [, , , d = 0, x = 0, y = 0] = run.transform;
    const size = Math.abs(d);
    if (run.str !== '') {
      const sameLine =
        current !== undefined &&
        Math.abs(current.y - y) <= Math.max(current.size, size) * 0.5 &&
        x >= current.x;
      if (!sameLine || current === undefined) {
        current = { text: '', x, y, right: x, size, ...(bold === undefined ? {} : { bold: true }) };
        lines.push(current);
      }
      if (current.bold === true && /[\p{L}\p{N}]/u.test(run.str) && !bold?.has(run.fontName ?? '')) {
        current.bold = false;
      }
      const level = headingId === undefined ? undefined : headings.get(headingId);
      if (headingId !== undefined && level !== undefined && current.text.trim() === '')
        current.heading = { level, id: headingId };
      else if (headingId === undefined && run.str.trim() !== '') delete current.heading;
      // A gap, or a space run pdf.js puts in for one, wider than two ems.
      const gap = run.str.trim() === '' ? run.width : x - current.right;
      if (current.text.trim() !== '' && gap > size * 2) current.columns = true;
      if (current.text !== '' && x - current.right > size * 0.15 && !/\s$/.test(current.text)) {
        current.text += ' ';
      }
      current.text += run.str;
      current.right = Math.max(current.right, x + run.width);
      // A superscript or a footnote mark does not decide the line's size; the body's runs do.
      if (run.str.trim().length > 1) current.size = Math.max(current.size === 0 ? size : current.size, size);
    }
    if (run.hasEOL) current = undefined;
  }
  for (const line of lines) line.text = line.text.replace(/\s+/g, ' ').trim();
  return lines.filter((line) => line.text !== '');
}

/**
 * Running headers, footers and page numbers: the top-most and bottom-most line of a page are dropped when a line
 * sits at that height (within 2 points) at the top (or bottom) of at least half the pages, or is only a number.
 * Chapter titles in a running header change from chapter to chapter, so the height, not the text, is what repeats.
 */
function dropRunningHeadersAndFooters(pages: PageLines[]): void {
  if (pages.length < 3) return;
  const band = (pick: (lines: Line[]) => Line | undefined): number | undefined => {
    const counts = new Map<number, number>();
    for (const { lines } of pages) {
      const line = pick(lines);
      if (line !== undefined) counts.set(Math.round(line.y), (counts.get(Math.round(line.y)) ?? 0) + 1);
    }
    let best: [number, number] | undefined;
    for (const [y, count] of counts) if (best === undefined || count > best[1]) best = [y, count];
    return best !== undefined && best[1] >= pages.length / 2 ? best[0] : undefined;
  };
  const top = (lines: Line[]) =>
    lines.reduce<Line | undefined>((a, l) => (a === undefined || l.y > a.y ? l : a), undefined);
  const bottom = (lines: Line[]) =>
    lines.reduce<Line | undefined>((a, l) => (a === undefined || l.y < a.y ? l : a), undefined);
  const topBand = band(top);
  const bottomBand = band(bottom);
  for (const page of pages) {
    const drop = new Set<Line>();
    const first = top(page.lines);
    const last = bottom(page.lines);
    for (const [line, y] of [
      [first, topBand],
      [last, bottomBand],
    ] as const) {
      if (line === undefined) continue;
      if ((y !== undefined && Math.abs(line.y - y) <= 2) || /^[-–—\s]*\d+[-–—\s]*$/.test(line.text)) {
        // Every line on that baseline: a header is often two runs far apart (title left, chapter right).
        for (const other of page.lines) if (Math.abs(other.y - line.y) <= 1) drop.add(other);
      }
    }
    if (drop.size > 0) page.lines = page.lines.filter((line) => !drop.has(line));
  }
}

type PdfDocument = Awaited<ReturnType<PdfJs['getDocument']>['promise']>;
interface OutlineNode {
  title: string;
  dest: string | unknown[] | null;
  items: OutlineNode[];
}

/** The outline, depth first, each item resolved to its page and the top of its destination; unresolvable ones left out. */
async function outlineStarts(doc: PdfDocument): Promise<HeadingStart[]> {
  const outline = ((await doc.getOutline().catch(() => null)) ?? []) as OutlineNode[];
  const starts: HeadingStart[] = [];
  let budget = 10_000;
  const walk = async (items: OutlineNode[], parents: string[]): Promise<void> => {
    for (const item of items) {
      if (--budget < 0) return;
      const title = item.title.replace(/\s+/g, ' ').trim();
      const path = [...parents, title];
      try {
        const dest = typeof item.dest === 'string' ? await doc.getDestination(item.dest) : item.dest;
        const target = dest?.[0];
        if (Array.isArray(dest) && target !== undefined && target !== null) {
          const index =
            typeof target === 'number'
              ? target
              : await doc.getPageIndex(target as Parameters<PdfDocument['getPageIndex']>[0]);
          const kind = (dest[1] as { name?: string } | undefined)?.name;
          const top =
            kind === 'XYZ' && typeof dest[3] === 'number'
              ? dest[3]
              : kind === 'FitH' || kind === 'FitBH'
                ? typeof dest[2] === 'number'
                  ? dest[2]
                  : null
                : null;
          starts.push({ path, page: index + 1, top });
        }
      } catch {
        // An outline item pointing nowhere is skipped; its children may still resolve.
      }
      await walk(item.items ?? [], path);
    }
  };
  await walk(outline, []);
  return starts;
}

const normalise = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');

/** Writes a section's text from lines: wrapped lines joined, paragraphs separated, a page mark at each page start. */
class SectionWriter {
  readonly sections: DocumentSection[] = [];
  private text = '';
  private pages: PageMark[] = [];
  private path: string[] = [];
  private previous: Line | undefined;
  private lastPage = 0;
  private margin = 0;

  start(path: string[]): void {
    this.flush();
    this.path = path;
  }

  add(line: Line, page: number, margin: number): void {
    this.margin = margin;
    const prev = this.previous;
    let separator = '';
    if (this.text !== '' && prev !== undefined) {
      const gap = prev.y - line.y;
      const newPage = page !== this.lastPage;
      const paragraphBreak =
        !newPage && (gap > Math.max(prev.size, line.size) * 1.6 || Math.abs(prev.size - line.size) > 1.5);
      const shortLine = prev.right < this.margin - Math.max(prev.size, 10) * 4;
      if (paragraphBreak) separator = '\n\n';
      else if (shortLine) separator = '\n';
      else if (/\p{Ll}-$/u.test(this.text) && /^\p{Ll}/u.test(line.text)) {
        this.text = this.text.slice(0, -1);
      } else separator = ' ';
    }
    this.text += separator;
    if (page !== this.lastPage || this.pages.length === 0)
      this.pages.push({ offset: this.text.length, page });
    this.text += line.text;
    this.previous = line;
    this.lastPage = page;
  }

  flush(): void {
    if (this.text.trim() !== '') {
      this.sections.push({ path: this.path, text: this.text, pages: this.pages });
    }
    this.text = '';
    this.pages = [];
    this.previous = undefined;
    this.lastPage = 0;
  }
}

function rightMargin(lines: Line[]): number {
  return lines.reduce((max, line) => Math.max(max, line.right), 0);
}

/**
 * Sections from the outline: each item starts at the first line of its page at or below its destination's top
 * (the whole page when it has none). The heading's own line (and a "Chapter 4" line above it) is not text; when it
 * reads as the title with a number before it ("4.9 Main building script: debian/rules"), that is the path's name.
 */
function sectionsFromOutline(pages: PageLines[], starts: HeadingStart[]): DocumentSection[] {
  const byPage = new Map<number, HeadingStart[]>();
  for (const start of starts) byPage.set(start.page, [...(byPage.get(start.page) ?? []), start]);
  const writer = new SectionWriter();
  const renamed = new Map<string, string>();
  const named = (path: string[]) =>
    path.map((title, i) => renamed.get(path.slice(0, i + 1).join('\u0000')) ?? title);
  for (const { page, lines } of pages) {
    const margin = rightMargin(lines);
    const pending = [...(byPage.get(page) ?? [])];
    let skipTo = -1;
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index] as Line;
      while (pending.length > 0) {
        const next = pending[0] as HeadingStart;
        if (next.top !== null && line.y > next.top + 2) break;
        pending.shift();
        const heading = headingLines(lines, index, next.path[next.path.length - 1] ?? '');
        if (heading?.numbered !== undefined) renamed.set(next.path.join('\u0000'), heading.numbered);
        writer.start(named(next.path));
        if (heading !== undefined) skipTo = heading.end;
      }
      if (index < skipTo) continue;
      writer.add(line, page, margin);
    }
    // Items whose top lies below the page's last line start at the next page's text.
    for (const left of pending) writer.start(named(left.path));
  }
  writer.flush();
  return writer.sections;
}

/**
 * The heading's own lines at `start`, if they are there: a "CHAPTER" / "FOUR" (or "Chapter 4") pair as Sphinx and
 * LaTeX print above a chapter's title, then the title over up to three lines, with its printed number if it has one.
 * `end` is the index of the first line after them.
 */
function headingLines(
  lines: Line[],
  start: number,
  title: string,
): { end: number; numbered?: string } | undefined {
  let at = start;
  let chapter = false;
  while (at < Math.min(start + 3, lines.length)) {
    const text = (lines[at] as Line).text;
    if (/^(chapter|appendix|part)\b[\s\dA-Z.]*$/i.test(text)) chapter = true;
    else if (!(chapter && /^\p{Lu}+$/u.test(text))) break;
    at++;
  }
  const wanted = normalise(title);
  let joined = '';
  for (let k = at; wanted !== '' && k < Math.min(at + 3, lines.length); k++) {
    const text = (lines[k] as Line).text;
    joined = joined === '' ? text : joined.endsWith('-') ? joined + text : `${joined} ${text}`;
    const got = normalise(joined);
    if (got.length > wanted.length + 8) break;
    if (got.endsWith(wanted)) {
      const number = /^([\dA-Z]+(?:\.\d+)*\.?)\s/.exec(joined)?.[1];
      const numbered = number !== undefined && normalise(joined.slice(number.length)) === wanted;
      return { end: k + 1, ...(numbered ? { numbered: `${number} ${title}` } : {}) };
    }
  }
  return chapter ? { end: at } : undefined;
}

/**
 * Sections cut at the lines `levelOf` calls headings (a level from 0, the outermost), each path the headings above;
 * a heading wrapped onto further lines (`continues` says when a line goes on the heading above it) is one heading.
 */
function sectionsAtHeadings(
  pages: PageLines[],
  levelOf: (line: Line) => number | undefined,
  continues: (previous: Line, line: Line) => boolean,
): DocumentSection[] {
  const writer = new SectionWriter();
  const path: { level: number; title: string }[] = [];
  for (const { page, lines } of pages) {
    const margin = rightMargin(lines);
    let previousHeading: Line | undefined;
    for (const line of lines) {
      const level = levelOf(line);
      if (level !== undefined) {
        const last = path[path.length - 1];
        if (previousHeading !== undefined && last !== undefined && continues(previousHeading, line)) {
          last.title = `${last.title} ${line.text}`;
          writer.start(path.map((p) => p.title));
          previousHeading = line;
          continue;
        }
        previousHeading = line;
        while (path.length > 0 && (path[path.length - 1]?.level ?? 0) >= level) path.pop();
        path.push({ level, title: line.text });
        writer.start(path.map((p) => p.title));
        continue;
      }
      previousHeading = undefined;
      writer.add(line, page, margin);
    }
  }
  writer.flush();
  return writer.sections;
}

/** A tagged PDF without an outline: its heading elements, at their levels; a heading's lines share its content. */
function sectionsFromTags(pages: PageLines[]): DocumentSection[] {
  return sectionsAtHeadings(
    pages,
    (line) => (line.heading === undefined ? undefined : line.heading.level - 1),
    (previous, line) => previous.heading?.id === line.heading?.id,
  );
}

/**
 * Without an outline or tags: a line in a font at least 1.2 times the body's most common size (counted in
 * characters), short enough to be a title, is a heading; the larger the font, the higher its level. Below those, a
 * block of lines wholly in bold, in at least the body's size, is a heading when it reads like one: at most 150
 * characters, with a letter, not ending as a sentence or a lead-in does (".", ",", ";", ":"), not in columns, not
 * indented, not a list item; a bold sentence inside a paragraph, a bold "Note:", a bold paragraph, a table's
 * header row and a bold bullet are not.
 */
function sectionsFromLayout(pages: PageLines[]): DocumentSection[] {
  const bySize = new Map<number, number>();
  for (const { lines } of pages)
    for (const line of lines)
      bySize.set(Math.round(line.size), (bySize.get(Math.round(line.size)) ?? 0) + line.text.length);
  let body = 0;
  let most = -1;
  for (const [size, count] of bySize) if (count > most) [body, most] = [size, count];
  const isLarger = (line: Line) =>
    body > 0 && line.size >= body * 1.2 && line.text.length <= 150 && /\p{L}/u.test(line.text);
  const sizes = [
    ...new Set(pages.flatMap(({ lines }) => lines.filter(isLarger).map((l) => Math.round(l.size)))),
  ].sort((a, b) => b - a);
  const boldHeadings = boldHeadingLines(pages, body, isLarger);
  const boldLevel = Math.min(sizes.length, 5);
  return sectionsAtHeadings(
    pages,
    (line) =>
      isLarger(line)
        ? Math.min(sizes.indexOf(Math.round(line.size)), 5)
        : boldHeadings.has(line)
          ? boldLevel
          : undefined,
    // A title wrapped onto a second line, in the same font right below the first, is one heading.
    (previous, line) =>
      Math.round(previous.size) === Math.round(line.size) && previous.y - line.y <= line.size * 1.6,
  );
}

/** The lines of the bold blocks (bold lines one below the other, in one size) that read like headings. */
function boldHeadingLines(pages: PageLines[], body: number, isLarger: (line: Line) => boolean): Set<Line> {
  const headings = new Set<Line>();
  for (const { lines } of pages) {
    // A heading starts at the text's left edge (the x most of the page's characters start at) or is centred; an
    // indented bold line is a list item or a term.
    const starts = new Map<number, number>();
    for (const line of lines)
      starts.set(Math.round(line.x), (starts.get(Math.round(line.x)) ?? 0) + line.text.length);
    const left = [...starts].reduce((a, b) => (b[1] > a[1] ? b : a), [0, -1])[0];
    const middle = (left + rightMargin(lines)) / 2;
    const placed = (line: Line) =>
      Math.abs(line.x - left) <= line.size || Math.abs((line.x + line.right) / 2 - middle) <= line.size;
    let block: Line[] = [];
    const close = () => {
      const text = block.map((l) => l.text).join(' ');
      const reads =
        text.length <= 150 && /\p{L}/u.test(text) && !/[.,;:]$/.test(text) && !/^[•·◦▪‣*–—-]/.test(text);
      if (block.length > 0 && reads) {
        for (const line of block) headings.add(line);
      }
      block = [];
    };
    for (const line of lines) {
      const candidate =
        line.bold === true &&
        line.columns !== true &&
        !isLarger(line) &&
        Math.round(line.size) >= body &&
        (placed(line) || (block.length > 0 && Math.abs(line.x - (block[0] as Line).x) <= line.size));
      const previous = block[block.length - 1];
      if (
        previous !== undefined &&
        !(
          candidate &&
          Math.round(previous.size) === Math.round(line.size) &&
          previous.y - line.y <= line.size * 1.6
        )
      ) {
        close();
      }
      if (candidate) block.push(line);
    }
    close();
  }
  return headings;
}

/** The most structure elements of a page looked at for headings: a tree bigger than that is read as untagged. */
const MAX_STRUCTURE_NODES = 100_000;

/**
 * A tagged page's headings: the marked-content ids inside its H1–H6 (and H) elements, with their level (H counts
 * as 1). Empty for an untagged page, or one whose structure cannot be read (its text is read all the same).
 */
async function headingContent(page: { getStructTree(): Promise<unknown> }): Promise<Map<string, number>> {
  const headings = new Map<string, number>();
  const tree = await page.getStructTree().catch(() => null);
  if (tree === null || typeof tree !== 'object') return headings;
  const stack: { node: unknown; level: number | undefined }[] = [{ node: tree, level: undefined }];
  for (let seen = 0; stack.length > 0; seen++) {
    if (seen > MAX_STRUCTURE_NODES) return new Map();
    const { node, level } = stack.pop() as { node: unknown; level: number | undefined };
    if (typeof node !== 'object' || node === null) continue;
    const { role, type, id, children } = node as {
      role?: unknown;
      type?: unknown;
      id?: unknown;
      children?: unknown;
    };
    if (type === 'content' && typeof id === 'string' && level !== undefined) headings.set(id, level);
    const match = typeof role === 'string' ? /^H([1-6])?$/.exec(role) : null;
    const inner = match === null ? level : Number(match[1] ?? 1);
    if (Array.isArray(children)) for (const child of children) stack.push({ node: child, level: inner });
  }
  return headings;
}

/** The metadata title unless it is empty, a placeholder or a file name. */
function meaningfulTitle(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const title = value.replace(/\s+/g, ' ').trim();
  if (title.length < 3 || !/\p{L}/u.test(title)) return undefined;
  if (/^(untitled|title|document|microsoft word - .*)$/i.test(title)) return undefined;
  if (/\.(pdf|docx?|odt|tex|dvi|ps|txt|rtf|html?)$/i.test(title)) return undefined;
  return title;
}
