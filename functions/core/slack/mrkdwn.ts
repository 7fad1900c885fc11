/**
 * Converts the Markdown a model writes into Slack's mrkdwn, which is a different dialect: `*bold*`, `_italic_`,
 * `~strike~`, `<url|label>` links, no headings, no tables and no language tags on code fences.
 *
 * Slack treats `&`, `<` and `>` as control characters everywhere, code included (a user typing `a<b` in a code
 * block is stored as `a&lt;b`), so they are escaped everywhere except in the link syntax produced here. That also
 * keeps a model from pinging anyone with a literal `<!channel>` or `<@U123>`.
 */

const BOLD = '\u0001';
const ITALIC = '\u0002';
const STRIKE = '\u0003';
/** Wraps the index of a protected fragment (a produced link, an escaped literal) while the rest is converted. */
const TOKEN = '\u0000';

const FENCE_OPEN = /^(\s*)(`{3,})[^`]*$|^(\s*)(~{3,}).*$/;
const HORIZONTAL_RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/;
const BLOCKQUOTE = /^(\s*)>\s?(.*)$/;
const BULLET = /^(\s*)[-*+]\s+(.*)$/;
const ORDERED = /^(\s*)(\d{1,9}[.)])\s+(.*)$/;
const TABLE_ROW = /\|/;
const TABLE_SEPARATOR = /^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$/;

/** Escapes Slack's three control characters in text meant to be shown as written. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Converts model Markdown to Slack mrkdwn. Code (inline and fenced) is left as written; tables become
 * preformatted blocks, since Slack has no table syntax. A fence the text leaves open (as a partial answer
 * does while it streams) is closed, so the rest of the message is not swallowed by it.
 */
export function toSlackMrkdwn(markdown: string): string {
  const lines = stripSentinels(markdown).replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let fence: { char: string; length: number; indent: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (fence !== undefined) {
      if (closesFence(line, fence.char, fence.length)) {
        out.push(`${fence.indent}\`\`\``);
        fence = undefined;
      } else {
        out.push(escapeMrkdwn(line));
      }
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    if (open !== null) {
      const marker = open[2] ?? open[4] ?? '```';
      fence = { char: marker.charAt(0), length: marker.length, indent: open[1] ?? open[3] ?? '' };
      out.push(`${fence.indent}\`\`\``);
      continue;
    }
    const tableEnd = tableEndingAt(lines, i);
    if (tableEnd > i) {
      out.push('```', ...lines.slice(i, tableEnd).map(escapeMrkdwn), '```');
      i = tableEnd - 1;
      continue;
    }
    out.push(convertLine(line));
  }
  if (fence !== undefined) out.push(`${fence.indent}\`\`\``);
  return out.join('\n');
}

/** The characters used as markers below cannot be typed, but a model could still emit them; they are dropped. */
function stripSentinels(text: string): string {
  return [BOLD, ITALIC, STRIKE, TOKEN].reduce((result, sentinel) => result.replaceAll(sentinel, ''), text);
}

function closesFence(line: string, char: string, length: number): boolean {
  const trimmed = line.trim();
  return trimmed.length >= length && trimmed === char.repeat(trimmed.length);
}

/** The index after the last row of a table starting at `start`, or `start` when no table starts there. */
function tableEndingAt(lines: string[], start: number): number {
  const header = lines[start] ?? '';
  const separator = lines[start + 1] ?? '';
  if (!TABLE_ROW.test(header) || !TABLE_SEPARATOR.test(separator) || !separator.includes('|')) return start;
  let end = start + 2;
  while (end < lines.length && TABLE_ROW.test(lines[end] ?? '') && (lines[end] ?? '').trim() !== '') end++;
  return end;
}

function convertLine(line: string): string {
  if (HORIZONTAL_RULE.test(line)) return '──────────';
  const heading = HEADING.exec(line);
  if (heading !== null) {
    // The whole line becomes bold, so bold markers inside it would only close it early.
    const content = convertInline((heading[1] ?? '').replace(/\*\*|__/g, ''));
    return content === '' ? '' : `*${content}*`;
  }
  const quote = BLOCKQUOTE.exec(line);
  if (quote !== null) return `${quote[1]}> ${convertLine(quote[2] ?? '')}`;
  const bullet = BULLET.exec(line);
  if (bullet !== null) return `${bullet[1]}• ${convertInline(taskBox(bullet[2] ?? ''))}`;
  const ordered = ORDERED.exec(line);
  if (ordered !== null) return `${ordered[1]}${ordered[2]} ${convertInline(ordered[3] ?? '')}`;
  return convertInline(line);
}

function taskBox(item: string): string {
  return item.replace(/^\[ \]\s+/, '☐ ').replace(/^\[[xX]\]\s+/, '☑ ');
}

/** Converts one line outside code fences, leaving its inline code spans as written. */
function convertInline(line: string): string {
  let result = '';
  let plainStart = 0;
  let i = 0;
  while (i < line.length) {
    if (line[i] !== '`') {
      i++;
      continue;
    }
    const run = backtickRunLength(line, i);
    const close = findClosingRun(line, i + run, run);
    if (close === -1) {
      i += run;
      continue;
    }
    result += convertPlain(line.slice(plainStart, i)) + codeSpan(line.slice(i + run, close));
    i = close + run;
    plainStart = i;
  }
  return result + convertPlain(line.slice(plainStart));
}

function backtickRunLength(text: string, from: number): number {
  let end = from;
  while (text[end] === '`') end++;
  return end - from;
}

function findClosingRun(text: string, from: number, length: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] !== '`') continue;
    const run = backtickRunLength(text, i);
    if (run === length) return i;
    i += run - 1;
  }
  return -1;
}

