import { createHash } from 'node:crypto';
import { baseNameWithExtension, DOCUMENT_FORMATS_SENTENCE } from './formats/catalog';
import type { DocumentSection, LoadRejectionReason } from './formats/document-format';
import { formatOf } from './formats/index';

export { isDocumentName } from './formats/catalog';
export type { DocumentSection, LoadRejectionReason } from './formats/document-format';

/** A document read from its origin, in the one model every format comes to (see formats/document-format.ts). */
export interface LoadedDocument {
  /** The document's name at its origin (a relative path, an `s3://` URI, a page's URL), as given. */
  source: string;
  /** The format it was read as: `Markdown`, `plain text`, `PDF`, `Word`, `HTML`. */
  format: string;
  /**
   * The document's own title (front matter, PDF or HTML metadata, a Word file's title), else its first heading,
   * else the file name without its extension.
   */
  title: string;
  /** Front matter `collection`: the access-control group the document belongs to. */
  collection?: string;
  /** Where a person can open it: a web page's address, or a file's public link when its origin declares one. */
  url?: string;
  /** The document's text cut at its headings, in reading order. */
  sections: DocumentSection[];
  /** Hex sha256 of the file's bytes: what the ingest manifest diffs on. */
  contentHash: string;
}

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
  /** The media type a web server declared for it (with its charset): picks the format of an extensionless page. */
  contentType?: string;
  /** Where a person can open the document; relative links in a web page are resolved against it. */
  url?: string;
}

/**
 * Loads one document from its bytes and name, in whichever format it is (formats/index.ts). Never throws for a
 * bad file: an unsupported, oversized, empty, broken or hostile file comes back as a rejection with a reason, so
 * one bad file cannot fail a whole sync.
 */
export async function loadDocument(
  bytes: Uint8Array,
  source: string,
  { maxBytes = MAX_DOCUMENT_BYTES, contentType, url }: LoadDocumentOptions = {},
): Promise<LoadDocumentResult> {
  const reject = (reason: LoadRejectionReason, message: string): LoadDocumentResult => ({
    ok: false,
    source,
    reason,
    message: `${source}: ${message}`,
  });

  const format = formatOf(source, contentType);
  if (format === undefined) {
    return reject('unsupported-type', `only these formats are indexed: ${DOCUMENT_FORMATS_SENTENCE}`);
  }
  if (bytes.byteLength > maxBytes) {
    return reject('too-large', `the file is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`);
  }
  if (bytes.byteLength === 0) return reject('empty', 'the file is empty');

  let result: Awaited<ReturnType<typeof format.read>>;
  try {
    result = await format.read(bytes, {
      source,
      maxBytes,
      ...(url !== undefined ? { url } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    });
  } catch (error) {
    // A reader promises a rejection rather than a throw; a parser's own bug still fails this file alone.
    const message = error instanceof Error ? error.message : String(error);
    return reject('malformed', `the ${format.name} file could not be read: ${message}`);
  }
  if (!result.ok) return reject(result.reason, result.message);
  if (!result.sections.some((section) => section.text.trim() !== '')) {
    // Headings with nothing under them (a generated API.md stub, say) are said apart from a blank file.
    const onlyHeadings = result.sections.some((section) => section.path.length > 0);
    return reject(
      'empty',
      onlyHeadings ? 'the file has no text to index, only headings' : 'the file has no text',
    );
  }
  return {
    ok: true,
    document: {
      source,
      format: format.name,
      title: result.title?.trim() || baseName(source) || source,
      ...(result.collection ? { collection: result.collection } : {}),
      ...(url !== undefined ? { url } : {}),
      sections: result.sections,
      contentHash: createHash('sha256').update(bytes).digest('hex'),
    },
  };
}

/** The file name without its extension: the title of a document that names none. */
function baseName(source: string): string {
  const last = baseNameWithExtension(source);
  const name = /^https?:\/\//i.test(source) ? decodeURIComponentSafely(last) : last;
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

function decodeURIComponentSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
