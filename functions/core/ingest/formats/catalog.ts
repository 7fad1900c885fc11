/**
 * Which files are documents, by name alone: what a folder or an S3 prefix lists as documents (everything else is
 * skipped with a reason). Kept apart from the readers (`index.ts`) so that the functions that only list, the ingest
 * Plan above all, bundle no parser. A test checks this catalog and the readers agree.
 */

/** One format as the listing knows it. */
export interface CatalogEntry {
  /** What a person calls it: `PDF`. */
  name: string;
  /** Lowercase extensions with their dot. */
  extensions: readonly string[];
}

export const DOCUMENT_CATALOG: readonly CatalogEntry[] = [
  { name: 'Markdown', extensions: ['.md', '.markdown'] },
  { name: 'plain text', extensions: ['.txt'] },
  { name: 'PDF', extensions: ['.pdf'] },
  { name: 'Word', extensions: ['.docx'] },
  { name: 'HTML', extensions: ['.html', '.htm'] },
];

const EXTENSIONS = new Set(DOCUMENT_CATALOG.flatMap((entry) => entry.extensions));

/** The formats read, for messages: `Markdown (.md, .markdown), plain text (.txt), PDF (.pdf), …`. */
export const DOCUMENT_FORMATS_SENTENCE = DOCUMENT_CATALOG.map(
  (entry) => `${entry.name} (${entry.extensions.join(', ')})`,
).join(', ');

/** The lowercase extension of a path, URL path or S3 key, with its dot; `''` when it has none. */
export function extensionOf(source: string): string {
  const name = baseNameWithExtension(source);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

/** The last part of a path, without a URL's query or fragment. */
export function baseNameWithExtension(source: string): string {
  const path = /^https?:\/\//i.test(source) ? source.replace(/[?#].*$/, '') : source;
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True for a PDF or Word file's name: those have their own size limit (`INGEST_MAX_PDF_WORD_BYTES`). */
export function isPdfOrWordName(name: string): boolean {
  const extension = extensionOf(name);
  return extension === '.pdf' || extension === '.docx';
}

/**
 * True when a file of this name would be indexed. A folder or prefix lists only these; a file named on its own is
 * always tried, so that an unsupported one is reported rather than ignored.
 */
export function isDocumentName(name: string): boolean {
  return EXTENSIONS.has(extensionOf(name));
}
