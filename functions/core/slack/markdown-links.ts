import { destinationOf, labelShowsDestination } from './mrkdwn';
import { neutraliseMentions } from './neutralise-mentions';

/**
 * Native streaming sends the model's Markdown to Slack as written (`markdown_text`), where Slack shows only the
 * label of `[the VPN portal](https://attacker.example/…)` and of its own `<https://evil.example|https://vpn.corp.example>`.
 * As in update mode (mrkdwn.ts), the reader must see where every link goes:
 * - a Markdown link whose label is not its address gets the address's host after it: `[the VPN portal](…) (attacker.example)`;
 * - a link to anything but the web or mail shows its address as text: `the label (javascript:…)`;
 * - Slack's `<url|label>` syntax is broken by a word joiner after `<`, so it reads as written, host included;
 * - a reference definition (`[1]: https://…`), which Markdown hides, is shown as text, and its links with it.
 * While an answer streams, a link still being written is held back ({@link linkSafeEnd}) so that it is never sent
 * in two pieces that each look harmless.
 */

const WORD_JOINER = '\u2060';
/** The longest unfinished link held back while it streams; past it the text goes out (neutralised all the same). */
const MAX_HELD = 2000;

/** `[label](url "title")` or `![alt](url)`: the label has no brackets or line break; the url may hold balanced `()`. */
const LINK =
  /(!?)\[([^[\]\n]{0,1000})\]\([ \t]*(<[^<>\n]*>|(?:[^()\s]|\([^()\s]*\))*)(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)/g;
/** The `<` that opens Slack's `<url|label>` link syntax. */
const SLACK_LINK_OPEN = /<(?=[a-z][a-z0-9+.-]*:[^<>\s|]*\|)/gi;
/** A reference definition at the start of a line: `[1]: https://…`. */
const REFERENCE_DEFINITION = /^( {0,3})\[([^[\]\n]+)\]:/gm;

/** `text` (complete links only: see {@link linkSafeEnd}) with every link's destination visible. */
export function neutraliseMarkdownLinks(text: string): string {
  if (!/[[<]/.test(text)) return text;
  return text
    .replace(LINK, (whole: string, _bang: string, label: string, target: string) => {
      const url = target.startsWith('<') ? target.slice(1, -1) : target;
      if (url === '') return whole;
      if (!/^(?:https?:\/\/|mailto:)/i.test(url)) return `${label} (${url})`;
      const destination = destinationOf(url);
      if (destination === undefined) return `${label} (${url})`;
      return labelShowsDestination(label, url, destination) ? whole : `${whole} (${destination})`;
    })
    .replace(SLACK_LINK_OPEN, `<${WORD_JOINER}`)
    .replace(REFERENCE_DEFINITION, '$1\\[$2]:');
}

/** Model text made safe to send as Markdown: no mention that notifies, no link that hides its host. */
export function safeMarkdown(text: string, previous = ''): string {
  return neutraliseMentions(neutraliseMarkdownLinks(text), previous);
}

/**
 * How much of `text` may be sent now, given that `text.slice(0, from)` was sent already: up to the start of a link
 * still being written at its end (`[label`, `[label](https://att`, `<https://evil.example|the VP`), else all of it.
 */
export function linkSafeEnd(text: string, from = 0): number {
  const windowStart = Math.max(from, text.length - MAX_HELD);
  const bracket = text.lastIndexOf('[');
  if (bracket >= windowStart) {
    const start = bracket > 0 && text[bracket - 1] === '!' ? bracket - 1 : bracket;
    const rest = text.slice(start);
    const complete = new RegExp(`^${LINK.source}`).test(rest);
    if (!complete && /^!?\[[^[\]\n]*(?:\](?:\([^\n]*)?)?$/.test(rest)) return Math.max(from, start);
  }
  const angle = text.lastIndexOf('<');
  if (
    angle >= windowStart &&
    /^<(?:[a-z][a-z0-9+.-]*(?::[^<>\s|]*(?:\|[^<>\n]*)?)?)?$/i.test(text.slice(angle))
  ) {
    return Math.max(from, angle);
  }
  return text.length;
}

/**
 * `text` in at most `limit` characters: cut with "…" when longer, never between the two halves of a surrogate pair
 * (an emoji cut in two shows as a broken character).
 */
export function capText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
