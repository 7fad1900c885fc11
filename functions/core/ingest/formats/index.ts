import { extensionOf } from './catalog';
import type { DocumentFormat } from './document-format';
import { docxFormat } from './docx';
import { htmlFormat } from './html';
import { markdownFormat } from './markdown';
import { pdfFormat } from './pdf';
import { textFormat } from './text';

/**
 * Every format ingest reads, each in one file of this folder. Adding a format is that file, its line here and its
 * line in `catalog.ts` (what the listings know without loading a parser). Only the Batch function imports this.
 */
export const DOCUMENT_FORMATS: readonly DocumentFormat[] = [
  markdownFormat,
  textFormat,
  pdfFormat,
  docxFormat,
  htmlFormat,
];

/**
 * The format of a document: by its name's extension, else (a web page at `/guide/install/`) by the media type its
 * server declared. `undefined` when neither is one ingest reads.
 */
export function formatOf(source: string, contentType?: string): DocumentFormat | undefined {
  const extension = extensionOf(source);
  const byExtension = DOCUMENT_FORMATS.find((format) => format.extensions.includes(extension));
  if (byExtension !== undefined) return byExtension;
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (!mediaType) return undefined;
  return DOCUMENT_FORMATS.find((format) => format.mediaTypes.includes(mediaType));
}
