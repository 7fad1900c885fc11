import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DocumentSection, FormatResult } from '../../functions/core/ingest/formats/document-format';
import { htmlFormat } from '../../functions/core/ingest/formats/html';
import { withCpuTime } from '../support/cpu-time';
import { DEBIAN_DOCUMENTS, describeWithDebianDocuments } from '../support/debian-documents';

const PAGE_URL = 'https://www.debian.org/doc/manuals/debian-reference/ch02.en.html';
const LIMIT = 10 * 1024 * 1024;

function chapter(name: string): Buffer {
  return readFileSync(join(DEBIAN_DOCUMENTS.referenceDir, name));
}

function sectionsOf(result: FormatResult): { title?: string; sections: DocumentSection[] } {
  if (!result.ok) throw new Error(`expected the page to be read, but it was rejected: ${result.message}`);
  return result;
}

/** How a page names the encoding. */
const label = (encoding: string) => (encoding === 'CP932' ? 'Shift_JIS' : encoding);

const utf8 = (text: string) => new TextEncoder().encode(text);

/**
 * The page's text through glibc's iconv; `-c` drops what the target cannot say (the chapter's no-break spaces).
 * Shift_JIS is glibc's CP932, which is what the web calls Shift_JIS (WHATWG's windows-31j: 0x7E is `~`, where
 * glibc's SHIFT_JIS reads JIS X 0201's overline `‾`).
 */
function iconv(bytes: Uint8Array, from: string, to: string): Buffer {
  return execFileSync('iconv', ['-c', '-f', from, '-t', to], { input: bytes, maxBuffer: 64 * 1024 * 1024 });
}

