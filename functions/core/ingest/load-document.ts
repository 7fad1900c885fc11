import { createHash } from 'node:crypto';
import { markdownHeadings } from './markdown-headings';

/** A document read from its origin, ready to split. */
export interface LoadedDocument {
  /** The document's key at its origin (an S3 key or a relative path), as given. */
  source: string;
  /** How the text is structured: Markdown is split along its headings. */
  format: 'markdown' | 'text';
  /** Front matter `title`, else the first `# ` heading, else the file name without its extension. */
  title: string;
  /** Front matter `collection`: the access-control group the document belongs to. */
  collection?: string;
  /** The text without front matter, with `\n` line endings. */
  text: string;
  /** Hex sha256 of the file's bytes: what the ingest manifest diffs on. */
  contentHash: string;
}

/** Why a document was not loaded. */
export type LoadRejectionReason = 'unsupported-type' | 'too-large' | 'empty' | 'binary' | 'invalid-utf8';

/** A loaded document, or the reason it was skipped, which the ingest report lists. */
export type LoadDocumentResult =
  | { ok: true; document: LoadedDocument }
  | { ok: false; source: string; reason: LoadRejectionReason; message: string };

/** The largest document ingest reads by default (INGEST_MAX_FILE_BYTES), 2 MiB. */
export const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;

/** Options for {@link loadDocument}. */
export interface LoadDocumentOptions {
  /**
   * Largest file accepted, in bytes. A larger file is almost always an export or a log rather than a page a
   * person wrote, and would cost more to embed than it adds to answers.
   * @default 2_097_152 (2 MiB)
   */
  maxBytes?: number;
}

const MARKDOWN_EXTENSIONS = new Set(['.md', '.markdown']);
const TEXT_EXTENSIONS = new Set(['.txt']);

/**
 * True when a file of this name would be indexed (Markdown or plain text). A folder or prefix lists only these;
 * a file named on its own is always tried, so that an unsupported one is reported rather than ignored.
 */
export function isDocumentName(name: string): boolean {
  const extension = extensionOf(name);
  return MARKDOWN_EXTENSIONS.has(extension) || TEXT_EXTENSIONS.has(extension);
}

/**
 * Loads one document from its bytes and name: Markdown (`.md`, `.markdown`) with optional front matter, or
 * plain text (`.txt`). Never throws for a bad file: an unsupported, oversized, empty, binary or non-UTF-8 file
 * comes back as a rejection with a reason, so one bad file cannot fail a whole sync.
 */
export function loadDocument(
  bytes: Uint8Array,
  source: string,
  { maxBytes = MAX_DOCUMENT_BYTES }: LoadDocumentOptions = {},
): LoadDocumentResult {
  const reject = (reason: LoadRejectionReason, message: string): LoadDocumentResult => ({
    ok: false,
    source,
    reason,
    message: `${source}: ${message}`,
  });

  const extension = extensionOf(source);
  const format = MARKDOWN_EXTENSIONS.has(extension)
    ? 'markdown'
    : TEXT_EXTENSIONS.has(extension)
      ? 'text'
      : undefined;
  if (format === undefined) {
    return reject(
      'unsupported-type',
      'only Markdown (.md, .markdown) and plain text (.txt) files are indexed',
    );
  }
  if (bytes.byteLength > maxBytes) {
    return reject('too-large', `the file is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`);
  }
  if (bytes.byteLength === 0) return reject('empty', 'the file is empty');
  if (bytes.includes(0)) {
    return reject(
      'binary',
      'the file contains NUL bytes: it is binary, or text in UTF-16 (save it as UTF-8)',
    );
  }

  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return reject('invalid-utf8', 'the file is not valid UTF-8 (save it as UTF-8)');
  }
  const normalized = decoded.replace(/\r\n?/g, '\n');

  const { fields, body } =
    format === 'markdown' ? splitFrontMatter(normalized) : { fields: {}, body: normalized };
  if (body.trim() === '') return reject('empty', 'the file has no text');

  const title =
    fields.title || (format === 'markdown' ? firstHeading(body) : undefined) || baseName(source) || source;
  return {
    ok: true,
    document: {
      source,
      format,
      title,
      ...(fields.collection ? { collection: fields.collection } : {}),
      text: body,
      contentHash: createHash('sha256').update(bytes).digest('hex'),
    },
  };
}

interface FrontMatter {
  fields: { title?: string; collection?: string };
  body: string;
}

/**
 * Front matter between a first line `---` and the next `---` (or `...`) line. Only top-level `key: value`
 * scalars are read, which is all the two keys need; lists, nesting and other keys are ignored rather than
 * parsed, so no YAML library is needed. An unclosed block is not front matter: the text is kept whole.
 */
function splitFrontMatter(text: string): FrontMatter {
  const lines = text.split('\n');
  if (lines[0]?.trimEnd() !== '---') return { fields: {}, body: text };
  const close = lines.findIndex((line, i) => i > 0 && /^(---|\.\.\.)\s*$/.test(line));
  if (close === -1) return { fields: {}, body: text };

  const fields: FrontMatter['fields'] = {};
  for (const line of lines.slice(1, close)) {
    const match = /^(title|collection)\s*:\s*(.*)$/.exec(line);
    if (match === null) continue;
    const value = scalar(match[2] ?? '');
    if (value !== '') fields[match[1] as 'title' | 'collection'] = value;
  }
  return { fields, body: lines.slice(close + 1).join('\n') };
}

/** A YAML scalar as written on one line: quoted (with its escapes) or plain, either before a ` #` comment. */
function scalar(raw: string): string {
  const value = raw.trim();
  const doubleQuoted = /^"((?:[^"\\]|\\.)*)"/.exec(value);
  if (doubleQuoted !== null) {
    try {
      // A double-quoted YAML scalar's escapes are JSON's, for every case a title needs.
      return String(JSON.parse(doubleQuoted[0])).trim();
    } catch {
      return (doubleQuoted[1] ?? '').trim();
    }
  }
  const singleQuoted = /^'((?:[^']|'')*)'/.exec(value);
  if (singleQuoted !== null) return (singleQuoted[1] ?? '').replaceAll("''", "'").trim();
  return value.replace(/(^|\s)#.*$/, '').trim();
}

/** The text of the first level-1 heading, if any. */
function firstHeading(markdown: string): string | undefined {
  return markdownHeadings(markdown).find((h) => h.level === 1)?.text;
}

function extensionOf(source: string): string {
  const name = baseNameWithExtension(source);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

function baseName(source: string): string {
  const name = baseNameWithExtension(source);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

function baseNameWithExtension(source: string): string {
  return source.slice(source.lastIndexOf('/') + 1);
}
