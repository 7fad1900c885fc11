import { strFromU8, unzipSync, zipSync } from 'fflate';
import mammoth from 'mammoth';
import type { DocumentFormat, FormatContext, FormatResult } from './document-format';
import { htmlToSections } from './html';

/**
 * Word files (.docx) as sections: mammoth turns the document into HTML (Heading 1–6 styles into h1–h6, lists,
 * tables), and the HTML reader (html.ts) makes the sections, so a Word file and a web page read alike.
 *
 * A .docx is a zip: before anything is inflated, its central directory is read (fflate) and the file is refused
 * when its entries would expand past MAX_DOCX_UNCOMPRESSED_BYTES or number more than MAX_DOCX_ENTRIES. A zip can
 * lie about its sizes, and mammoth's unzip (JSZip) inflates an entry whole before it checks one: so fflate inflates
 * every entry into a buffer of the size the directory declares (an entry that runs past it is an error, not a
 * larger buffer) and mammoth is given those bytes zipped again without compression. A zip bomb, honest or lying,
 * fails alone with memory bounded by the limit.
 */

/** A Word file's parts expanded, at most: a 1,000-page report with its images is under 50 MB. */
export const MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024;

/** A Word file's parts, at most: even a long document has a few dozen. */
export const MAX_DOCX_ENTRIES = 10_000;

/** docProps/core.xml is read for the title only up to this size. */
const MAX_CORE_PROPERTIES_BYTES = 1024 * 1024;

/** An OLE compound file: an encrypted (password-protected) Word file, or an old binary .doc. */
const OLE_SIGNATURE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

class ZipLimitError extends Error {
  constructor(readonly result: Extract<FormatResult, { ok: false }>) {
    super(result.message);
    this.name = 'ZipLimitError';
  }
}

function rejected(reason: Extract<FormatResult, { ok: false }>['reason'], message: string): FormatResult {
  return { ok: false, reason, message };
}

/**
 * The zip's entries checked against the limits, from the sizes its central directory declares, then inflated
 * within those sizes: the parts, or a rejection when the limits are passed or the zip cannot be read.
 */
function unzipWithinLimits(bytes: Uint8Array): { ok: true; files: Record<string, Uint8Array> } | Rejection {
  let entries = 0;
  let uncompressed = 0;
  try {
    const files = unzipSync(bytes, {
      // fflate reads the whole central directory before it inflates any entry.
      filter(file) {
        entries += 1;
        uncompressed += file.originalSize;
        if (entries > MAX_DOCX_ENTRIES) {
          throw new ZipLimitError({
            ok: false,
            reason: 'too-complex',
            message: `the Word file has more than ${MAX_DOCX_ENTRIES.toLocaleString('en')} parts`,
          });
        }
        if (uncompressed > MAX_DOCX_UNCOMPRESSED_BYTES) {
          throw new ZipLimitError({
            ok: false,
            reason: 'too-complex',
            message: `the Word file expands to more than ${MAX_DOCX_UNCOMPRESSED_BYTES / 1024 / 1024} MB`,
          });
        }
        return true;
      },
    });
    return { ok: true, files };
  } catch (error) {
    if (error instanceof ZipLimitError) return error.result;
    // Truncated, not a zip, or a part that inflates past the size the zip declares for it.
    return {
      ok: false,
      reason: 'malformed',
      message: 'the Word file is broken or truncated: its zip cannot be read',
    };
  }
}

type Rejection = Extract<FormatResult, { ok: false }>;

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The `dc:title` of a Word file's core properties, when it has one. */
function coreTitle(coreXml: string | undefined): string | undefined {
  const raw = coreXml ? /<dc:title(?:\s[^>]*)?>([^<]*)<\/dc:title>/.exec(coreXml)?.[1] : undefined;
  if (raw === undefined) return undefined;
  const title = raw
    .replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (entity, name: string) => {
      if (name.startsWith('#x') || name.startsWith('#X'))
        return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
      if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
      return XML_ENTITIES[name] ?? entity;
    })
    .replace(/\s+/g, ' ')
    .trim();
  return title === '' ? undefined : title;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
  return signature.every((byte, i) => bytes[i] === byte);
}

export const docxFormat: DocumentFormat = {
  name: 'Word',
  extensions: ['.docx'],
  mediaTypes: ['application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  async read(bytes: Uint8Array, context: FormatContext): Promise<FormatResult> {
    if (bytes.length > context.maxBytes) {
      return rejected(
        'too-large',
        `the Word file is ${bytes.length.toLocaleString('en')} bytes, more than the ${context.maxBytes.toLocaleString('en')} read`,
      );
    }
    if (bytes.length === 0) return rejected('empty', 'the Word file is empty');
    if (startsWith(bytes, OLE_SIGNATURE)) {
      return rejected(
        'encrypted',
        'the Word file is password-protected (or an old binary .doc, which is not read): save it as .docx without a password',
      );
    }
    if (!startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) {
      return rejected('malformed', 'the file is not a Word document (.docx is a zip, and this is not one)');
    }
    const zip = unzipWithinLimits(bytes);
    if (!zip.ok) return zip;
    const core = zip.files['docProps/core.xml'];
    const coreXml = core && core.length <= MAX_CORE_PROPERTIES_BYTES ? strFromU8(core) : undefined;
    let html: string;
    try {
      const converted = await mammoth.convertToHtml(
        { buffer: asBuffer(zipSync(zip.files, { level: 0 })) },
        {
          // Images are dropped (their alt text is kept): no data: URIs of their bytes in the HTML.
          convertImage: mammoth.images.imgElement(async () => ({ src: '' })),
          externalFileAccess: false,
        },
      );
      html = converted.value;
    } catch (error) {
      return rejected(
        'malformed',
        `the Word file could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    try {
      const read = htmlToSections(`<!doctype html><html><body>${html}</body></html>`, { anchors: false });
      if (!read.ok) return read.reason === 'empty' ? rejected('empty', 'the Word file has no text') : read;
      const title =
        coreTitle(coreXml) ?? read.title ?? read.sections.find((section) => section.path.length > 0)?.path[0];
      return { ok: true, ...(title ? { title } : {}), sections: read.sections };
    } catch (error) {
      return rejected(
        'malformed',
        `the Word file could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  },
};
