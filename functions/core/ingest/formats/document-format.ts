/**
 * One document model for every format. A format's reader turns a file's bytes into sections: a heading path, the
 * text under it (Markdown: paragraphs, lists, pipe tables, code), and where the text sits in the original (the
 * page of a PDF, the anchor of a web page's heading). Splitting, hybrid search, citations, incremental sync,
 * pruning and the eval see only sections, so they treat a PDF, a Word file, a web page and a Markdown file alike,
 * and adding a format is one file in this folder registered in `index.ts`.
 */

/** Where a run of a section's text starts in a paged original (a PDF). */
export interface PageMark {
  /** Character offset in the section's `text` where this page's text starts. */
  offset: number;
  /** The page number as a reader counts it, from 1. */
  page: number;
}

/** A part of a document under one heading. */
export interface DocumentSection {
  /** The headings the section sits under, outermost first, its own last; empty before the first heading. */
  path: string[];
  /**
   * The section's text without its heading line, with `\n` line endings: Markdown (lists, pipe tables, fenced
   * code) for structured formats, plain text otherwise.
   */
  text: string;
  /** The `id` of the section's heading in an HTML page (`#anchor`), when it has one: sources link to it. */
  anchor?: string;
  /**
   * A paged original's page marks for this text, sorted by offset, the first at offset 0: a chunk of the text
   * knows the pages it spans from them. Absent for formats without pages.
   */
  pages?: PageMark[];
}

/** Why a document was not loaded: each is reported beside the document's name in the sync report. */
export type LoadRejectionReason =
  | 'unsupported-type'
  | 'too-large'
  | 'empty'
  | 'binary'
  | 'invalid-utf8'
  /** A PDF with pages but no text layer (a scan): OCR is out of scope. */
  | 'no-text'
  /** A password-protected PDF, or an encrypted Word file. */
  | 'encrypted'
  /** Broken or truncated: the parser could not read it. */
  | 'malformed'
  /** Over a structural limit (pages, zip entries, uncompressed size, nesting) that bounds memory and time. */
  | 'too-complex';

/** What a format's reader makes of one file. */
export type FormatResult =
  | {
      ok: true;
      /** The document's own title (PDF or HTML metadata, front matter, a Word file's title property). */
      title?: string;
      /** Front matter `collection` (Markdown only). */
      collection?: string;
      /** The sections in reading order; at least one holds text. */
      sections: DocumentSection[];
    }
  | {
      ok: false;
      reason: LoadRejectionReason;
      /** Plain words, without the document's name (the caller prefixes it): "the PDF is password-protected". */
      message: string;
    };

/** What a reader is told besides the bytes. */
export interface FormatContext {
  /** The document's name at its origin: a path, an `s3://` URI or an `https://` URL. */
  source: string;
  /** The largest file accepted, in bytes; a reader bounds what it expands (a zip's entries) by limits of its own. */
  maxBytes: number;
  /** The document's address when it came from the web: relative links in it are resolved against it. */
  url?: string;
  /** The media type the web server declared, with its parameters (`text/html; charset=Shift_JIS`). */
  contentType?: string;
}

/** One file format. */
export interface DocumentFormat {
  /** What a person calls the format, for messages: `PDF`, `Word`, `HTML`, `Markdown`, `plain text`. */
  name: string;
  /** Lowercase file extensions with their dot: `.pdf`. */
  extensions: readonly string[];
  /** Media types a web server sends for it, without parameters: `application/pdf`. */
  mediaTypes: readonly string[];
  /** Never throws for a bad file: a rejection says why, so one bad file cannot fail a sync. */
  read(bytes: Uint8Array, context: FormatContext): Promise<FormatResult>;
}
