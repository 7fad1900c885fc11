import { escapeMrkdwn, toSlackMrkdwn } from '../../functions/core/slack/mrkdwn';

describe('toSlackMrkdwn', () => {
  it.each([
    ['**bold**', '*bold*'],
    ['__bold__', '*bold*'],
    ['*italic*', '_italic_'],
    ['_italic_', '_italic_'],
    ['***both***', '*_both_*'],
    ['~~gone~~', '~gone~'],
    ['mixed **bold** and *italic* words', 'mixed *bold* and _italic_ words'],
  ])('converts emphasis %s to %s', (markdown, expected) => {
    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn).toBe(expected);
  });

  it('leaves underscores and asterisks inside words alone', () => {
    // Arrange
    const markdown = 'set max_retry_count to 2*3*4';

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn).toBe('set max_retry_count to 2*3*4');
  });

  it('turns Markdown links into Slack links, escaping only the text around them', () => {
    // Arrange
    const markdown = 'Read [the guide](https://example.com/vpn?a=1&b=2) & <https://example.org/x> if a < b';

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn).toBe(
      'Read <https://example.com/vpn?a=1&amp;b=2|the guide> (example.com) &amp; <https://example.org/x> if a &lt; b',
    );
  });

  it('a link label cannot hide its host', () => {
    // Arrange
    const markdown = [
      'Reset it on [the company VPN portal](https://vpn-reset.attacker.example/login).',
      'Write to [the help desk](mailto:help@example.com).',
      'See [https://wiki.example.com/vpn](https://wiki.example.com/vpn), [wiki.example.com](https://wiki.example.com/) or <https://example.org/x>.',
    ].join('\n');

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn.split('\n')).toEqual([
      'Reset it on <https://vpn-reset.attacker.example/login|the company VPN portal> (vpn-reset.attacker.example).',
      'Write to <mailto:help@example.com|the help desk> (help@example.com).',
      'See <https://wiki.example.com/vpn|https://wiki.example.com/vpn>, <https://wiki.example.com/|wiki.example.com> or <https://example.org/x>.',
    ]);
  });

  it('shows the punycode host of a link to a look-alike international domain', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('[exаmple.com](https://exаmple.com/login)');

    // Assert: the label's "а" is Cyrillic; the host shown is the one the browser will open.
    expect(mrkdwn).toBe('<https://xn--exmple-4nf.com/login|exаmple.com> (xn--exmple-4nf.com)');
  });

  it('shows a link to a relative or unsafe address as text, not as a link', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('[run me](javascript:alert(1)) and [docs](/docs/vpn.md)');

    // Assert
    expect(mrkdwn).not.toContain('<javascript');
    expect(mrkdwn).toBe('run me (javascript:alert(1)) and docs (/docs/vpn.md)');
  });

  it('turns headings into bold lines', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('# Rotating the **VPN** key\n## Steps ##\ntext');

    // Assert
    expect(mrkdwn).toBe('*Rotating the VPN key*\n*Steps*\ntext');
  });

  it('turns bullets into • and keeps numbered lists and nesting', () => {
    // Arrange
    const markdown = ['- first **item**', '* second', '  + nested', '1. one', '2) two'].join('\n');

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn).toBe(['• first *item*', '• second', '  • nested', '1. one', '2) two'].join('\n'));
  });

  it('keeps inline code as written, escaping only what Slack would parse', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('run `git log **--oneline** <ref>` then *check*');

    // Assert
    expect(mrkdwn).toBe('run `git log **--oneline** &lt;ref&gt;` then _check_');
  });

  it('keeps fenced code as written and drops the language tag', () => {
    // Arrange
    const markdown = ['Run:', '```bash', 'echo "**not bold**" && [x](y)', '```', 'done **now**'].join('\n');

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn).toBe(
      ['Run:', '```', 'echo "**not bold**" &amp;&amp; [x](y)', '```', 'done *now*'].join('\n'),
    );
  });

  it('closes a code fence the text leaves open, as a streaming answer does', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('```js\nconst a = 1;');

    // Assert
    expect(mrkdwn).toBe('```\nconst a = 1;\n```');
  });

  it('shows a table as a preformatted block', () => {
    // Arrange
    const markdown = ['Ports:', '| name | port |', '|------|-----:|', '| ssh | 22 |', '', 'after'].join('\n');

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn).toBe(
      ['Ports:', '```', '| name | port |', '|------|-----:|', '| ssh | 22 |', '```', '', 'after'].join('\n'),
    );
  });

  it('never lets the model ping people or channels', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('Hey <!channel> and <@U123>');

    // Assert
    expect(mrkdwn).toBe('Hey &lt;!channel&gt; and &lt;@U123&gt;');
  });

  it('keeps block quotes as Slack quotes', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('> Note: **always** rotate');

    // Assert
    expect(mrkdwn).toBe('> Note: *always* rotate');
  });

  it('reads the Markdown as CommonMark does: setext headings, task boxes, lists inside quotes, nested bold', () => {
    // Arrange
    const markdown = [
      'Checklist',
      '=========',
      '',
      '- [ ] rotate the key',
      '- [x] tell the team',
      '',
      '> 1. first',
      '>    - **nested *and* bold**',
      '',
      '**outer **inner** outer**',
    ].join('\n');

    // Act
    const mrkdwn = toSlackMrkdwn(markdown);

    // Assert
    expect(mrkdwn.split('\n')).toEqual([
      '*Checklist*',
      '',
      '• ☐ rotate the key',
      '• ☑ tell the team',
      '',
      '> 1. first',
      '>    • *nested _and_ bold*',
      '',
      '*outer inner outer*',
    ]);
  });

  it('keeps the text of quotes and lists nested deeper than Slack can show', () => {
    // Arrange
    const deepQuote = `${'>'.repeat(10_000)} the deepest line`;
    const deepList = `${'- '.repeat(10_000)}the deepest item`;

    // Act
    const quote = toSlackMrkdwn(deepQuote);
    const list = toSlackMrkdwn(deepList);

    // Assert: one level of quote, and the text survives as written past the nesting markdown-it parses.
    expect(quote.startsWith('> ')).toBe(true);
    expect(quote).toContain('the deepest line');
    expect(quote.length).toBeLessThan(deepQuote.length * 3);
    expect(list).toContain('the deepest item');
    expect(list.length).toBeLessThan(deepList.length * 3);
  });

  it('keeps text in other languages untouched', () => {
    // Act
    const mrkdwn = toSlackMrkdwn('VPN の鍵は **毎月** 更新します。');

    // Assert
    expect(mrkdwn).toBe('VPN の鍵は *毎月* 更新します。');
  });
});

describe('escapeMrkdwn', () => {
  it('escapes only &, < and >', () => {
    // Act
    const escaped = escapeMrkdwn('a & b < c > d *e*');

    // Assert
    expect(escaped).toBe('a &amp; b &lt; c &gt; d *e*');
  });
});
