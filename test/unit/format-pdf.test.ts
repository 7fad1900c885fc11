import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DocumentSection, FormatResult } from '../../functions/core/ingest/formats/document-format';
import { MAX_PAGES, pdfFormat } from '../../functions/core/ingest/formats/pdf';
import { REPO_ROOT } from '../../scripts/local/stack';
import {
  DEBIAN_DOCUMENTS,
  describeWithDebianDocuments,
  readDebianDocument,
} from '../support/debian-documents';
import { deflateBomb, handWrittenPdf, streamObject } from '../support/hand-written-pdf';

/**
 * The PDF reader on real PDFs nobody on this project wrote (the Debian Policy Manual, with an outline; the FHS,
 * without one), and on the hostile inputs a sync must survive, each refused alone with its reason and within the
 * Batch function's memory. How long each takes is the bench's to measure (`npm run bench -- --only documentsPdf`):
 * a time bound here would fail on a busy machine, not on a slow reader; a reader that hangs fails on Jest's timeout.
 */

const context = { source: 'test.pdf', maxBytes: 50 * 1024 * 1024 };

type Read = Extract<FormatResult, { ok: true }>;
function read(result: FormatResult): Read {
  if (!result.ok) throw new Error(`expected the PDF to be read, but it was rejected: ${result.message}`);
  return result;
}

function sectionAt(sections: DocumentSection[], last: string): DocumentSection {
  const section = sections.find((s) => s.path[s.path.length - 1] === last);
  if (section === undefined) throw new Error(`no section "${last}"`);
  return section;
}