function codeSpan(content: string): string {
  // Slack's inline code is single backticks only and cannot hold a backtick; such a span is kept as written.
  if (content.includes('`')) return `\`\`${escapeMrkdwn(content)}\`\``;
  return `\`${escapeMrkdwn(content)}\``;
}

/** Converts text with no code in it: links, emphasis, escapes. */
function convertPlain(text: string): string {
  if (text === '') return text;
  const kept: string[] = [];
  const keep = (fragment: string): string => {
    kept.push(fragment);
    return `${TOKEN}${kept.length - 1}${TOKEN}`;
  };
  let s = text
    .replace(/\\([\\`*_{}[\]()#+\-.!~|<>&])/g, (_whole, char: string) => keep(escapeMrkdwn(char)))
    .replace(
      /!?\[([^\]]*)\]\(\s*<?([^\s()<>]+(?:\([^\s()<>]*\))?)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g,
      (_w, label: string, url: string) => keep(link(url, label)),
    )
    .replace(/<((?:https?|mailto):[^\s<>]+)>/g, (_whole, url: string) => keep(link(url, '')));
  s = convertEmphasis(s);
  s = escapeMrkdwn(s);
  return s
    .split(TOKEN)
    .map((piece, index) => (index % 2 === 1 ? (kept[Number(piece)] ?? '') : piece))
    .join('')
    .replaceAll(BOLD, '*')
    .replaceAll(ITALIC, '_')
    .replaceAll(STRIKE, '~');
}

function convertEmphasis(text: string): string {
  return text
    .replace(/\*\*\*(?=\S)([^*]+?)(?<=\S)\*\*\*/g, `${BOLD}${ITALIC}$1${ITALIC}${BOLD}`)
    .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, `${BOLD}$1${BOLD}`)
    .replace(/(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)/g, `${BOLD}$1${BOLD}`)
    .replace(/(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])/g, `${ITALIC}$1${ITALIC}`)
    .replace(/(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)/g, `${ITALIC}$1${ITALIC}`)
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, `${STRIKE}$1${STRIKE}`);
}

/** A Slack link; only schemes Slack links are produced, anything else is shown as text. */
function link(url: string, label: string): string {
  // Slack links cannot nest formatting markers reliably, so bold markers are dropped from the label.
  const text = escapeMrkdwn(label.trim()).replace(/\*\*|__/g, '');
  if (!/^(?:https?:\/\/|mailto:)/i.test(url)) {
    return text === '' ? escapeMrkdwn(url) : `${text} (${escapeMrkdwn(url)})`;
  }
  const href = url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C');
  return text === '' ? `<${href}>` : `<${href}|${text}>`;
}
