import type { LoadedDocument } from '../../functions/core/ingest/load-document';
import { markdownSections } from '../../functions/core/ingest/markdown-headings';
import { splitDocument } from '../../functions/core/ingest/split-document';

function markdown(text: string, source = 'handbook/setup.md'): LoadedDocument {
  const sections = markdownSections(text).map((section) => ({ path: section.path, text: section.body }));
  return { source, format: 'Markdown', title: 'Setup', sections, contentHash: 'hash-1' };
}

const HANDBOOK = [
  '# Setup',
  '',
  'Everything a new engineer sets up on day one.',
  '',
  '## VPN',
  '',
  'Install the VPN client from the self-service portal.',
  '',
  '### Rotating keys',
  '',
  'Rotate your VPN key every 90 days with the script below.',
  '',
  '```sh',
  '# this comment is not a heading',
  'rotate-vpn-key --now',
  '```',
  '',
  'Mail',
  '----',
  '',
  'Mail is set up for you.',
].join('\n');

describe('splitDocument', () => {
  it('records the heading path of every chunk, ignoring # lines in code', async () => {
    // Act
    const chunks = await splitDocument(markdown(HANDBOOK));

    // Assert
    expect(chunks.map((c) => [c.heading, c.text.split('\n')[0]])).toEqual([
      ['Setup', 'Everything a new engineer sets up on day one.'],
      ['Setup › VPN', 'Install the VPN client from the self-service portal.'],
      ['Setup › VPN › Rotating keys', 'Rotate your VPN key every 90 days with the script below.'],
      ['Setup › Mail', 'Mail is set up for you.'],
    ]);
    expect(chunks[2]?.text).toContain('# this comment is not a heading\nrotate-vpn-key --now\n```');
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(chunks.every((c) => c.source === 'handbook/setup.md' && c.contentHash === 'hash-1')).toBe(true);
  });

  it('cuts sections only at top-level headings, read as CommonMark reads them', async () => {
    // Arrange
    const text = [
      '# [VPN](https://vpn.example.com) `setup` **guide** ##',
      '',
      '> # A heading quoted from elsewhere',
      '',
      '- # A heading in a list item',
      '',
      '#hashtag is a paragraph',
      '',
      '<details>',
      '# a comment inside HTML',
      '</details>',
      '',
      'Two-line',
      'setext heading',
      '--------------',
      '',
      'Body.',
    ].join('\n');

    // Act
    const chunks = await splitDocument(markdown(text));

    // Assert
    expect(chunks.map((c) => c.heading)).toEqual([
      'VPN setup guide',
      'VPN setup guide › Two-line setext heading',
    ]);
    expect(chunks[0]?.text).toContain('> # A heading quoted from elsewhere');
    expect(chunks[0]?.text).toContain('# a comment inside HTML');
    expect(chunks[1]?.text).toBe('Body.');
  });

  it('keeps cutting at headings after a list nested deeper than the parser follows', async () => {
    // Arrange
    const text = `# Outline\n\n${'- '.repeat(40)}deep item\n\n# After\n\nStill its own section.`;

    // Act
    const chunks = await splitDocument(markdown(text));

    // Assert
    expect(chunks.map((c) => c.heading)).toEqual(['Outline', 'After']);
    expect(chunks[0]?.text.endsWith('deep item')).toBe(true);
    expect(chunks[1]?.text).toBe('Still its own section.');
  });

  it('splits Japanese text, which has no spaces, into bounded chunks that end at sentence ends', async () => {
    // Arrange
    const sentences = Array.from(
      { length: 120 },
      (_, i) => `これは経費精算の手順の説明で、${i}番目の文です。`,
    );
    const document = markdown(`# 経費精算\n\n${sentences.join('')}`, 'ja/expenses.md');

    // Act
    const chunks = await splitDocument(document, { chunkSize: 300, chunkOverlap: 40 });

    // Assert
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(300);
      expect(chunk.text.endsWith('。')).toBe(true);
      expect(chunk.text.startsWith('。')).toBe(false);
      expect(chunk.heading).toBe('経費精算');
    }
    expect(chunks.map((c) => c.text).join('')).toContain(sentences[119]);
  });

  it('keeps English chunks within the size and repeats the overlap', async () => {
    // Arrange
    const paragraph = Array.from({ length: 80 }, (_, i) => `Sentence number ${i} explains one step.`).join(
      ' ',
    );

    // Act
    const chunks = await splitDocument(markdown(`## Steps\n\n${paragraph}`), {
      chunkSize: 400,
      chunkOverlap: 80,
    });

    // Assert
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.text.length <= 400)).toBe(true);
    const [first, second] = chunks;
    const lastSentenceOfFirst = first?.text.split('. ').at(-1) ?? '';
    expect(second?.text).toContain(lastSentenceOfFirst);
  });

  it('gives the same ids on every run', async () => {
    // Act
    const first = await splitDocument(markdown(HANDBOOK));
    const second = await splitDocument(markdown(HANDBOOK));

    // Assert
    expect(second.map((c) => c.id)).toEqual(first.map((c) => c.id));
    expect(new Set(first.map((c) => c.id)).size).toBe(first.length);
    expect(first.every((c) => /^[0-9a-f]{32}$/.test(c.id))).toBe(true);
  });

  it('keeps the ids of chunks an edit elsewhere did not touch', async () => {
    // Arrange
    const edited = HANDBOOK.replace(
      'Install the VPN client from the self-service portal.',
      'A new paragraph first.\n\nInstall the VPN client from the self-service portal, version 7.',
    );

    // Act
    const before = await splitDocument(markdown(HANDBOOK));
    const after = await splitDocument(markdown(edited));

    // Assert
    const beforeIds = new Set(before.map((c) => c.id));
    const kept = after.filter((c) => beforeIds.has(c.id)).map((c) => c.heading);
    expect(kept).toEqual(['Setup', 'Setup › VPN › Rotating keys', 'Setup › Mail']);
    expect(after.find((c) => c.heading === 'Setup › VPN')?.id).not.toBe(before[1]?.id);
  });

  it('gives ids that differ between sources and between repeated paragraphs', async () => {
    // Arrange
    const repeated = '## A\n\nSee the runbook.\n\n## B\n\nSee the runbook.';

    // Act
    const here = await splitDocument(markdown(repeated, 'a.md'));
    const there = await splitDocument(markdown(repeated, 'b.md'));

    // Assert
    expect(here.map((c) => c.text)).toEqual(['See the runbook.', 'See the runbook.']);
    expect(new Set([...here, ...there].map((c) => c.id)).size).toBe(4);
  });

  it('splits plain text without heading paths', async () => {
    // Arrange
    const text = '# not a heading in a .txt file\n\nJust notes.';
    const document: LoadedDocument = {
      source: 'notes.txt',
      format: 'plain text',
      title: 'notes',
      collection: 'ops',
      sections: [{ path: [], text }],
      contentHash: 'h',
    };

    // Act
    const chunks = await splitDocument(document);

    // Assert
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ heading: '', collection: 'ops', title: 'notes' });
    expect(chunks[0]?.text).toBe(text);
  });
});
