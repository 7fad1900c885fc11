import { inlineText, isContentSkipped, type MarkdownToken, parseMarkdown } from '../markdown/parse-markdown';

/**
 * Converts the Markdown a model writes into Slack's mrkdwn, which is a different dialect: `*bold*`, `_italic_`,
 * `~strike~`, `<url|label>` links, one level of `>` quote, no headings, no tables and no language tags on code
 * fences.
 *
 * Slack treats `&`, `<` and `>` as control characters everywhere, code included (a user typing `a<b` in a code
 * block is stored as `a&lt;b`), so they are escaped everywhere except in the link syntax produced here. That also
 * keeps a model from pinging anyone with a literal `<!channel>` or `<@U123>`.
 *
 * The Markdown is parsed once (parse-markdown.ts) and its flat token stream written out in one loop, so the
 * conversion takes time linear in the text and no stack depth, whatever the text holds: it runs on every update
 * of a streamed answer.
 */

/** Escapes Slack's three control characters in text meant to be shown as written. */
export function escapeMrkdwn(text: string): string {
  if (!/[&<>]/.test(text)) return text;
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Converts model Markdown to Slack mrkdwn. Code (inline and fenced) is left as written; tables become
 * preformatted blocks, since Slack has no table syntax. A fence the text leaves open (as a partial answer
 * does while it streams) is closed, so the rest of the message is not swallowed by it. A link whose label is not
 * its address shows the address's host after it, so a label cannot hide where a link goes.
 */
export function toSlackMrkdwn(markdown: string): string {
  const source = markdown.replace(/\r\n?/g, '\n');
  return new MrkdwnWriter(source, parseMarkdown(source)).write();
}

const RULE = '──────────';
/**
 * List levels that indent their items further; deeper lists stay at this indentation, so that the text a deep
 * list holds is not repeated behind ever longer indentation (a lazy line under 20 levels would carry them all).
 */
const MAX_LIST_INDENTS = 6;

/** A block container being written: the document, a quote, a list or a list item. */
interface Frame {
  /** What each further line inside the container starts with. */
  prefix: string;
  /** Whether a block was written in this container yet, so the next one starts on a new line. */
  hasBlock: boolean;
  /** Inside a `>` quote: Slack shows one level, so nested quotes add no further `>`. */
  quoted: boolean;
  /** List levels indented so far. */
  indents: number;
  /** For a list: its items are numbered. */
  ordered: boolean;
}

const CONTAINER_OPEN = new Set([
  'blockquote_open',
  'bullet_list_open',
  'ordered_list_open',
  'list_item_open',
]);
const CONTAINER_CLOSE = new Set([
  'blockquote_close',
  'bullet_list_close',
  'ordered_list_close',
  'list_item_close',
]);

class MrkdwnWriter {
  private readonly out: string[] = [];
  private readonly frames: Frame[] = [
    { prefix: '', hasBlock: false, quoted: false, indents: 0, ordered: false },
  ];
  private sourceLines: string[] | undefined;
  /** Set by a list item's open token: its first paragraph may start with a task box, `[ ]` or `[x]`. */
  private itemStart = false;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly MarkdownToken[],
  ) {}

  write(): string {
    const { tokens } = this;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as MarkdownToken;
      if (CONTAINER_CLOSE.has(token.type)) {
        this.frames.pop();
        continue;
      }
      if (token.nesting === -1 || token.type === 'inline') {
        if (token.type === 'inline') this.inline(token.children ?? [], { taskBox: this.itemStart });
        continue;
      }
      const frame = this.frame();
      if (token.map !== null) this.startBlock(frame, token.map);
      const itemStart = token.type === 'list_item_open';
      if (token.type !== 'paragraph_open') this.itemStart = false;
      if (CONTAINER_OPEN.has(token.type)) {
        this.openContainer(frame, token);
        if (isContentSkipped(tokens, i) && token.map !== null) {
          this.preformatted(this.lines(token.map).map(withoutContainerMarkers), false);
        }
        this.itemStart = itemStart;
        continue;
      }
      switch (token.type) {
        case 'heading_open':
          this.heading(tokens[i + 1]?.children ?? []);
          i += 2;
          break;
        case 'fence':
        case 'code_block':
          this.codeBlock(token.content.replace(/\n$/, ''));
          break;
        case 'hr':
          this.out.push(RULE);
          break;
        case 'table_open':
          i = this.table(i);
          break;
      }
    }
    return this.out.join('');
  }

  private frame(): Frame {
    return this.frames.at(-1) as Frame;
  }

  /** Ends the previous block's line (with a blank line if the source has one) before a new block. */
  private startBlock(frame: Frame, [firstLine]: [number, number]): void {
    if (frame.hasBlock) {
      const blankBefore = firstLine > 0 && /^[\s>]*$/.test(this.line(firstLine - 1));
      this.out.push(blankBefore ? `\n${frame.prefix.trimEnd()}\n${frame.prefix}` : `\n${frame.prefix}`);
    }
    frame.hasBlock = true;
  }

  private openContainer(frame: Frame, token: MarkdownToken): void {
    const child: Frame = { ...frame, hasBlock: false, ordered: false };
    if (token.type === 'blockquote_open') {
      if (!frame.quoted) {
        this.out.push('> ');
        child.prefix = `${frame.prefix}> `;
      }
      child.quoted = true;
    } else if (token.type === 'list_item_open') {
      const marker = frame.ordered ? `${token.info}${token.markup} ` : '• ';
      this.out.push(marker);
      if (frame.indents < MAX_LIST_INDENTS) {
        child.prefix = frame.prefix + ' '.repeat(marker.length);
        child.indents = frame.indents + 1;
      }
    } else {
      child.ordered = token.type === 'ordered_list_open';
    }
    this.frames.push(child);
  }

  /** Source lines `[first, end)`, as markdown-it numbers them. */
  private lines([first, end]: [number, number]): string[] {
    this.sourceLines ??= this.source.split('\n');
    return this.sourceLines.slice(first, end);
  }

  private line(index: number): string {
    this.sourceLines ??= this.source.split('\n');
    return this.sourceLines[index] ?? '';
  }

  /** Lines shown as written, escaped; inside a code fence when `fenced`. */
  private preformatted(lines: string[], fenced: boolean): void {
    while (lines.length > 0 && (lines.at(-1) ?? '').trim() === '') lines.pop();
    const { prefix } = this.frame();
    const body = lines.map(escapeMrkdwn).join(`\n${prefix}`);
    this.out.push(fenced ? `\`\`\`\n${prefix}${body}\n${prefix}\`\`\`` : body);
  }

  private codeBlock(content: string): void {
    const { prefix } = this.frame();
    const body = content === '' ? '' : `\n${prefix}${escapeMrkdwn(content).replaceAll('\n', `\n${prefix}`)}`;
    this.out.push(`\`\`\`${body}\n${prefix}\`\`\``);
  }

  /** A heading becomes a bold line; bold inside it would only end it early, so its own markers are dropped. */
  private heading(children: readonly MarkdownToken[]): void {
    const start = this.out.length;
    this.inline(children, { heading: true });
    const content = this.out.splice(start).join('').trim();
    if (content !== '') this.out.push(`*${content}*`);
  }

  /**
   * A table's source lines in a code block: Slack has no tables, and a monospace block keeps the columns. Inside
   * a quote or list, the lines lose the container's markers first. Returns the index of `table_close`.
   */
  private table(open: number): number {
    let close = open;
    while (close < this.tokens.length && this.tokens[close]?.type !== 'table_close') close++;
    const token = this.tokens[open] as MarkdownToken;
    let lines = token.map === null ? [] : this.lines(token.map);
    if (token.level > 0) {
      lines = lines.map((line, index) =>
        (index === 0 ? line.replace(/^[\s>]*(?:[-*+]|\d{1,9}[.)])?\s*/, '') : line).replace(/^[\s>]*/, ''),
      );
    }
    this.preformatted(lines, true);
    return close;
  }

  /** Writes a block's inline tokens. */
  private inline(
    children: readonly MarkdownToken[],
    { heading = false, taskBox = false }: { heading?: boolean; taskBox?: boolean },
  ): void {
    this.itemStart = false;
    const markers = emphasisMarkers(children, heading);
    const lineBreak = heading ? ' ' : `\n${this.frame().prefix}`;
    for (let i = 0; i < children.length; i++) {
      const token = children[i] as MarkdownToken;
      switch (token.type) {
        case 'text': {
          const text = i === 0 && taskBox ? withTaskBox(token.content) : token.content;
          this.out.push(escapeMrkdwn(text));
          break;
        }
        case 'code_inline':
          this.out.push(codeSpan(token.content));
          break;
        case 'softbreak':
        case 'hardbreak':
          this.out.push(lineBreak);
          break;
        case 'link_open': {
          let close = i + 1;
          while (close < children.length && children[close]?.type !== 'link_close') close++;
          const label = inlineText(children.slice(i + 1, close));
          this.out.push(slackLink(String(token.attrGet('href') ?? ''), label, token.markup === 'autolink'));
          i = close;
          break;
        }
        case 'image':
          this.out.push(
            slackLink(String(token.attrGet('src') ?? ''), inlineText(token.children ?? []), false),
          );
          break;
        default:
          this.out.push(markers[i] ?? '');
      }
    }
  }
}

