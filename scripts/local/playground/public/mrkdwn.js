// Slack mrkdwn to DOM nodes, for the playground page. Every piece of text is inserted as a text node: nothing a
// message holds (a document title, a model's answer, a person's question) is ever parsed as HTML.

// As in Slack, *bold*, _italic_ and ~strike~ open and close at word boundaries: snake_case and 2*3*4 stay as typed.
const INLINE =
  /<([^<>\n]+)>|`([^`\n]+)`|(?<![\w*])\*(?![\s*])([^*\n]+?)(?<!\s)\*(?![\w*])|(?<![\w_])_(?![\s_])([^_\n]+?)(?<!\s)_(?![\w_])|(?<![\w~])~(?![\s~])([^~\n]+?)(?<!\s)~(?![\w~])/g;

/**
 * The emoji codes this bot writes (every `:code:` in functions/, which test/unit/playground-mrkdwn.test.ts checks
 * are all here) and others a bot commonly writes, drawn as Slack draws them; any other `:code:` is shown as typed.
 */
export const EMOJI = {
  mag: '🔍',
  open_file_folder: '📂',
  file_folder: '📁',
  mag_right: '🔎',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  thinking_face: '🤔',
  books: '📚',
  book: '📖',
  memo: '📝',
  page_facing_up: '📄',
  bulb: '💡',
  warning: '⚠️',
  x: '❌',
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  thumbsup: '👍',
  '+1': '👍',
  thumbsdown: '👎',
  '-1': '👎',
  wave: '👋',
  speech_balloon: '💬',
  robot_face: '🤖',
  link: '🔗',
  lock: '🔒',
  key: '🔑',
  eyes: '👀',
  sparkles: '✨',
  pray: '🙏',
  wastebasket: '🗑️',
};

/** Replaces known `:emoji:` codes with the emoji; others (`:constructor:` too) stay as typed. */
export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (code, name) => (Object.hasOwn(EMOJI, name) ? EMOJI[name] : code));
}

/** Slack escapes `&`, `<` and `>` in text; what a person reads is the unescaped character. */
export function unescapeSlack(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Renders mrkdwn: ```code blocks```, `> quotes`, *bold*, _italic_, ~strike~, `code`, links `<url|text>` (with their
 * host shown), mentions `<@U…>`, channels `<#C…|name>` and `<!here>`-style specials.
 * @param {string} text
 * @param {{ names?: Record<string, string> }} [options] display names of user ids
 * @returns {DocumentFragment}
 */
export function renderMrkdwn(text, options = {}) {
  const fragment = document.createDocumentFragment();
  const parts = String(text ?? '').split('```');
  parts.forEach((part, index) => {
    if (index % 2 === 1 && index < parts.length - 1) {
      const pre = document.createElement('pre');
      pre.textContent = unescapeSlack(part.replace(/^\n/, ''));
      fragment.append(pre);
      return;
    }
    const source = index % 2 === 1 ? `\`\`\`${part}` : part;
    appendLines(fragment, source, options);
  });
  return fragment;
}

function appendLines(parent, text, options) {
  const lines = text.split('\n');
  let quote;
  lines.forEach((line, index) => {
    const quoted = /^(&gt;|>) ?/.exec(line);
    if (quoted) {
      if (quote === undefined) {
        quote = document.createElement('blockquote');
        parent.append(quote);
      } else {
        quote.append(document.createElement('br'));
      }
      appendInline(quote, line.slice(quoted[0].length), options);
      return;
    }
    quote = undefined;
    if (index > 0) parent.append(document.createElement('br'));
    appendInline(parent, line, options);
  });
}

function appendInline(parent, text, options) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) parent.append(emojify(unescapeSlack(text.slice(last, match.index))));
    last = match.index + match[0].length;
    const [, angle, code, bold, italic, strike] = match;
    if (angle !== undefined) {
      parent.append(angleNode(angle, options));
    } else if (code !== undefined) {
      const node = document.createElement('code');
      node.textContent = unescapeSlack(code);
      parent.append(node);
    } else {
      const node = document.createElement(bold !== undefined ? 'strong' : italic !== undefined ? 'em' : 's');
      appendInline(node, bold ?? italic ?? strike, options);
      parent.append(node);
    }
  }
  if (last < text.length) parent.append(emojify(unescapeSlack(text.slice(last))));
}

/** `<@U…>`, `<#C…|name>`, `<!here>`, `<url|label>` or `<url>`. */
function angleNode(inner, options) {
  const bar = inner.indexOf('|');
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? undefined : inner.slice(bar + 1);
  const span = document.createElement('span');
  if (target.startsWith('@')) {
    span.className = 'mention';
    span.textContent = `@${label ?? options.names?.[target.slice(1)] ?? target.slice(1)}`;
    return span;
  }
  if (target.startsWith('#')) {
    span.className = 'mention';
    span.textContent = `#${label ?? target.slice(1)}`;
    return span;
  }
  if (target.startsWith('!')) {
    span.className = 'mention';
    span.textContent = `@${label ?? target.slice(1).split('^')[0]}`;
    return span;
  }
  let url;
  try {
    url = new URL(unescapeSlack(target));
  } catch {
    url = undefined;
  }
  if (url === undefined || !['http:', 'https:', 'mailto:'].includes(url.protocol)) {
    // Not a link Slack would open: shown as the text it is.
    span.textContent = unescapeSlack(`<${inner}>`);
    return span;
  }
  const link = document.createElement('a');
  link.href = url.href;
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  link.textContent = unescapeSlack(label ?? url.href);
  if (label !== undefined && url.host !== '') {
    const host = document.createElement('span');
    host.className = 'link-host';
    host.textContent = ` (${url.host})`;
    const wrapper = document.createElement('span');
    wrapper.append(link, host);
    return wrapper;
  }
  return link;
}
