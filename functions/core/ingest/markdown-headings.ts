import { inlineText, type MarkdownToken, parseMarkdownBlocks } from '../markdown/parse-markdown';

/** A Markdown heading and where its line starts in the text. */
export interface MarkdownHeading {
  /** 1 for `#` (or a `===` underline) to 6 for `######`. */
  level: number;
  /** The heading's text, without its markers, inline formatting and images (unless it is only images). */
  text: string;
  /** Character offset of the heading's first line in the text. */
  offset: number;
  /** Character offset just after the heading's last line (its newline included). */
  end: number;
}

/**
 * The ATX (`## Title`) and setext (`Title` over `===` or `---`) headings at the top level of a Markdown text, in
 * order, as CommonMark reads them: a `#` line in a fenced or indented code block (usually a shell comment), in
 * an HTML block, a block quote or a list item is not a section heading. Headings with no text are left out.
 * Linear in the text's length, whatever it holds (see parse-markdown.ts).
 */
export function markdownHeadings(markdown: string): MarkdownHeading[] {
  if (lastParsed?.markdown !== markdown) lastParsed = { markdown, headings: parseHeadings(markdown) };
  return lastParsed.headings.map((heading) => ({ ...heading }));
}

/**
 * The headings of the last text read: loadDocument takes the title from them and splitDocument then cuts the same
 * text at them, so a document is parsed once, not twice.
 */
let lastParsed: { markdown: string; headings: readonly MarkdownHeading[] } | undefined;

function parseHeadings(markdown: string): MarkdownHeading[] {
  const { tokens, inline } = parseMarkdownBlocks(markdown);
  const lineStarts = lineStartOffsets(markdown);
  const headings: MarkdownHeading[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token?.type !== 'heading_open' || token.level !== 0 || token.map === null) continue;
    const content = tokens[i + 1];
    const text = headingText(content === undefined ? [] : inline(content));
    if (text === '') continue;
    const [firstLine, endLine] = token.map;
    headings.push({
      level: Number(token.tag.slice(1)),
      text,
      offset: lineStarts[firstLine] ?? markdown.length,
      end: lineStarts[endLine] ?? markdown.length,
    });
  }
  return headings;
}

/**
 * A heading's text, without its images (the badges and logos of a README's title) unless it has nothing else.
 */
function headingText(tokens: MarkdownToken[]): string {
  const text = (images: boolean) => inlineText(tokens, { images }).replace(/\s+/g, ' ').trim();
  return text(false) || text(true);
}

/** Where each line starts, splitting lines as markdown-it does (`\n`, `\r\n` or `\r`). */
function lineStartOffsets(text: string): number[] {
  const starts = [0];
  const lineEnd = /\r\n?|\n/g;
  for (let match = lineEnd.exec(text); match !== null; match = lineEnd.exec(text)) {
    starts.push(match.index + match[0].length);
  }
  return starts;
}

/** The text under one heading, up to the next heading of any level. */
export interface MarkdownSection {
  /** The headings the section sits under, outermost first, its own last; empty before the first heading. */
  path: string[];
  /** The section's text without its heading line. */
  body: string;
}

/**
 * The text cut at every heading, each part with its heading path. A `###` under a `#` with no `##` between
 * them gets a path of two, not a gap.
 */
export function markdownSections(markdown: string): MarkdownSection[] {
  const sections: MarkdownSection[] = [];
  const stack: MarkdownHeading[] = [];
  let bodyStart = 0;
  for (const heading of markdownHeadings(markdown)) {
    sections.push({ path: stack.map((h) => h.text), body: markdown.slice(bodyStart, heading.offset) });
    while ((stack.at(-1)?.level ?? 0) >= heading.level) stack.pop();
    stack.push(heading);
    bodyStart = heading.end;
  }
  sections.push({ path: stack.map((h) => h.text), body: markdown.slice(bodyStart) });
  return sections;
}