/** A line without the quote and list markers at its start, for text nested past what markdown-it parses. */
function withoutContainerMarkers(line: string): string {
  return line.replace(/^(?:[\s>]|[-*+](?=\s)|\d{1,9}[.)](?=\s))*/, '');
}

function withTaskBox(text: string): string {
  return text.replace(/^\[ \]\s+/, '☐ ').replace(/^\[[xX]\]\s+/, '☑ ');
}

function codeSpan(content: string): string {
  // Slack's inline code is single backticks only and cannot hold a backtick; such a span is kept as written.
  if (content.includes('`')) return `\`\`${escapeMrkdwn(content)}\`\``;
  return `\`${escapeMrkdwn(content)}\``;
}

const SLACK_MARKER: Record<string, string> = {
  em_open: '_',
  em_close: '_',
  strong_open: '*',
  strong_close: '*',
  s_open: '~',
  s_close: '~',
};

/**
 * What each emphasis token of one block becomes, by index: Slack's marker (`_`, `*`, `~`); the Markdown marker as
 * written when the emphasis sits inside a word (`2*3*4`), where Slack would not format it; nothing inside an
 * emphasis of the same kind, which Slack cannot nest. `***both***` reads `*_both_*`. Three passes over the tokens.
 */
function emphasisMarkers(children: readonly MarkdownToken[], heading: boolean): string[] {
  if (!children.some((token) => SLACK_MARKER[token.type] !== undefined)) return [];
  const count = children.length;
  const visible = (token: MarkdownToken | undefined) => token !== undefined && !isEmptyText(token);
  // The character just before each token and the first just after it, as the reader sees them.
  const before: string[] = new Array(count);
  const after: string[] = new Array(count);
  let last = '';
  for (let i = 0; i < count; i++) {
    before[i] = last;
    last = lastChar(children[i] as MarkdownToken) || last;
  }
  let next = '';
  // The nearest visible token after each index, and before it, for `***both***`.
  const nextVisible: number[] = new Array(count);
  const previousVisible: number[] = new Array(count);
  let nextIndex = count;
  for (let i = count - 1; i >= 0; i--) {
    after[i] = next;
    nextVisible[i] = nextIndex;
    const token = children[i] as MarkdownToken;
    next = firstChar(token) || next;
    if (visible(token)) nextIndex = i;
  }
  let previousIndex = -1;
  for (let i = 0; i < count; i++) {
    previousVisible[i] = previousIndex;
    if (visible(children[i])) previousIndex = i;
  }

  const markers: string[] = new Array(count).fill('');
  const partner: number[] = new Array(count).fill(-1);
  const open: number[] = [];
  const depth: Record<string, number> = { em: 0, strong: heading ? 1 : 0, s: 0 };
  for (let i = 0; i < count; i++) {
    const token = children[i] as MarkdownToken;
    const slack = SLACK_MARKER[token.type];
    if (slack === undefined) continue;
    const kind = token.type.slice(0, token.type.lastIndexOf('_'));
    if (token.nesting === 1) {
      open.push(i);
      depth[kind] = (depth[kind] ?? 0) + 1;
      continue;
    }
    const opener = open.pop();
    depth[kind] = (depth[kind] ?? 1) - 1;
    if (opener === undefined) continue;
    partner[opener] = i;
    partner[i] = opener;
    if ((depth[kind] ?? 0) > 0) continue;
    const inWord = isWordChar(before[opener] ?? '') || isWordChar(after[i] ?? '');
    const marker = inWord ? token.markup : slack;
    markers[opener] = marker;
    markers[i] = marker;
    // `***both***` is an emphasis around a strong: Slack reads `*_both_*`, not `_*both*_`.
    const inner = nextVisible[opener] ?? count;
    if (
      kind === 'em' &&
      !inWord &&
      children[inner]?.type === 'strong_open' &&
      partner[inner] === previousVisible[i] &&
      markers[inner] === '*'
    ) {
      const innerClose = partner[inner] as number;
      [markers[opener], markers[inner]] = [markers[inner] as string, marker];
      [markers[i], markers[innerClose]] = [markers[innerClose] as string, marker];
    }
  }
  return markers;
}

