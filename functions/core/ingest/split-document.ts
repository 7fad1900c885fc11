import { createHash } from 'node:crypto';
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters';
import type { PageMark } from './formats/document-format';
import type { LoadedDocument } from './load-document';

/** One chunk of a document, ready to embed. */
export interface DocumentChunk {
  /** Stable id: the same while the chunk's source and text are the same, wherever the chunk moves. */
  id: string;
  /** Position in the document, from 0. */
  index: number;
  source: string;
  title: string;
  collection?: string;
  /** The headings the chunk sits under, outermost first, joined with {@link HEADING_SEPARATOR}; or `''`. */
  heading: string;
  text: string;
  /** The first and last page the chunk's text is on, in a paged document (a PDF). */
  pageStart?: number;
  pageEnd?: number;
  /** Where a person can open the chunk's section: the document's link, with the section's `#anchor` when it has one. */
  url?: string;
  /** The whole document's content hash, carried to every chunk for the manifest. */
  contentHash: string;
}

/** Options for {@link splitDocument}. */
export interface SplitOptions {
  /**
   * Longest chunk, in characters. 1,000 characters is a few paragraphs of English (about 250 tokens) or of
   * Japanese (about 600 to 1,000 tokens): enough context to answer from, small enough that several fit a prompt.
   * @default 1000
   */
  chunkSize?: number;
  /**
   * Characters a chunk repeats from the end of the previous one in the same section, so a passage cut at a
   * boundary is whole in one of them. Sections never overlap: a heading is a clean break.
   * @default 150
   */
  chunkOverlap?: number;
}

/** Joins the levels of a heading path: "Setup › VPN › Rotating keys". */
export const HEADING_SEPARATOR = ' › ';

/**
 * Separators inside a section, coarsest first; the splitter cuts a too-long piece at the first one it contains.
 * Headings are not among them: sections are cut at headings beforehand, by a parser that knows a `# ` line in
 * a code block is a comment (LangChain's Markdown separators cut there, and leave a heading as a chunk of its
 * own when its section is long). Then Markdown's blocks, paragraphs, lines, and sentence ends, Japanese first:
 * Japanese has no spaces, so without `。` a long Japanese paragraph would be cut at an arbitrary character.
 */
const SEPARATORS = [
  '```\n\n',
  '\n\n***\n\n',
  '\n\n---\n\n',
  '\n\n___\n\n',
  '\n\n',
  '\n',
  '。',
  '！',
  '？',
  '. ',
  '! ',
  '? ',
  ' ',
  '、',
  '，',
  '',
];

/** Separators that end what precedes them, and so stay with it rather than starting the next piece. */
const TRAILING_SEPARATORS = new Set(['```\n\n', '。', '！', '？', '. ', '! ', '? ', '、', '，']);

/**
 * LangChain's recursive splitter keeps each separator at the start of the next piece, which would start a
 * chunk with `。`, `. ` or a code block's closing fence. Those stay with what they end instead, and the last
 * resort splits by code point so an emoji is never cut in half.
 */
class SentenceAwareSplitter extends RecursiveCharacterTextSplitter {
  protected override splitOnSeparator(text: string, separator: string): string[] {
    if (separator === '') return Array.from(text);
    if (!TRAILING_SEPARATORS.has(separator)) return super.splitOnSeparator(text, separator);
    const escaped = separator.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return text.split(new RegExp(`(?<=${escaped})`)).filter((s) => s !== '');
  }
}

/**
 * Splits a loaded document into chunks of at most `chunkSize` characters, section by section, so every chunk lies
 * under exactly one heading path, recorded as `heading` (the heading line itself is left out of the text: it is in
 * the path). A chunk of a paged document knows its pages, and one of a linked document its link. A chunk's id
 * depends only on its source and text, so re-ingesting an edited document keeps the ids of the chunks the edit did
 * not touch.
 */
export async function splitDocument(
  document: LoadedDocument,
  { chunkSize = 1000, chunkOverlap = 150 }: SplitOptions = {},
): Promise<DocumentChunk[]> {
  const splitter = new SentenceAwareSplitter({ chunkSize, chunkOverlap, separators: SEPARATORS });

  const occurrences = new Map<string, number>();
  const chunks: DocumentChunk[] = [];
  for (const section of document.sections) {
    if (section.text.trim() === '') continue;
    const heading = section.path.join(HEADING_SEPARATOR);
    const url = sectionUrl(document.url, section.anchor);
    let searchFrom = 0;
    for (const text of await splitter.splitText(section.text)) {
      const occurrence = (occurrences.get(text) ?? 0) + 1;
      occurrences.set(text, occurrence);
      // The splitter returns texts, not offsets: each chunk is found in the section from where the previous one
      // started (chunks come in order and overlap), which is where its pages are read from.
      const found = section.text.indexOf(text, searchFrom);
      const start = found === -1 ? searchFrom : found;
      if (found !== -1) searchFrom = found + 1;
      const pages =
        section.pages === undefined ? undefined : pageRange(section.pages, start, start + text.length);
      chunks.push({
        id: chunkId(document.source, text, occurrence),
        index: chunks.length,
        source: document.source,
        title: document.title,
        ...(document.collection !== undefined ? { collection: document.collection } : {}),
        heading,
        text,
        ...(pages !== undefined ? { pageStart: pages[0], pageEnd: pages[1] } : {}),
        ...(url !== undefined ? { url } : {}),
        contentHash: document.contentHash,
      });
    }
  }
  return chunks;
}

/**
 * A hash of what a document's chunks are but for their collection and content hash: their ids (which hash their
 * text), titles, heading paths, pages and links, in order. Equal hashes mean equal rows but for those two columns,
 * whatever else changed in the bytes (a front matter's collection).
 */
export function splitHashOf(chunks: readonly DocumentChunk[]): string {
  const fields = chunks.map((c) => [
    c.id,
    c.title,
    c.heading,
    c.pageStart ?? null,
    c.pageEnd ?? null,
    c.url ?? null,
  ]);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 32);
}

/** The first and last page of the text between `start` and `end` (exclusive), from a section's page marks. */
export function pageRange(
  marks: readonly PageMark[],
  start: number,
  end: number,
): [number, number] | undefined {
  let first: number | undefined;
  let last: number | undefined;
  for (const mark of marks) {
    if (mark.offset <= start) first = mark.page;
    if (mark.offset < end) last = mark.page;
    else break;
  }
  first ??= marks[0]?.page;
  if (first === undefined || last === undefined) return undefined;
  return [first, Math.max(first, last)];
}

/** A document's link with a section's anchor; `undefined` when the document has no link. */
function sectionUrl(documentUrl: string | undefined, anchor: string | undefined): string | undefined {
  if (documentUrl === undefined) return undefined;
  if (anchor === undefined || anchor === '') return documentUrl;
  return `${documentUrl.replace(/#.*$/, '')}#${encodeURIComponent(anchor)}`;
}

/**
 * The id of a chunk: the first 128 bits of sha256(source NUL text), in hex. It leaves the chunk's index out on
 * purpose, so inserting a paragraph does not renumber every chunk after it. The rare chunk whose exact text
 * appears again in the same document gets its occurrence number mixed in, keeping ids unique.
 */
export function chunkId(source: string, text: string, occurrence = 1): string {
  const hash = createHash('sha256').update(source).update('\0').update(text);
  if (occurrence > 1) hash.update(`\0${occurrence}`);
  return hash.digest('hex').slice(0, 32);
}
