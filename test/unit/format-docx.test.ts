import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { DocumentSection, FormatResult } from '../../functions/core/ingest/formats/document-format';
import { docxFormat } from '../../functions/core/ingest/formats/docx';
import { withCpuTime } from '../support/cpu-time';
import {
  DEBIAN_DOCUMENTS,
  describeWithDebianDocuments,
  readDebianDocument,
} from '../support/debian-documents';

const LIMIT = 10 * 1024 * 1024;

function sectionsOf(result: FormatResult): { title?: string; sections: DocumentSection[] } {
  if (!result.ok)
    throw new Error(`expected the Word file to be read, but it was rejected: ${result.message}`);
  return result;
}

/** A Debian Reference chapter made into a real Word file by pandoc, as a person would export one. */
function pandocDocx(chapter: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'format-docx-'));
  try {
    const target = join(dir, 'chapter.docx');
    execFileSync(DEBIAN_DOCUMENTS.pandoc, [
      '--quiet',
      join(DEBIAN_DOCUMENTS.referenceDir, chapter),
      '-o',
      target,
    ]);
    return readFileSync(target);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A zip of the given entries, each deflated, written field by field (APPNOTE 4.3): a local header and data per
 * entry, the central directory, its end record. `data` is the deflated bytes; `size` and `crc` what they expand to.
 */
function zip(entries: { name: string; data: Buffer; size: number; crc: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(entry.crc, 14);
    local.writeUInt32LE(entry.data.length, 18);
    local.writeUInt32LE(entry.size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(entry.crc, 16);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, entry.data);
    centrals.push(central, name);
    offset += local.length + name.length + entry.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

function deflated(name: string, text: string) {
  const bytes = Buffer.from(text);
  return { name, data: deflateRawSync(bytes), size: bytes.length, crc: crc32(bytes) };
}

/**
 * A zip bomb shaped as a Word file: word/document.xml expands to 4 GiB − 1 MiB of spaces from about 4 MB. The
 * deflate stream is one 1 MiB block, flushed so it stands alone, repeated, then an empty final block.
 */
function zipBomb({ declaredSize }: { declaredSize?: number } = {}): Buffer {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const block = deflateRawSync(chunk, { finishFlush: constants.Z_FULL_FLUSH, level: 9 });
  const copies = 4095;
  let crc = 0;
  for (let i = 0; i < copies; i++) crc = crc32(chunk, crc);
  const data = Buffer.concat([
    ...Array.from({ length: copies }, () => block),
    deflateRawSync(Buffer.alloc(0)),
  ]);
  return zip([
    deflated(
      '[Content_Types].xml',
      '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    ),
    { name: 'word/document.xml', data, size: declaredSize ?? copies * chunk.length, crc },
  ]);
}

describeWithDebianDocuments(
  'docxFormat on a Debian Reference chapter made by pandoc',
  ['referenceDir', 'pandoc'],
  () => {
    let docx: Buffer;
    beforeAll(() => {
      docx = pandocDocx('ch02.en.html');
    });

    it('keeps headings as sections, lists, tables, and takes the title from the core properties', async () => {
      // Act
      const { title, sections } = sectionsOf(
        await docxFormat.read(docx, { source: 'ch02.docx', maxBytes: LIMIT }),
      );

      // Assert
      expect(title).toBe('Chapter 2. Debian package management');
      const configuration = sections.find(
        (section) => section.path.at(-1) === '2.1.1. Package configuration',
      );
      expect(configuration?.path).toEqual([
        'Chapter 2. Debian package management',
        '2.1. Debian package management prerequisites',
        '2.1.1. Package configuration',
      ]);
      expect(configuration?.text).toMatch(
        /^Here are some key points for package configuration on the Debian system\./,
      );
      expect(configuration?.text).toContain(
        '- The manual configuration by the system administrator is respected.',
      );
      const all = sections.map((section) => section.text).join('\n');
      expect(all).toContain('| package | popcon | size | description |');
      expect(all).toMatch(/\| \[dpkg\]\(http:\/\/packages\.debian\.org\/sid\/dpkg\) \|/);
      // A Word file has no address to link a heading to.
      expect(sections.every((section) => section.anchor === undefined)).toBe(true);
    });

    it('rejects the same file truncated as malformed', async () => {
      const result = await docxFormat.read(docx.subarray(0, Math.floor(docx.length / 2)), {
        source: 'ch02.docx',
        maxBytes: LIMIT,
      });
      expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    });
  },
);

describeWithDebianDocuments('docxFormat on a PDF renamed .docx', ['policyPdf'], () => {
  it('rejects it as malformed, saying it is not a Word document', async () => {
    const result = await docxFormat.read(readDebianDocument(DEBIAN_DOCUMENTS.policyPdf), {
      source: 'policy.docx',
      maxBytes: LIMIT,
    });
    expect(result).toEqual({
      ok: false,
      reason: 'malformed',
      message: 'the file is not a Word document (.docx is a zip, and this is not one)',
    });
  });
});

describe('docxFormat', () => {
  it('rejects a zip bomb from its central directory, in bounded time and memory', async () => {
    // Arrange
    const bomb = zipBomb();
    expect(bomb.length).toBeLessThan(LIMIT);
    // It is a real bomb: its document's deflate stream goes on past 64 MiB (and on to 4 GiB).
    const start = bomb.indexOf('word/document.xml') + 'word/document.xml'.length;
    expect(() => inflateRawSync(bomb.subarray(start), { maxOutputLength: 64 * 1024 * 1024 })).toThrow(
      'Cannot create a Buffer larger than 67108864 bytes',
    );
    const rssBefore = process.memoryUsage().rss;

    // Act
    const { result, cpuMs } = await withCpuTime(() =>
      docxFormat.read(bomb, { source: 'bomb.docx', maxBytes: LIMIT }),
    );

    // Assert
    expect(result).toEqual({
      ok: false,
      reason: 'too-complex',
      message: 'the Word file expands to more than 100 MB',
    });
    expect(cpuMs).toBeLessThan(1_000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('rejects a zip bomb that declares a small size, in bounded time and memory', async () => {
    // Arrange: the directory says word/document.xml is 4 KB; it inflates to 4 GiB.
    const bomb = zipBomb({ declaredSize: 4096 });
    const rssBefore = process.memoryUsage().rss;

    // Act
    const { result, cpuMs } = await withCpuTime(() =>
      docxFormat.read(bomb, { source: 'bomb.docx', maxBytes: LIMIT }),
    );

    // Assert
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    expect(cpuMs).toBeLessThan(1_000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('rejects a zip of more than 10,000 parts', async () => {
    const entries = Array.from({ length: 10_001 }, (_, i) => deflated(`word/media/part${i}.xml`, '<x/>'));
    const result = await docxFormat.read(zip(entries), { source: 'many.docx', maxBytes: LIMIT });
    expect(result).toMatchObject({ ok: false, reason: 'too-complex' });
  });

  it('rejects an OLE compound file (a password-protected Word file) as encrypted', async () => {
    const ole = Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), Buffer.alloc(4096)]);
    const result = await docxFormat.read(ole, { source: 'secret.docx', maxBytes: LIMIT });
    expect(result).toMatchObject({ ok: false, reason: 'encrypted' });
  });

  it('rejects a zip that is not a Word document as malformed', async () => {
    const notWord = zip([deflated('readme.txt', 'hello')]);
    const result = await docxFormat.read(notWord, { source: 'other.docx', maxBytes: LIMIT });
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
