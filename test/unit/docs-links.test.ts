import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { type MarkdownToken, parseMarkdown } from '../../functions/core/markdown/parse-markdown';

/**
 * The README and the pages under docs/ link to each other, to headings and to the code. A link whose file moved or
 * whose heading was renamed fails here, not in front of a reader. Links are read from markdown-it's tokens (the
 * product's own parser), so a link shown inside code is not one, and headings are named as GitHub names them.
 */

const REPO_ROOT = resolve(__dirname, '../..');
const README = join(REPO_ROOT, 'README.md');
const DOCS = join(REPO_ROOT, 'docs');
const STAND_INS = join(REPO_ROOT, 'stand-ins');

/** A link or image destination as written in a Markdown file, with the line it is on. */
interface Link {
  href: string;
  line: number;
}

/** The Markdown files whose links are checked: the README, every page in docs/ and the stand-ins' READMEs. */
function documentationFiles(): string[] {
  const pages = readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(DOCS, name));
  const standIns = ['README.md', 'slack/README.md', 'openai/README.md', 'aws/README.md'].map((name) =>
    join(STAND_INS, name),
  );
  return [README, ...pages, ...standIns];
}

/** The text of a heading or a link label as GitHub reads it: text and code, without the Markdown around them. */
function plainText(children: MarkdownToken[]): string {
  return children
    .filter((token) => token.type === 'text' || token.type === 'code_inline')
    .map((token) => token.content)
    .join('');
}

/**
 * GitHub's anchor for a heading (github-slugger): lower case, every character dropped that is not a letter, a
 * mark, a digit, a connector such as `_`, a `-` or a space, then each space made a `-`.
 */
function githubSlug(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown text's headings; a repeated one gets `-1`, `-2`… as on GitHub. */
function headingAnchors(markdown: string): Set<string> {
  const tokens = parseMarkdown(markdown);
  const anchors = new Set<string>();
  tokens.forEach((token, index) => {
    if (token.type !== 'heading_open') return;
    const base = githubSlug(plainText(tokens[index + 1]?.children ?? []));
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  });
  return anchors;
}

/** Every link and image destination in a Markdown text. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  // The line of the block a link is in: a table cell's inline content has no line of its own, its row has.
  let line = 1;
  for (const block of parseMarkdown(markdown)) {
    if (block.map) line = block.map[0] + 1;
    for (const token of block.children ?? []) {
      const href =
        token.type === 'link_open'
          ? token.attrGet('href')
          : token.type === 'image'
            ? token.attrGet('src')
            : null;
      // markdown-it types an attribute as string | number; a destination is always a string.
      if (href !== null) links.push({ href: String(href), line });
    }
  }
  return links;
}

/** True for a link that leaves the repository (`https:`, `mailto:`…), which this test does not follow. */
function isExternal(href: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//');
}

/**
 * What is wrong with the relative links of one Markdown file: a file that does not exist, or an anchor that is
 * no heading of the file it points into. Empty when every link holds.
 */
function brokenLinks(file: string, markdown: string, read: (path: string) => string): string[] {
  const problems: string[] = [];
  const where = relative(REPO_ROOT, file);
  for (const { href, line } of linksOf(markdown)) {
    if (isExternal(href)) continue;
    const hash = href.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? href : href.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(href.slice(hash + 1));
    const target = pathPart === '' ? file : resolve(dirname(file), pathPart);
    if (!target.startsWith(REPO_ROOT)) {
      problems.push(`${where}:${line}: ${href} leaves the repository`);
      continue;
    }
    if (pathPart !== '' && !existsSync(target)) {
      problems.push(`${where}:${line}: ${href}: no file ${relative(REPO_ROOT, target)}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (target !== file && (statSync(target).isDirectory() || !target.endsWith('.md'))) {
      problems.push(
        `${where}:${line}: ${href}: an anchor into a file that is not Markdown cannot be checked`,
      );
      continue;
    }
    const text = target === file ? markdown : read(target);
    if (!headingAnchors(text).has(anchor)) {
      problems.push(`${where}:${line}: ${href}: no heading #${anchor} in ${relative(REPO_ROOT, target)}`);
    }
  }
  return problems;
}

const readText = (path: string) => readFileSync(path, 'utf8');

describe('GitHub heading anchors', () => {
  it.each([
    ['Try it in your own Slack workspace (Socket Mode)', 'try-it-in-your-own-slack-workspace-socket-mode'],
    [
      'Slack features: DMs, the agent pane, follow-ups, progress, feedback',
      'slack-features-dms-the-agent-pane-follow-ups-progress-feedback',
    ],
    [
      '11. Cost per 1,000 questions (AWS list prices, us-east-1)',
      '11-cost-per-1000-questions-aws-list-prices-us-east-1',
    ],
    ['1. Ack: signed app_mention to 200', '1-ack-signed-app_mention-to-200'],
    ['Évaluer les réponses', 'évaluer-les-réponses'],
  ])('names "%s" #%s', (heading, anchor) => {
    expect(githubSlug(heading)).toBe(anchor);
  });

  it('numbers a repeated heading as GitHub does, and reads code in a heading as its text', () => {
    // Arrange
    const markdown = '# Exit codes\n\n## Exit codes\n\n### Exit codes\n\n## `npm run ask` exit codes\n';

    // Act
    const anchors = headingAnchors(markdown);

    // Assert
    expect([...anchors]).toEqual(['exit-codes', 'exit-codes-1', 'exit-codes-2', 'npm-run-ask-exit-codes']);
  });
});

describe('the link check', () => {
  it('reports a missing file and a missing heading, and passes a link that holds', () => {
    // Arrange: a page in docs/ linking back to the README, once right and twice wrong; code is no link
    const page = join(DOCS, 'example.md');
    const markdown = [
      '# Example',
      '',
      '[ok](../README.md#quick-start) [file](../NOPE.md) [heading](../README.md#no-such-heading) [here](#example)',
      '',
      '`[not a link](../GONE.md)`',
    ].join('\n');

    // Act
    const problems = brokenLinks(page, markdown, readText);

    // Assert
    expect(problems).toEqual([
      'docs/example.md:3: ../NOPE.md: no file NOPE.md',
      'docs/example.md:3: ../README.md#no-such-heading: no heading #no-such-heading in README.md',
    ]);
  });
});

describe.each(documentationFiles().map((file) => [relative(REPO_ROOT, file), file]))('%s', (_name, file) => {
  it('links only to files and headings that exist', () => {
    // Arrange
    const markdown = readText(file);

    // Act
    const problems = brokenLinks(file, markdown, readText);

    // Assert
    expect(problems).toEqual([]);
  });
});

describe('README.md', () => {
  it('links to every page in docs/', () => {
    // Arrange
    const linked = new Set(
      linksOf(readText(README))
        .filter(({ href }) => !isExternal(href))
        .map(({ href }) => resolve(REPO_ROOT, decodeURIComponent(href.split('#')[0] ?? ''))),
    );

    // Act
    const unlinked = documentationFiles()
      .filter((file) => dirname(file) === DOCS && !linked.has(file))
      .map((file) => relative(REPO_ROOT, file));

    // Assert
    expect(unlinked).toEqual([]);
  });
});
