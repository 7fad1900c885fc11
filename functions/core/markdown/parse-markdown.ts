import MarkdownIt from 'markdown-it';
import { memo } from '../memo';
import { blockquote } from './blockquote';
import { withTypedLineArrays } from './line-arrays';

/**
 * Markdown parsed once into markdown-it's token stream, which every consumer (ingest's headings, Slack's mrkdwn)
 * walks in one loop. markdown-it is a CommonMark parser with GFM tables and strikethrough whose block and inline
 * rules are linear on the pathological inputs of CommonMark's test suite; measured here on runs of `#`, `>`,
 * `[`, `]`, `*`, `_`, backticks, U+2028 and 100k-character lines, 4× the input takes about 4× the time.
 * (micromark, the mdast family's tokenizer, was measured too and is quadratic on runs of `*a` and `>` and
 * overflows the stack at 25,000 `>`: it is not used.)
 *
 * The token stream is flat: containers are open and close tokens, inline content is one array per block, so
 * walking it needs no recursion however deep the nesting.
 */
export type MarkdownToken = MarkdownIt.Token;

/**
 * How deep block quotes and lists may nest (a list level counts two: the list and its item). markdown-it
 * parses each nested container with a recursive call and rescans its lines, so this bounds both the stack
 * depth and the work per line; past it, the container's open and close tokens have nothing between them (its
 * lines are still in `map`, see {@link isContentSkipped}). 20 is markdown-it's own limit for
 * strict CommonMark, deeper than any document or answer a person reads.
 */
export const MAX_NESTING = 20;

function createParser(html: boolean, inline: boolean) {
  const parser = new MarkdownIt('default', {
    html,
    linkify: false,
    typographer: false,
    maxNesting: MAX_NESTING,
  });
  // Every link destination is kept as a link token; what may become a clickable link is decided by the consumer.
  parser.validateLink = () => true;
  // markdown-it's per-line state in typed arrays, which cost the same per line at every length (a plain array
  // past 16,384 lines costs several times as much): see line-arrays.ts and blockquote.ts.
  parser.block.State = withTypedLineArrays(parser.block.State);
  parser.block.ruler.at('blockquote', blockquote, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });
  if (!inline) parser.core.ruler.disable(['inline', 'text_join']);
  // Past the nesting limit markdown-it skips to the end of the range it was given, which for a list item is the
  // end of the document: a list nested ten deep would swallow every heading after it. Skip only the lines the
  // container holds instead, those indented to its content or blank (a lazy continuation line then ends it).
  const tokenize = parser.block.tokenize.bind(parser.block);
  parser.block.tokenize = (state, startLine, endLine) => {
    if (state.level < MAX_NESTING) return tokenize(state, startLine, endLine);
    let line = startLine;
    while (line < endLine && (state.isEmpty(line) || (state.sCount[line] ?? 0) >= state.blkIndent)) line++;
    state.line = line;
  };
  return parser;
}

const textParser = memo(() => createParser(false, true));
const blockParser = memo(() => createParser(true, false));

/**
 * The block and inline tokens of a Markdown text, for a consumer that escapes every `<`: raw HTML is parsed as
 * text. Each `inline` token holds the inline tokens of its block as `children`.
 */
export function parseMarkdown(markdown: string): MarkdownToken[] {
  return textParser().parse(markdown, {});
}

/** The block structure of a Markdown text, with the inline content of the blocks a consumer asks for. */
export interface MarkdownBlocks {
  /** Block tokens; `inline` tokens hold their block's text as `content`, not yet parsed. */
  tokens: MarkdownToken[];
  /** The inline tokens of an `inline` token, parsed now (with the document's link reference definitions). */
  inline(token: MarkdownToken): MarkdownToken[];
}

/**
 * The blocks of a Markdown text as CommonMark reads them, raw HTML included (a `<div>` starts an HTML block, and a
 * `#` line inside it is not a heading). Inline content is parsed only where asked for: a reader of the structure
 * (ingest, which wants the headings) skips most of the work of parsing every paragraph's emphasis and links.
 */
export function parseMarkdownBlocks(markdown: string): MarkdownBlocks {
  const parser = blockParser();
  const env = {};
  const tokens = parser.parse(markdown, env);
  return {
    tokens,
    inline: (token) => {
      const children: MarkdownToken[] = [];
      parser.inline.parse(token.content, parser, env, children);
      return children;
    },
  };
}

/**
 * True for a container's open token whose content markdown-it skipped at {@link MAX_NESTING}: the next token
 * closes it, though its lines (`map`) hold text.
 */
export function isContentSkipped(tokens: readonly MarkdownToken[], index: number): boolean {
  const token = tokens[index];
  const next = tokens[index + 1];
  return (
    token !== undefined &&
    token.nesting === 1 &&
    token.level >= MAX_NESTING - 1 &&
    next?.nesting === -1 &&
    next.level === token.level
  );
}

/**
 * The text of inline tokens as a reader sees it: text, code and (with `images`) image descriptions, with markers,
 * HTML and link destinations left out and line breaks as spaces. Images inside image descriptions are walked with
 * an explicit stack, not recursion.
 */
export function inlineText(tokens: readonly MarkdownToken[], { images = true } = {}): string {
  let text = '';
  const pending: MarkdownToken[] = [...tokens].reverse();
  for (let token = pending.pop(); token !== undefined; token = pending.pop()) {
    switch (token.type) {
      case 'text':
      case 'text_special':
      case 'code_inline':
        text += token.content;
        break;
      case 'softbreak':
      case 'hardbreak':
        text += ' ';
        break;
      case 'image':
        if (!images) break;
        for (let i = (token.children?.length ?? 0) - 1; i >= 0; i--) {
          const child = token.children?.[i];
          if (child !== undefined) pending.push(child);
        }
        break;
    }
  }
  return text;
}