describeWithDebianDocuments('PDF reader on the Debian Policy Manual (an outline)', ['policyPdf'], () => {
  let policy: Read;
  beforeAll(async () => {
    policy = read(await pdfFormat.read(readDebianDocument(DEBIAN_DOCUMENTS.policyPdf), context));
  });

  it('takes the title from the metadata', () => {
    expect(policy.title).toBe('Debian Policy Manual');
  });

  it('gives 4.9 its nested heading path, numbered as printed, its pages and its text', () => {
    // Act
    const rules = sectionAt(policy.sections, '4.9 Main building script: debian/rules');

    // Assert
    expect(rules.path).toEqual(['Source packages', '4.9 Main building script: debian/rules']);
    expect(rules.pages?.map((p) => p.page)).toEqual([33, 34, 35, 36]);
    expect(rules.pages?.[0]?.offset).toBe(0);
    expect(rules.text).toMatch(
      /^This file must be an executable makefile\. It contains the package-specific/,
    );
    // Paragraphs: wrapped lines joined with a space, a blank line between paragraphs.
    expect(rules.text).toContain(
      'This file must be an executable makefile. It contains the package-specific recipes for compiling the source (if required) and constructing one or more binary packages.\n\ndebian/rules must start with the line #!/usr/bin/make -f',
    );
    // The subsection is its own section, starting at the line its bookmark points to (mid-page).
    const options = sectionAt(policy.sections, '4.9.1 debian/rules and DEB_BUILD_OPTIONS');
    expect(options.path).toEqual([
      'Source packages',
      '4.9 Main building script: debian/rules',
      '4.9.1 debian/rules and DEB_BUILD_OPTIONS',
    ]);
    expect(options.pages?.[0]?.page).toBe(36);
    expect(options.text).toMatch(/^Supporting the standardized environment variable DEB_BUILD_OPTIONS/);
  });

  it('names a heading wrapped over two lines as printed, and leaves its lines out of the text', () => {
    const title = '7.2 Binary Dependencies - Depends, Recommends, Suggests, Enhances, Pre-Depends';
    const depends = sectionAt(policy.sections, title);
    expect(depends.path).toEqual(['Declaring relationships between packages', title]);
    expect(depends.pages?.[0]?.page).toBe(69);
    expect(depends.text).toMatch(/^Packages can declare in their control file/);
  });

  it("places each page mark where that page's text starts", () => {
    const rules = sectionAt(policy.sections, '4.9 Main building script: debian/rules');
    const marks = rules.pages ?? [];
    const offsets = marks.map((m) => m.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(marks[marks.length - 1]?.offset).toBeLessThan(rules.text.length);
    // Page 34 starts with this sentence (its running header left out).
    const page34 = marks.find((m) => m.page === 34);
    expect(rules.text.slice(page34?.offset, (page34?.offset ?? 0) + 40)).toBe(
      'Required targets must not attempt to wri',
    );
  });

  it('drops the running header and the heading lines from the text', () => {
    for (const section of policy.sections) {
      expect({ path: section.path, header: section.text.includes('Debian Policy Manual, Release') }).toEqual({
        path: section.path,
        header: false,
      });
    }
    const chapter = policy.sections.find((s) => s.path.length === 1 && s.path[0] === 'Source packages');
    // Its "CHAPTER" and "FOUR" lines are the heading's, not text.
    expect(chapter?.text).toMatch(/^A Debian source package contains/);
    expect(chapter?.pages?.[0]?.page).toBe(29);
  });
});

describeWithDebianDocuments(
  'PDF reader on the FHS 3.0 (no outline: headings from layout)',
  ['fhsPdf'],
  () => {
    let fhs: Read;
    beforeAll(async () => {
      fhs = read(await pdfFormat.read(readDebianDocument(DEBIAN_DOCUMENTS.fhsPdf), context));
    });

    it('finds the title, and the headings from their larger font, nested by size', () => {
      expect(fhs.title).toBe('Filesystem Hierarchy Standard');
      const purpose = fhs.sections.find(
        (s) => s.path.at(-2) === '5.15. /var/tmp : Temporary files preserved between system reboots',
      );
      expect(purpose?.path).toEqual([
        'Chapter 5. The /var Hierarchy',
        '5.15. /var/tmp : Temporary files preserved between system reboots',
        '5.15.1. Purpose',
      ]);
      expect(purpose?.pages).toEqual([{ offset: 0, page: 45 }]);
      expect(purpose?.text).toContain(
        'Files and directories located in /var/tmp must not be deleted when the system is booted.',
      );
    });

    it('finds a bold heading in the body\'s size ("Abstract") and leaves the tables\' bold header rows in the text', () => {
      const abstract = fhs.sections.find((s) => s.path.at(-1) === 'Abstract');
      expect(abstract?.text).toMatch(/^This standard consists of a set of requirements and guidelines/);
      expect(fhs.sections.some((s) => s.path.at(-1) === 'Directory Description')).toBe(false);
      expect(fhs.sections.some((s) => s.path.at(-1)?.startsWith('•'))).toBe(false);
    });

    it('joins a heading wrapped over two lines into one', () => {
      expect(fhs.sections.map((s) => s.path[1])).toContain(
        '3.4. /bin : Essential user command binaries (for use by all users)',
      );
    });
  },
);

describe('PDF reader on tagged PDFs without an outline', () => {
  it("cuts sections at the heading elements when the headings are in the body's size (Chromium-made)", async () => {
    // Arrange: H1 and H2 in 11 pt bold, as the body; no outline, so layout alone would find no heading.
    const bytes = readFileSync(join(REPO_ROOT, 'test/fixtures/pdf/tagged-same-size-headings.pdf'));

    // Act
    const result = read(await pdfFormat.read(bytes, context));

    // Assert
    expect(result.sections.map((s) => s.path)).toEqual([
      ['Visitor policy'],
      ['Visitor policy', 'Parking'],
      ['Visitor policy', 'Wi-Fi for visitors'],
    ]);
    expect(sectionAt(result.sections, 'Wi-Fi for visitors').text).toContain(
      'The visitor network is called Acme-Guest',
    );
  });

  it("cuts sections at bold lines in the body's size when the PDF has neither outline nor tags (Chromium-made)", async () => {
    // Arrange: a 16 pt title, then 11 pt bold section names, after a logo; a bold "Note:", a bold sentence, a
    // table's bold header row and a bold list item in the body are not headings.
    const bytes = readFileSync(join(REPO_ROOT, 'test/fixtures/pdf/untagged-bold-headings.pdf'));

    // Act
    const result = read(await pdfFormat.read(bytes, context));

    // Assert
    expect(result.sections.map((s) => s.path)).toEqual([
      ['Visitor policy'],
      ['Visitor policy', 'Signing in'],
      ['Visitor policy', 'Parking'],
      ['Visitor policy', 'Wi-Fi for visitors'],
    ]);
    expect(sectionAt(result.sections, 'Signing in').text).toContain(
      'Note: a visitor who stays after six in the evening is signed out by security.\n\nVisitors never enter the server room, even with an escort.',
    );
    expect(sectionAt(result.sections, 'Parking').text).toContain('Level Spaces');
    expect(sectionAt(result.sections, 'Parking').text).toContain('Electric cars');
  });

  it('reads the sample travel policy (Chromium-made, tagged) into its sections, each with its page', async () => {
    // Act
    const result = read(
      await pdfFormat.read(readFileSync(join(REPO_ROOT, 'samples/docs/travel-policy.pdf')), context),
    );

    // Assert
    expect(result.sections.map((s) => s.path.at(-1))).toEqual([
      'Travel policy',
      'Booking a trip',
      'Hotels',
      'Meals while travelling',
      'Claiming expenses after a trip',
      'Safety while travelling',
    ]);
    expect(sectionAt(result.sections, 'Meals while travelling').pages?.[0]?.page).toBe(2);
  });
});

describe('PDF reader on hostile inputs: each refused alone, with its reason, within memory', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'format-pdf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const readPdf = (bytes: Uint8Array) => pdfFormat.read(bytes, context);

  /** Reads a PDF in a fresh Node process: its peak memory is the reader's, not a Jest worker's whole history. */
  const readInChild = (
    bytes: Uint8Array,
  ): { result: FormatResult | { ok: true; paths: string[][] }; ms: number; peakRssMb: number } => {
    const file = join(dir, 'child.pdf');
    writeFileSync(file, bytes);
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'test/support/read-pdf-child.ts'), file],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 50_000 },
    );
    if (child.status !== 0)
      throw new Error(`the child reading the PDF failed: ${child.stderr || child.error}`);
    return JSON.parse(child.stdout);
  };

  describeWithDebianDocuments('from the Debian Policy Manual', ['policyPdf'], () => {
    it('a truncated PDF (the first half of its bytes) is malformed', async () => {
      const policy = readDebianDocument(DEBIAN_DOCUMENTS.policyPdf);
      const result = await readPdf(policy.subarray(0, Math.floor(policy.length / 2)));
      expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    });

    const qpdf = spawnSync('qpdf', ['--version']).status === 0;
    (qpdf || process.env.CI === 'true' ? it : it.skip)(
      `a password-protected PDF is encrypted${qpdf ? '' : ' (skipped: qpdf not installed; apt-get install -y qpdf)'}`,
      async () => {
        const plain = join(dir, 'policy.pdf');
        const locked = join(dir, 'policy-locked.pdf');
        writeFileSync(plain, readDebianDocument(DEBIAN_DOCUMENTS.policyPdf));
        const made = spawnSync('qpdf', ['--encrypt', 'user', 'owner', '256', '--', plain, locked]);
        expect(made.status).toBe(0);

        const result = await readPdf(readFileSync(locked));

        expect(result).toEqual({ ok: false, reason: 'encrypted', message: 'the PDF is password-protected' });
      },
    );
  });

  it('a scan (pages with an image, no text layer) is no-text, saying OCR is not supported', async () => {
    // Arrange: two pages, each painting one 8×8 grey image and no text.
    const image = streamObject(
      '/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8',
      Buffer.alloc(64, 0x80),
    );
    const paint = streamObject('', Buffer.from('q 500 0 0 700 50 50 cm /Im0 Do Q', 'latin1'));
    const page =
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 4 0 R /Resources << /XObject << /Im0 3 0 R >> >> >>';
    const pdf = handWrittenPdf([
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [5 0 R 6 0 R] /Count 2 >>',
      image,
      paint,
      page,
      page,
    ]);

    // Act
    const result = await readPdf(pdf);

    // Assert
    expect(result).toMatchObject({ ok: false, reason: 'no-text' });
    expect(!result.ok && result.message).toMatch(/no text layer.*OCR is not supported/);
  });

  it(`a page bomb (a page tree that repeats itself to 10,000 pages) is too complex, over ${MAX_PAGES} pages`, async () => {
    // Arrange: the root has 100 times the same node, which has 100 times the same page.
    const hundred = (ref: string) => Array.from({ length: 100 }, () => ref).join(' ');
    const pdf = handWrittenPdf([
      '<< /Type /Catalog /Pages 2 0 R >>',
      `<< /Type /Pages /Kids [${hundred('3 0 R')}] /Count 10000 >>`,
      `<< /Type /Pages /Parent 2 0 R /Kids [${hundred('4 0 R')}] /Count 100 >>`,
      '<< /Type /Page /Parent 3 0 R /MediaBox [0 0 600 800] /Contents 5 0 R /Resources << /Font << /F1 6 0 R >> >> >>',
      streamObject('', Buffer.from('BT /F1 12 Tf 72 700 Td (The same page again) Tj ET', 'latin1')),
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ]);

    // Act
    const result = await readPdf(pdf);

    // Assert
    expect(result).toMatchObject({ ok: false, reason: 'too-complex' });
    expect(!result.ok && result.message).toContain('10000 pages');
  });

  it('a decompression bomb (a page whose Flate stream inflates to 1.1 GB) is too complex, within memory', async () => {
    // Arrange: 1.1 GB of spaces in 5.6 MB.
    const bomb = deflateBomb(1_100 * 1024 * 1024);
    const pdf = handWrittenPdf([
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
      streamObject('/Filter /FlateDecode', bomb),
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ]);

    // Act
    const { result, peakRssMb: peak } = readInChild(pdf);

    // Assert
    expect(result).toMatchObject({ ok: false, reason: 'too-complex' });
    expect(!result.ok && result.message).toMatch(/inflates to more than/);
    // The Batch function has 1,024 MB; the reader (in a process of its own, Node and pdf.js included) held at
    // most one capped stream's output.
    expect(peak).toBeLessThan(700);
  }, 60_000);

  it('an image bomb beside text in two fonts (an image inflating to 1.1 GB) reads the text, within memory', async () => {
    // Arrange: a page in Helvetica and Helvetica-Bold (so its fonts are named, through its operator list) that
    // first draws a 20,000 × 19,000 RGB image whose Flate stream inflates to 1.1 GB.
    const pdf = handWrittenPdf([
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 6 0 R >> /XObject << /Im1 7 0 R >> >> >>',
      streamObject(
        '',
        Buffer.from(
          'q 100 0 0 100 72 720 cm /Im1 Do Q BT /F2 12 Tf 72 700 Td (Badges) Tj ET BT /F1 12 Tf 72 680 Td (Badges are worn at all times.) Tj ET',
          'latin1',
        ),
      ),
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>',
      streamObject(
        '/Type /XObject /Subtype /Image /Width 20000 /Height 19000 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode',
        deflateBomb(1_100 * 1024 * 1024),
      ),
    ]);

    // Act
    const { result, peakRssMb: peak } = readInChild(pdf);

    // Assert: the image is never decoded (pdf.js would hold its 1.1 GB of pixels); the text is read, and the bold
    // line is its section's heading.
    expect(result).toEqual({ ok: true, paths: [['Badges']] });
    expect(peak).toBeLessThan(700);
  }, 60_000);

  it('a hand-written PDF with text reads, after all of those, in the same process', async () => {
    const pdf = handWrittenPdf([
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
      streamObject(
        '',
        Buffer.from('BT /F1 12 Tf 72 700 Td (Rotate the VPN key every 90 days.) Tj ET', 'latin1'),
      ),
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ]);

    const result = read(await pdfFormat.read(pdf, context));

    expect(result.sections).toEqual([
      { path: [], text: 'Rotate the VPN key every 90 days.', pages: [{ offset: 0, page: 1 }] },
    ]);
  });

  it('a file that is not a PDF at all is malformed', async () => {
    const result = await pdfFormat.read(new TextEncoder().encode('# Just Markdown'), context);
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