function isEmptyText(token: MarkdownToken): boolean {
  return token.type === 'text' && token.content === '';
}

function lastChar(token: MarkdownToken): string {
  if (token.type === 'text') return token.content.slice(-1);
  return firstChar(token);
}

/** The first character a reader sees of a token; '' for a token that shows nothing of its own (a link's). */
function firstChar(token: MarkdownToken): string {
  if (token.type === 'text') return token.content.charAt(0);
  if (token.type === 'softbreak' || token.type === 'hardbreak') return '\n';
  if (token.type === 'code_inline') return '`';
  if (SLACK_MARKER[token.type] !== undefined) return token.markup.charAt(0);
  return '';
}

/** Slack formats `*`, `_` and `~` only at word boundaries; a letter or digit of Latin script is inside a word. */
function isWordChar(char: string): boolean {
  return /^[A-Za-z0-9]$/.test(char);
}

/**
 * A Slack link, or text for an address Slack should not link. A label that is not the address itself is followed
 * by the address's host, so that `[the VPN portal](https://vpn-reset.attacker.example)` cannot pass for the
 * company's VPN: Slack shows only the label of `<url|label>`.
 */
function slackLink(url: string, label: string, autolink: boolean): string {
  const text = escapeMrkdwn(label.replace(/\s+/g, ' ').trim());
  if (!/^(?:https?:\/\/|mailto:)/i.test(url)) {
    return text === '' ? escapeMrkdwn(url) : `${text} (${escapeMrkdwn(url)})`;
  }
  const destination = destinationOf(url);
  if (destination === undefined) return text === '' ? escapeMrkdwn(url) : `${text} (${escapeMrkdwn(url)})`;
  const href = url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C');
  if (autolink || text === '') return `<${href}>`;
  if (labelShowsDestination(label, url, destination)) return `<${href}|${text}>`;
  return `<${href}|${text}> (${escapeMrkdwn(destination)})`;
}

/** Where a link goes, as a reader should see it: the host of a web address, the address of a mail link. */
export function destinationOf(url: string): string | undefined {
  if (/^mailto:/i.test(url)) {
    const address = url.slice('mailto:'.length).split('?')[0] ?? '';
    return address === '' ? undefined : safeDecode(address);
  }
  try {
    const { host } = new URL(url);
    return host === '' ? undefined : host;
  } catch {
    return undefined;
  }
}

/** Whether a label already says where its link goes: it is the address, with or without its scheme, or the host. */
export function labelShowsDestination(label: string, url: string, destination: string): boolean {
  const normalize = (text: string) => text.trim().toLowerCase().replace(/\/+$/, '');
  const shown = normalize(label);
  const decoded = safeDecode(url);
  return [
    url,
    decoded,
    url.replace(/^[a-z]+:(?:\/\/)?/i, ''),
    decoded.replace(/^[a-z]+:(?:\/\/)?/i, ''),
    destination,
  ]
    .map(normalize)
    .includes(shown);
}

function safeDecode(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text;
  }
}
