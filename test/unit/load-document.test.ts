import { createHash } from 'node:crypto';
import {
  type LoadDocumentResult,
  type LoadedDocument,
  loadDocument,
} from '../../functions/core/ingest/load-document';

function loaded(result: LoadDocumentResult): LoadedDocument {
  if (!result.ok) throw new Error(`expected the document to load, but it was rejected: ${result.message}`);
  return result.document;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('loadDocument', () => {
  it('reads title and collection from front matter and leaves it out of the text', async () => {
    // Arrange
    const markdown = [
      '---',
      'title: "VPN: rotating keys"',
      "collection: 'platform-eng' # who may read it",
      'tags:',
      '  - vpn',
      '---',
      '# Heading that is not the title',
      '',
      'Rotate the key every 90 days.',
    ].join('\n');

    // Act
    const document = loaded(await loadDocument(utf8(markdown), 'handbook/vpn.md'));

    // Assert
    expect(document).toMatchObject({
      source: 'handbook/vpn.md',
      format: 'Markdown',
      title: 'VPN: rotating keys',
      collection: 'platform-eng',
    });
    expect(document.sections).toEqual([
      { path: [], text: '' },
      { path: ['Heading that is not the title'], text: '\nRotate the key every 90 days.' },
    ]);
  });

  it('falls back to the first level-1 heading outside code, then to the file name', async () => {
    // Arrange
    const withHeading =
      '```sh\n# a shell comment\n```\n\n## Not level one\n\n# Expense policy\n\nKeep receipts.';
    const withoutHeading = '---\ncollection: finance\n---\nKeep receipts for seven years.';

    // Act
    const fromHeading = loaded(await loadDocument(utf8(withHeading), 'finance/expenses.md'));
    const fromName = loaded(await loadDocument(utf8(withoutHeading), 'finance/retention-policy.markdown'));
    const plainText = loaded(
      await loadDocument(utf8('# not markdown here\nplain notes'), 'notes/on-call.txt'),
    );

    // Assert
    expect(fromHeading.title).toBe('Expense policy');
    expect(fromHeading.collection).toBeUndefined();
    expect(fromName.title).toBe('retention-policy');
    expect(fromName.collection).toBe('finance');
    expect(plainText).toMatchObject({
      format: 'plain text',
      title: 'on-call',
      sections: [{ path: [], text: '# not markdown here\nplain notes' }],
    });
  });

  it('takes a title without the badges a README puts in its heading', async () => {
    // Arrange
    const markdown =
      '# wrap-ansi [![Build Status](https://ci.example/badge.svg)](https://ci.example) ![npm](n.svg)\n\nWraps.';

    // Act
    const document = loaded(await loadDocument(utf8(markdown), 'wrap-ansi/readme.md'));

    // Assert
    expect(document.title).toBe('wrap-ansi');
  });

  it('normalises Windows line endings and strips a byte-order mark', async () => {
    // Arrange
    const bytes = utf8('\uFEFF---\r\ntitle: 日本語の手引き\r\n---\r\n本文です。\r\n');

    // Act
    const document = loaded(await loadDocument(bytes, 'ja/guide.md'));

    // Assert
    expect(document.title).toBe('日本語の手引き');
    expect(document.sections).toEqual([{ path: [], text: '本文です。\n' }]);
  });

  it('hashes the exact bytes, so any edit changes the hash and an unchanged file keeps it', async () => {
    // Arrange
    const original = utf8('# Title\n\nBody.');
    const edited = utf8('# Title\n\nBody!');

    // Act
    const first = loaded(await loadDocument(original, 'a.md')).contentHash;
    const again = loaded(await loadDocument(original, 'a.md')).contentHash;
    const changed = loaded(await loadDocument(edited, 'a.md')).contentHash;

    // Assert
    expect(first).toBe(createHash('sha256').update(original).digest('hex'));
    expect(again).toBe(first);
    expect(changed).not.toBe(first);
  });

  it.each([
    ['an empty file', new Uint8Array(0), 'empty.md', 'empty', /empty/],
    ['a file of front matter only', utf8('---\ntitle: Nothing\n---\n\n  \n'), 'blank.md', 'empty', /no text/],
    [
      'a file with NUL bytes',
      Uint8Array.from([0x23, 0x20, 0x41, 0x00, 0x42]),
      'image.md',
      'binary',
      /binary/,
    ],
    ['UTF-16 text', Buffer.from('# Title', 'utf16le'), 'utf16.txt', 'binary', /UTF-16/],
    ['invalid UTF-8', Uint8Array.from([0x23, 0x20, 0xc3, 0x28, 0xff]), 'latin1.md', 'invalid-utf8', /UTF-8/],
    ['an unsupported type', utf8('PK'), 'slides.pptx', 'unsupported-type', /Markdown/],
  ])('rejects %s with a reason', async (_, bytes, source, reason, message) => {
    // Act
    const result = await loadDocument(bytes, source);

    // Assert
    expect(result).toMatchObject({ ok: false, source, reason });
    expect(!result.ok && result.message).toMatch(message);
    expect(!result.ok && result.message).toContain(source);
  });

  it('rejects a file over the size limit, naming the limit', async () => {
    // Arrange
    const bytes = utf8(`# Big\n\n${'x'.repeat(2_000)}`);

    // Act
    const result = await loadDocument(bytes, 'big.md', { maxBytes: 1_000 });
    const withinDefault = await loadDocument(bytes, 'big.md');

    // Assert
    expect(result).toMatchObject({ ok: false, reason: 'too-large' });
    expect(!result.ok && result.message).toContain('1000-byte limit');
    expect(withinDefault.ok).toBe(true);
  });
});
