/** A Markdown heading and where its line starts in the text. */
export interface MarkdownHeading {
  /** 1 for `#` (or a `===` underline) to 6 for `######`. */
  level: number;
  /** The heading's text, without its markers and inline formatting. */
  text: string;
  /** Character offset of the heading's first line in the text. */
  offset: number;
  /** Character offset just after the heading's last line (its newline included). */
  end: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
/** Lines that cannot be the text of a setext heading: blank, list items, quotes, tables, other headings. */
const NOT_SETEXT_TEXT = /^\s*$|^ {0,3}([-*+]\s|\d+[.)]\s|>|\||#)/;

/**
 * The ATX (`## Title`) and setext (`Title` over `===` or `---`) headings of a Markdown text, in order, skipping
 * fenced code blocks, where a `#` line is usually a shell comment.
 */
export function markdownHeadings(markdown: string): MarkdownHeading[] {
  const headings: MarkdownHeading[] = [];
  let fence: string | undefined;
  let offset = 0;
  let previous: { line: string; offset: number; inFence: boolean } | undefined;
  for (const line of markdown.split('\n')) {
    const lineEnd = Math.min(offset + line.length + 1, markdown.length);
    const marker = FENCE.exec(line)?.[1];
    const inFence = fence !== undefined || marker !== undefined;
    if (marker !== undefined) {
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    } else if (fence === undefined) {
      const atx = ATX.exec(line);
      const underline = SETEXT_UNDERLINE.exec(line)?.[1];
      if (atx !== null) {
        const text = plain(atx[2] ?? '');
        if (text !== '') headings.push({ level: atx[1]?.length ?? 1, text, offset, end: lineEnd });
      } else if (
        underline !== undefined &&
        previous !== undefined &&
        !previous.inFence &&
        !NOT_SETEXT_TEXT.test(previous.line)
      ) {
        const level = underline.startsWith('=') ? 1 : 2;
        headings.push({ level, text: plain(previous.line), offset: previous.offset, end: lineEnd });
      }
    }
    previous = { line, offset, inFence };
    offset = lineEnd;
  }
  return headings;
}

/** Inline Markdown reduced to its text: links to their label, code and emphasis markers dropped. */
function plain(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|\W)[*_](\S(?:.*?\S)?)[*_](?=\W|$)/g, '$1$2')
    .trim();
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