describeWithDebianDocuments('htmlFormat on the Debian Reference', ['referenceDir'], () => {
  it('reads a section with its heading path, anchor and text, and no navigation from the page', async () => {
    // Act
    const { title, sections } = sectionsOf(
      await htmlFormat.read(chapter('ch02.en.html'), { source: PAGE_URL, maxBytes: LIMIT, url: PAGE_URL }),
    );

    // Assert
    expect(title).toBe('Chapter 2. Debian package management');
    const configuration = sections.find((section) => section.path.at(-1) === '2.1.1. Package configuration');
    expect(configuration).toMatchObject({
      path: [
        'Chapter 2. Debian package management',
        '2.1. Debian package management prerequisites',
        '2.1.1. Package configuration',
      ],
      anchor: '_package_configuration',
    });
    expect(configuration?.text).toMatch(
      /^Here are some key points for package configuration on the Debian system\./,
    );
    expect(configuration?.text).toContain(
      '- The manual configuration by the system administrator is respected.',
    );
    const aptVsAptGet = sections.find((section) => section.path.at(-1)?.startsWith('2.2.1. apt vs. apt-get'));
    expect(aptVsAptGet?.anchor).toBe(
      '_literal_apt_literal_vs_literal_apt_get_literal_literal_apt_cache_literal_vs_literal_aptitude_literal',
    );
    // The DocBook navigation header and footer ("Prev", "Next", "Home") and the table of contents are left out.
    const all = sections.map((section) => section.text).join('\n');
    expect(all).not.toMatch(/\bPrev\b|\bNext\b|Table of Contents|The system initialization/);
    expect(sections.every((section) => section.text.trim() !== '')).toBe(true);
  });

  it('turns a table into a Markdown pipe table with absolute links', async () => {
    // Act
    const { sections } = sectionsOf(
      await htmlFormat.read(chapter('ch02.en.html'), { source: PAGE_URL, maxBytes: LIMIT, url: PAGE_URL }),
    );

    // Assert
    const all = sections.map((section) => section.text).join('\n');
    // DocBook writes a no-break space after the table's number.
    expect(all).toMatch(/\*\*Table\s2\.1\.\sList of Debian package management tools\*\*/);
    expect(all).toContain('| package | popcon | size | description |');
    expect(all).toMatch(
      /\| \[`dpkg`\]\(http:\/\/packages\.debian\.org\/sid\/dpkg\) \| .* \| low level package management system for Debian \(file based\) \|/,
    );
    // The chapter's relative links resolve against the page's address; no link stays relative or non-http.
    expect(all).toContain('](https://www.debian.org/doc/manuals/debian-reference/ch');
    const targets = [...all.matchAll(/\]\(([^)\s]+)/g)].map((match) => match[1]);
    expect(targets.length).toBeGreaterThan(50);
    for (const target of targets) expect(target).toMatch(/^https?:\/\//);
  });

  it('reads the Japanese chapter in UTF-8, Shift_JIS and EUC-JP alike', async () => {
    // Arrange: the chapter in each encoding with its <meta> changed to say so; each compared with the UTF-8 page
    // of the same characters (iconv drops the no-break spaces Shift_JIS and EUC-JP cannot say).
    const original = chapter('ch02.ja.html');

    // Act
    const { title, sections } = sectionsOf(
      await htmlFormat.read(original, { source: 'ch02.ja.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(title).toBe('第2章 Debian パッケージ管理');
    expect(sections.find((section) => section.anchor === '_package_configuration')?.path.at(-1)).toBe(
      '2.1.1. パッケージ設定',
    );
    for (const encoding of ['CP932', 'EUC-JP']) {
      const sameCharacters = iconv(iconv(original, 'UTF-8', encoding), encoding, 'UTF-8');
      const declared = iconv(
        utf8(sameCharacters.toString('utf8').replace('charset=UTF-8', `charset=${label(encoding)}`)),
        'UTF-8',
        encoding,
      );
      const expected = await htmlFormat.read(sameCharacters, { source: 'ch02.ja.html', maxBytes: LIMIT });
      const read = await htmlFormat.read(declared, { source: 'ch02.ja.html', maxBytes: LIMIT });
      expect(read).toEqual(expected);
      expect(sectionsOf(read).sections.length).toBe(sections.length);
      // The server's Content-Type wins over the page's own <meta>.
      const served = await htmlFormat.read(iconv(sameCharacters, 'UTF-8', encoding), {
        source: 'ch02.ja.html',
        maxBytes: LIMIT,
        contentType: `text/html; charset=${label(encoding).toLowerCase()}`,
      });
      expect(served).toEqual(expected);
    }
  });

  it('detects Shift_JIS and EUC-JP Japanese pages that declare no character set', async () => {
    // Arrange: the chapter without its XML declaration and its <meta http-equiv="Content-Type">.
    const undeclared = chapter('ch02.ja.html')
      .toString('utf8')
      .replace(/<\?xml[^>]*\?>/, '')
      .replace(/<meta http-equiv="Content-Type"[^>]*>/, '');
    expect(undeclared).not.toMatch(/charset/i);

    for (const encoding of ['CP932', 'EUC-JP']) {
      const bytes = iconv(utf8(undeclared), 'UTF-8', encoding);
      const sameCharacters = iconv(bytes, encoding, 'UTF-8');

      // Act
      const read = await htmlFormat.read(bytes, { source: 'ch02.ja.html', maxBytes: LIMIT });

      // Assert
      expect(read).toEqual(
        await htmlFormat.read(sameCharacters, { source: 'ch02.ja.html', maxBytes: LIMIT }),
      );
    }
  });

  it('reads every chapter in English and Japanese', async () => {
    for (const language of ['en', 'ja']) {
      for (let number = 1; number <= 12; number++) {
        const name = `ch${String(number).padStart(2, '0')}.${language}.html`;
        const { title, sections } = sectionsOf(
          await htmlFormat.read(chapter(name), { source: name, maxBytes: LIMIT }),
        );
        expect(title).toBeTruthy();
        expect(sections.length).toBeGreaterThan(3);
        expect(sections.filter((section) => section.anchor !== undefined).length).toBeGreaterThan(3);
      }
    }
  });
});

describe('htmlFormat', () => {
  it('keeps the main element, drops the chrome, resolves links against <base>, keeps alt text', async () => {
    // Arrange
    const page = `<!doctype html><html><head><title>Rotating keys — Acme Handbook</title>
      <base href="https://intranet.example/handbook/"></head>
      <body><header>Acme intranet</header><nav><a href="/">Home</a></nav>
      <main>
        <h1 id="keys">Rotating keys</h1><p>Rotate every <a href="vpn/keys.html">90 days</a>.
          <a href="javascript:alert(1)">Click</a> <img src="x.png" alt="A diagram of the VPN"> <img src="spacer.gif" alt=""></p>
        <section id="steps"><h2>Steps</h2><ol><li>Revoke</li><li>Issue</li></ol>
          <pre><code>vpnctl rotate --all</code></pre></section>
      </main>
      <aside>Related posts</aside><footer>© Acme</footer><script>track()</script></body></html>`;

    // Act
    const { title, sections } = sectionsOf(
      await htmlFormat.read(utf8(page), { source: 'keys.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(title).toBe('Rotating keys');
    expect(sections).toEqual([
      {
        path: ['Rotating keys'],
        anchor: 'keys',
        text: 'Rotate every [90 days](https://intranet.example/handbook/vpn/keys.html). Click A diagram of the VPN',
      },
      {
        path: ['Rotating keys', 'Steps'],
        anchor: 'steps',
        text: '1. Revoke\n2. Issue\n\n```\nvpnctl rotate --all\n```',
      },
    ]);
  });

  it('keeps the header of the only article, with its title, and drops the site header', async () => {
    // Arrange
    const page = `<body><header><a href="/">Acme</a> Search</header>
      <article><header><h1 id="vpn">VPN</h1><p>By the platform team</p></header><p>Connect with WireGuard.</p>
      <footer>Last reviewed in May</footer></article><footer>© Acme</footer></body>`;

    // Act
    const { title, sections } = sectionsOf(
      await htmlFormat.read(utf8(page), { source: 'vpn.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(title).toBe('VPN');
    expect(sections).toEqual([
      {
        path: ['VPN'],
        anchor: 'vpn',
        text: 'By the platform team\n\nConnect with WireGuard.\n\nLast reviewed in May',
      },
    ]);
  });

  it('flattens a table with merged cells into a pipe table', async () => {
    // Arrange
    const page =
      '<h1>Plans</h1><table><tr><th>Plan</th><th colspan="2">Limits</th></tr>' +
      '<tr><td>Free</td><td>10 users</td><td>1 GB</td></tr><tr><td colspan="3">Prices exclude VAT</td></tr></table>';

    // Act
    const { sections } = sectionsOf(
      await htmlFormat.read(utf8(page), { source: 'plans.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(sections[0]?.text.split('\n')).toEqual([
      '| Plan | Limits | |',
      '| - | - | - |',
      '| Free | 10 users | 1 GB |',
      '| Prices exclude VAT | | |',
    ]);
  });

  it('rejects 100,000 nested elements quickly, without overflowing the stack', async () => {
    // Arrange
    const page = `<html><body>${'<div>'.repeat(100_000)}deep${'</div>'.repeat(100_000)}</body></html>`;

    // Act
    const { result, cpuMs } = await withCpuTime(() =>
      htmlFormat.read(utf8(page), { source: 'deep.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(result).toEqual({
      ok: false,
      reason: 'too-complex',
      message: 'the page nests elements more than 1,000 deep',
    });
    expect(cpuMs).toBeLessThan(5_000);
  });

  it.each([
    ['995 nested <em>', `<p>${'<em>'.repeat(995)}deep${'</em>'.repeat(995)}</p>`, '*deep*'],
    ['16,000 empty links', `<p>${'<a href="https://x.example/"></a>'.repeat(16_000)}end</p>`, 'end'],
    ['16,000 spans of a space', `<p>a${'<span> </span>'.repeat(16_000)}b</p>`, 'a b'],
  ])('reads %s in bounded time', async (_name, page, text) => {
    // Act
    const { result, cpuMs } = await withCpuTime(() =>
      htmlFormat.read(utf8(page), { source: 'hostile.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(sectionsOf(result).sections[0]?.text).toBe(text);
    expect(cpuMs).toBeLessThan(5_000);
  });

  it('reads a page nested just under the limit', async () => {
    // Arrange
    const page = `<html><body><h1>Deep</h1>${'<blockquote>'.repeat(990)}quoted${'</blockquote>'.repeat(990)}</body></html>`;

    // Act
    const { sections } = sectionsOf(
      await htmlFormat.read(utf8(page), { source: 'deep.html', maxBytes: LIMIT }),
    );

    // Assert
    expect(sections[0]?.text).toMatch(/^(> ){10}.*quoted$/s);
  });

  it('rejects a page in an undeclared encoding that is not UTF-8 nor Japanese', async () => {
    // Arrange: Latin-1 "café" with no charset anywhere.
    const bytes = new Uint8Array([...utf8('<p>caf'), 0xe9, ...utf8(' au lait</p>')]);

    // Act
    const result = await htmlFormat.read(bytes, { source: 'latin1.html', maxBytes: LIMIT });

    // Assert
    expect(result).toMatchObject({ ok: false, reason: 'invalid-utf8' });
    // Declared, it reads.
    const declared = await htmlFormat.read(bytes, {
      source: 'latin1.html',
      maxBytes: LIMIT,
      contentType: 'text/html; charset=ISO-8859-1',
    });
    expect(sectionsOf(declared).sections[0]?.text).toBe('café au lait');
  });

  it('rejects a page with no content and one over the size limit', async () => {
    expect(
      await htmlFormat.read(utf8('<html><body><nav>Home</nav><script>x()</script></body></html>'), {
        source: 'empty.html',
        maxBytes: LIMIT,
      }),
    ).toMatchObject({ ok: false, reason: 'empty' });
    expect(await htmlFormat.read(utf8('<p>too long</p>'), { source: 'big.html', maxBytes: 4 })).toMatchObject(
      {
        ok: false,
        reason: 'too-large',
      },
    );
  });
});
