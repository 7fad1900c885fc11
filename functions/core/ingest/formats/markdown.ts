import { markdownHeadings, markdownSections } from '../markdown-headings';
import type { DocumentFormat } from './document-format';
import { decodeUtf8Text } from './utf8';

/**
 * Markdown (`.md`, `.markdown`), with optional front matter naming the document's `title` and `collection`: cut
 * into sections at its headings by a CommonMark parser (a `#` line in a code block is a comment, not a heading).
 */
export const markdownFormat: DocumentFormat = {
  name: 'Markdown',
  extensions: ['.md', '.markdown'],
  mediaTypes: ['text/markdown', 'text/x-markdown'],
  async read(bytes) {
    const decoded = decodeUtf8Text(bytes);
    if (!decoded.ok) return decoded;
    const { fields, body } = splitFrontMatter(decoded.text);
    if (body.trim() === '') return { ok: false, reason: 'empty', message: 'the file has no text' };
    const title = fields.title || firstHeading(body);
    return {
      ok: true,
      ...(title ? { title } : {}),
      ...(fields.collection ? { collection: fields.collection } : {}),
      sections: markdownSections(body).map((section) => ({ path: section.path, text: section.body })),
    };
  },
};

interface FrontMatter {
  fields: { title?: string; collection?: string };
  body: string;
}

/**
 * Front matter between a first line `---` and the next `---` (or `...`) line. Only top-level `key: value`
 * scalars are read, which is all the two keys need; lists, nesting and other keys are ignored rather than
 * parsed, so no YAML library is needed. An unclosed block is not front matter: the text is kept whole.
 */
function splitFrontMatter(text: string): FrontMatter {
  const lines = text.split('\n');
  if (lines[0]?.trimEnd() !== '---') return { fields: {}, body: text };
  const close = lines.findIndex((line, i) => i > 0 && /^(---|\.\.\.)\s*$/.test(line));
  if (close === -1) return { fields: {}, body: text };

  const fields: FrontMatter['fields'] = {};
  for (const line of lines.slice(1, close)) {
    const match = /^(title|collection)\s*:\s*(.*)$/.exec(line);
    if (match === null) continue;
    const value = scalar(match[2] ?? '');
    if (value !== '') fields[match[1] as 'title' | 'collection'] = value;
  }
  return { fields, body: lines.slice(close + 1).join('\n') };
}

/** A YAML scalar as written on one line: quoted (with its escapes) or plain, either before a ` #` comment. */
function scalar(raw: string): string {
  const value = raw.trim();
  const doubleQuoted = /^"((?:[^"\\]|\\.)*)"/.exec(value);
  if (doubleQuoted !== null) {
    try {
      // A double-quoted YAML scalar's escapes are JSON's, for every case a title needs.
      return String(JSON.parse(doubleQuoted[0])).trim();
    } catch {
      return (doubleQuoted[1] ?? '').trim();
    }
  }
  const singleQuoted = /^'((?:[^']|'')*)'/.exec(value);
  if (singleQuoted !== null) return (singleQuoted[1] ?? '').replaceAll("''", "'").trim();
  return value.replace(/(^|\s)#.*$/, '').trim();
}

/** The text of the first level-1 heading, if any. */
function firstHeading(markdown: string): string | undefined {
  return markdownHeadings(markdown).find((h) => h.level === 1)?.text;
}
