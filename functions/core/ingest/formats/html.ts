import type { Element, ElementContent, RootContent as HastContent, Root as HastRoot, Parents } from 'hast';
import { fromParse5 } from 'hast-util-from-parse5';
import { defaultHandlers, type State, toMdast } from 'hast-util-to-mdast';
import type { Heading, RootContent as MdastContent, Root as MdastRoot } from 'mdast';
import { gfmToMarkdown } from 'mdast-util-gfm';
import { type Options as ToMarkdownOptions, toMarkdown } from 'mdast-util-to-markdown';
import { toString as mdastText } from 'mdast-util-to-string';
import { type DefaultTreeAdapterTypes, parse } from 'parse5';
import type { DocumentFormat, DocumentSection, FormatContext, FormatResult } from './document-format';

/**
 * HTML pages (and Word files, through mammoth's HTML: docx.ts) as sections. parse5 parses the page as a browser
 * would; the page's chrome (navigation, header, footer, asides, scripts, forms) is dropped and its main content
 * kept; the hast tree becomes Markdown through the unified utilities (hast-util-to-mdast, mdast-util-to-markdown
 * with GFM pipe tables), cut into sections at the headings h1–h6, each with the id of its heading as its anchor.
 */

/**
 * Elements deeper than this are a hostile or broken page: the hast and mdast utilities recurse once per level,
 * and 100,000 nested elements would overflow the stack. Real pages nest a few dozen levels.
 */
export const MAX_HTML_DEPTH = 1_000;

/** Elements that are never content. */
const DROPPED_ELEMENTS = new Set([
  'nav',
  'header',
  'footer',
  'aside',
  'script',
  'style',
  'noscript',
  'template',
  'form',
  'button',
  'select',
  'input',
  'textarea',
  'iframe',
  'object',
  'embed',
  'svg',
  'canvas',
  'dialog',
  'head',
]);

/** ARIA roles of a page's chrome. */
const DROPPED_ROLES = new Set(['navigation', 'banner', 'contentinfo', 'complementary', 'search', 'dialog']);

/**
 * Class names of navigation that generators write as plain divs: DocBook's navheader and navfooter (the Debian
 * Reference), tables of contents, breadcrumbs, skip links. A class must be exactly one of these, so a
 * `header-image` or `tocbot-content` stays.
 */
const DROPPED_CLASSES = new Set([
  'nav',
  'navbar',
  'navheader',
  'navfooter',
  'navigation',
  'breadcrumb',
  'breadcrumbs',
  'toc',
  'sidebar',
  'skip-link',
  'site-header',
  'site-footer',
]);

/** Inline formatting by the Markdown it becomes: e emphasis, s strong, d strikethrough. */
const INLINE_KINDS: Record<string, string> = {
  em: 'e',
  i: 'e',
  strong: 's',
  b: 's',
  del: 'd',
  s: 'd',
  strike: 'd',
};

/** Elements whose `<header>` and `<footer>` are their own, not the site's. */
const ARTICLES = new Set(['article', 'section']);

const HEADINGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

/** Where a reader should resolve the page's links and how it titles sections. */
export interface HtmlReadOptions {
  /** The page's address, for relative links (a `<base href>` in the page overrides it). */
  url?: string;
  /** Keep headings' ids as anchors: true for web pages, false for Word files (no address to link to). */
  anchors: boolean;
}

/** A parsed page's title and sections, or why there is nothing to read. */
export type HtmlSections = Extract<FormatResult, { ok: true }> | Extract<FormatResult, { ok: false }>;

/**
 * An HTML document (already decoded to text) as a title and sections: the one path from HTML for HTML pages and
 * Word files. Never throws for a bad page.
 */
export function htmlToSections(html: string, options: HtmlReadOptions): HtmlSections {
  const document = parse(html);
  if (maxDepth(document) > MAX_HTML_DEPTH) {
    return {
      ok: false,
      reason: 'too-complex',
      message: `the page nests elements more than ${MAX_HTML_DEPTH.toLocaleString('en')} deep`,
    };
  }
  const tree = fromParse5(document) as HastRoot;
  const base = baseUrl(tree, options.url);
  const pageTitle = documentTitle(tree);
  const content = mainContent(tree);
  prepare(content, base);
  unwrapLayoutTables(content);
  if (options.anchors) recordAnchors(content);
  dropEmptyElements(content);
  const markdownRoot = toMdast(
    { type: 'root', children: content.type === 'root' ? content.children : [content] },
    {
      handlers: Object.fromEntries(
        [...HEADINGS].map((tag) => [
          tag,
          (state: State, node: Element) => {
            const heading = defaultHandlers[tag as keyof typeof defaultHandlers]?.(state, node) as
              | Heading
              | undefined;
            const anchor = node.properties[ANCHOR_PROPERTY];
            if (heading && typeof anchor === 'string')
              heading.data = { ...heading.data, anchor } as Heading['data'];
            return heading;
          },
        ]),
      ),
    },
  ) as MdastRoot;
  const sections = cutAtHeadings(markdownRoot);
  if (!sections.some((section) => section.text.trim() !== '')) {
    return { ok: false, reason: 'empty', message: 'the page has no text in its main content' };
  }
  const firstH1 = markdownRoot.children.find(
    (node): node is Heading => node.type === 'heading' && node.depth === 1,
  );
  const title = pageTitle ?? (firstH1 ? collapse(mdastText(firstH1)) : undefined);
  return { ok: true, ...(title ? { title } : {}), sections };
}

/** The depth of the deepest node, walked without recursion. */
function maxDepth(document: DefaultTreeAdapterTypes.Document): number {
  let deepest = 0;
  const stack: [DefaultTreeAdapterTypes.ParentNode, number][] = [[document, 0]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [node, depth] = entry;
    if (depth > deepest) deepest = depth;
    if (depth > MAX_HTML_DEPTH) return depth;
    const children =
      'content' in node && node.nodeName === 'template' ? node.content.childNodes : node.childNodes;
    for (const child of children) if ('childNodes' in child) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Every element of a tree in document order, without recursion. */
function* elements(root: Parents): Generator<{ element: Element; parent: Parents; ancestors: Element[] }> {
  const stack: { node: Parents; index: number; ancestors: Element[] }[] = [
    { node: root, index: 0, ancestors: [] },
  ];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame === undefined) break;
    const child = frame.node.children[frame.index++];
    if (child === undefined) {
      stack.pop();
      continue;
    }
    if (child.type !== 'element') continue;
    yield { element: child, parent: frame.node, ancestors: frame.ancestors };
    stack.push({
      node: child,
      index: 0,
      ancestors: [...frame.ancestors.slice(-8), child],
    });
  }
}

function textOf(node: Element | HastRoot): string {
  let text = '';
  const stack: (HastContent | ElementContent)[] = [...node.children].reverse();
  for (let child = stack.pop(); child !== undefined; child = stack.pop()) {
    if (child.type === 'text') text += child.value;
    else if (child.type === 'element')
      for (let i = child.children.length - 1; i >= 0; i--) stack.push(child.children[i] as ElementContent);
  }
  return text;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The address relative links resolve against: `<base href>` (itself resolved against the page's URL), else the URL. */
function baseUrl(tree: HastRoot, url: string | undefined): URL | undefined {
  const page = parseUrl(url);
  for (const { element } of elements(tree)) {
    if (element.tagName === 'base' && typeof element.properties.href === 'string') {
      return parseUrl(element.properties.href, page) ?? page;
    }
    if (element.tagName === 'body') break;
  }
  return page;
}

function parseUrl(href: string | undefined, base?: URL): URL | undefined {
  if (href === undefined) return undefined;
  try {
    return new URL(href.trim(), base);
  } catch {
    return undefined;
  }
}

/** The site suffix of a title ("Install — Acme Docs"), when the part before it says something. */
const TITLE_SUFFIX = /^(.{3,}?)\s+[—–|·-]\s+[^—–|·]{1,60}$/;

/** `<title>` without a simple site suffix; undefined when it is missing or blank. */
function documentTitle(tree: HastRoot): string | undefined {
  for (const { element } of elements(tree)) {
    if (element.tagName === 'title') {
      const title = collapse(textOf(element));
      if (title === '') return undefined;
      return TITLE_SUFFIX.exec(title)?.[1] ?? title;
    }
    if (element.tagName === 'body') break;
  }
  return undefined;
}

/** `<main>`, `[role=main]` or the only `<article>` when the page has one, else `<body>`, else the whole tree. */
function mainContent(tree: HastRoot): Element | HastRoot {
  let body: Element | undefined;
  const articles: Element[] = [];
  for (const { element } of elements(tree)) {
    if (element.tagName === 'main' || element.properties.role === 'main') return element;
    if (element.tagName === 'article') articles.push(element);
    if (element.tagName === 'body') body ??= element;
  }
  // Several articles are a list of posts: their common body is the content.
  if (articles.length === 1 && articles[0]) return articles[0];
  return body ?? tree;
}

/**
 * Whether an element is the page's chrome. A `<header>` or `<footer>` inside an article or a section is the
 * article's own (its title, its byline), not the site's: it stays.
 */
function isChrome(element: Element, inArticle: boolean): boolean {
  if (inArticle && (element.tagName === 'header' || element.tagName === 'footer')) return false;
  if (DROPPED_ELEMENTS.has(element.tagName)) return true;
  const role = element.properties.role;
  if (typeof role === 'string' && DROPPED_ROLES.has(role)) return true;
  if (element.properties.hidden !== undefined && element.properties.hidden !== false) return true;
  if (element.properties.ariaHidden === 'true') return true;
  const classes = element.properties.className;
  return Array.isArray(classes) && classes.some((name) => DROPPED_CLASSES.has(String(name)));
}

/**
 * In place: the chrome removed, links made absolute (kept only for http and https; the rest become their text),
 * images replaced by their alt text when it says something.
 */
function prepare(root: Element | HastRoot, base: URL | undefined): void {
  const stack: { node: Element | HastRoot; inArticle: boolean; inlineKinds: string }[] = [
    { node: root, inArticle: root.type === 'element' && ARTICLES.has(root.tagName), inlineKinds: '' },
  ];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { node, inArticle, inlineKinds } = entry;
    const children: ElementContent[] = [];
    for (const child of node.children as ElementContent[]) {
      if (child.type === 'comment') continue;
      if (child.type !== 'element') {
        children.push(child);
        continue;
      }
      if (isChrome(child, inArticle)) continue;
      if (child.tagName === 'img') {
        const alt = typeof child.properties.alt === 'string' ? collapse(child.properties.alt) : '';
        if (meaningfulAlt(alt)) children.push({ type: 'text', value: alt });
        continue;
      }
      if (child.tagName === 'a') {
        const href = typeof child.properties.href === 'string' ? child.properties.href : undefined;
        const target =
          href === undefined || (href.startsWith('#') && base === undefined)
            ? undefined
            : parseUrl(href, base);
        if (target && (target.protocol === 'http:' || target.protocol === 'https:')) {
          child.properties = { href: target.href, id: child.properties.id, name: child.properties.name };
        } else {
          // The text of a link to nowhere readable (javascript:, mailto:, a relative link without an address).
          child.properties = { id: child.properties.id, name: child.properties.name };
          child.tagName = 'span';
        }
      }
      const kind = INLINE_KINDS[child.tagName];
      let childKinds = inlineKinds;
      if (kind !== undefined) {
        // Emphasis inside emphasis of the same kind says nothing more, and mdast-util-to-markdown's time grows
        // faster than the square of such nesting (200 nested <em> took 25 s): it is unwrapped.
        if (inlineKinds.includes(kind)) child.tagName = 'span';
        else childKinds = inlineKinds + kind;
      }
      children.push(child);
      stack.push({
        node: child,
        inArticle: inArticle || ARTICLES.has(child.tagName),
        inlineKinds: childKinds,
      });
    }
    node.children = children as typeof node.children;
  }
}

/** Elements that say something with no content. */
const KEEP_EMPTY = new Set(['br', 'hr', 'td', 'th', 'tr', 'wbr']);

/**
 * In place: elements with no content left (the anchors' `<a id>`, once recorded, an icon's `<span>`) removed and
 * those of white space only made a space, children before their parents so that a wrapper of nothing goes too.
 * hast-util-to-mdast's whitespace pass scans the siblings after each such element: 2,000 empty spans in a
 * paragraph took 13 s, 4,000 spans of a space 60 s.
 */
function dropEmptyElements(root: Element | HastRoot): void {
  const parents: (Element | HastRoot)[] = [root, ...[...elements(root)].map(({ element }) => element)];
  for (let i = parents.length - 1; i >= 0; i--) {
    const parent = parents[i];
    if (parent === undefined) continue;
    const kept: ElementContent[] = [];
    for (const child of parent.children as ElementContent[]) {
      let node: ElementContent = child;
      if (node.type === 'element' && !KEEP_EMPTY.has(node.tagName)) {
        if (node.children.length === 0) continue;
        // A wrapper of white space only is the space between two words.
        if (
          node.children.every((grandchild) => grandchild.type === 'text' && grandchild.value.trim() === '')
        ) {
          node = { type: 'text', value: ' ' };
        }
      }
      const previous = kept.at(-1);
      // Runs of text become one text: the whitespace pass scans runs of siblings too.
      if (node.type === 'text' && previous?.type === 'text') previous.value += node.value;
      else kept.push(node.type === 'text' ? { ...node } : node);
    }
    parent.children = kept as typeof parent.children;
  }
}

/** An image's alt text worth reading: not a file name, not a word of navigation ("Prev", "Next", "logo"). */
function meaningfulAlt(alt: string): boolean {
  if (alt.length < 2) return false;
  if (/\.(png|jpe?g|gif|svg|webp)$/i.test(alt)) return false;
  // DocBook's admonition icons say "[Note]" beside a heading that says "Note".
  return !/^(prev|previous|next|up|home|logo|image|icon|picture|photo|\[\w+\]|\W+)$/i.test(alt);
}

/**
 * In place: tables used for layout (at most one cell with text in every row: DocBook's admonitions, a
 * figure with its caption) replaced by their cells' content, which reads better than a table of one column.
 * Post-order, so a layout table inside a data table's cell goes first.
 */
function unwrapLayoutTables(root: Element | HastRoot): void {
  const tables: { table: Element; parent: Parents }[] = [];
  for (const { element, parent } of elements(root))
    if (element.tagName === 'table') tables.push({ table: element, parent });
  for (const { table, parent } of tables.reverse()) {
    const rows = [...elements(table)]
      .map(({ element }) => element)
      .filter((element) => element.tagName === 'tr');
    const cells = rows.map((row) =>
      row.children.filter(
        (cell): cell is Element =>
          cell.type === 'element' &&
          (cell.tagName === 'td' || cell.tagName === 'th') &&
          collapse(textOf(cell)) !== '',
      ),
    );
    if (cells.some((row) => row.length > 1)) continue;
    const blocks: ElementContent[] = cells.flat().map((cell) => ({
      type: 'element',
      tagName: 'div',
      properties: {},
      children: cell.children,
    }));
    const index = parent.children.indexOf(table);
    if (index >= 0) parent.children.splice(index, 1, ...(blocks as typeof parent.children));
  }
}

/**
 * Where a heading's anchor waits for the heading handler: a property, because hast-util-to-mdast converts a
 * clone of the tree.
 */
const ANCHOR_PROPERTY = 'dataSectionAnchor';

/**
 * Each heading's anchor: its own id, else the id (or `name`) of an element just inside it (DocBook's
 * `<h2><a id="x"/>…`), else the id of the section it opens (an ancestor `<section>` or `<div>` with an id whose
 * first heading it is).
 */
function recordAnchors(root: Element | HastRoot): void {
  const claimed = new WeakSet<Element>();
  // An id links to its first element, as a browser finds it. parse5 reconstructs an unclosed `<a id="x"/>` (XHTML
  // read as HTML, as a browser reads it: DocBook's pages) inside the next heading as an empty copy, whose id is
  // an earlier element's: such an id is not this heading's.
  const seen = new Set<string>();
  for (const { element, ancestors } of elements(root)) {
    const own = idOf(element);
    if (HEADINGS.has(element.tagName)) {
      const inside = element.children.map((child) =>
        child.type === 'element' ? (idOf(child) ?? nameOf(child)) : undefined,
      );
      const anchor =
        [own, ...inside].find((id) => id !== undefined && !seen.has(id)) ??
        enclosingSectionId(ancestors, claimed);
      if (anchor !== undefined) element.properties[ANCHOR_PROPERTY] = anchor;
    }
    if (own !== undefined) seen.add(own);
  }
}

function idOf(element: Element): string | undefined {
  const id = element.properties.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function nameOf(element: Element): string | undefined {
  const name = element.properties.name;
  return element.tagName === 'span' || element.tagName === 'a'
    ? typeof name === 'string' && name !== ''
      ? name
      : undefined
    : undefined;
}

function enclosingSectionId(ancestors: Element[], claimed: WeakSet<Element>): string | undefined {
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const ancestor = ancestors[i];
    if (ancestor === undefined) continue;
    if (ancestor.tagName !== 'section' && ancestor.tagName !== 'div' && ancestor.tagName !== 'article')
      continue;
    const id = idOf(ancestor);
    if (id === undefined || claimed.has(ancestor)) continue;
    claimed.add(ancestor);
    return id;
  }
  return undefined;
}

/** Pipe tables without padding: a model reads them as well, and the padding of a wide column costs tokens. */
const MARKDOWN_OPTIONS: ToMarkdownOptions = {
  extensions: [gfmToMarkdown({ tablePipeAlign: false })],
  bullet: '-',
  fences: true,
};

/** The Markdown tree cut at its top-level headings, each part with its heading path, as markdownSections cuts. */
function cutAtHeadings(root: MdastRoot): DocumentSection[] {
  const sections: DocumentSection[] = [];
  const stack: { depth: number; text: string; anchor?: string }[] = [];
  let body: MdastContent[] = [];
  let anchor: string | undefined;
  const flush = () => {
    const text = toMarkdown({ type: 'root', children: body }, MARKDOWN_OPTIONS).trim();
    if (text !== '') sections.push({ path: stack.map((h) => h.text), text, ...(anchor ? { anchor } : {}) });
    body = [];
  };
  for (const node of root.children) {
    if (node.type !== 'heading') {
      body.push(node);
      continue;
    }
    const text = collapse(mdastText(node));
    if (text === '') continue;
    flush();
    while ((stack.at(-1)?.depth ?? 0) >= node.depth) stack.pop();
    stack.push({ depth: node.depth, text });
    anchor = (node.data as { anchor?: string } | undefined)?.anchor;
  }
  flush();
  return sections;
}

/** The character set a label names, as TextDecoder knows it; undefined for a label it does not know. */
function decoderFor(label: string): InstanceType<typeof TextDecoder> | undefined {
  try {
    return new TextDecoder(label.trim().replace(/^["']|["']$/g, ''), { fatal: false });
  } catch {
    return undefined;
  }
}

const CHARSET_PARAMETER = /;\s*charset\s*=\s*("?)([^";\s]+)\1/i;

/** The charset of a `<meta charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">` in the first 1024 bytes. */
function metaCharset(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.subarray(0, 1024)).toString('latin1');
  for (const meta of head.matchAll(/<meta\b[^>]*>/gi)) {
    const tag = meta[0];
    const direct = /\bcharset\s*=\s*["']?([\w.:-]+)/i.exec(tag);
    if (direct?.[1] && !/http-equiv/i.test(tag)) return direct[1];
    if (/http-equiv\s*=\s*["']?content-type/i.test(tag)) {
      const content = /\bcontent\s*=\s*(["'])(.*?)\1/i.exec(tag)?.[2];
      const charset = content
        ? CHARSET_PARAMETER.exec(`;${content.split(';').slice(1).join(';')}`)?.[2]
        : undefined;
      if (charset) return charset;
    }
  }
  return undefined;
}

/**
 * The encodings tried for a page that declares none and is not UTF-8: the Japanese ones this reader promises. A
 * candidate wins when it decodes without an error and its text reads as Japanese (hiragana make a fifth or more of
 * its non-ASCII characters: a wrong guess decodes to scattered kanji and half-width katakana).
 */
const UNDECLARED_CANDIDATES = ['shift_jis', 'euc-jp'] as const;

type Decoded = { ok: true; text: string; encoding: string } | Extract<FormatResult, { ok: false }>;

/**
 * The page's text: the charset of the server's Content-Type, else a byte order mark, else a `<meta>` declaration
 * in the first 1024 bytes, else UTF-8 when the bytes are valid UTF-8, else Shift_JIS or EUC-JP when one of them
 * reads as Japanese, else a rejection.
 */
export function decodeHtml(bytes: Uint8Array, contentType?: string): Decoded {
  const declared = contentType ? CHARSET_PARAMETER.exec(contentType)?.[2] : undefined;
  const fromHeader = declared ? decoderFor(declared) : undefined;
  if (fromHeader) return { ok: true, text: fromHeader.decode(bytes), encoding: fromHeader.encoding };
  const bom =
    bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
      ? 'utf-8'
      : bytes[0] === 0xfe && bytes[1] === 0xff
        ? 'utf-16be'
        : bytes[0] === 0xff && bytes[1] === 0xfe
          ? 'utf-16le'
          : undefined;
  if (bom) return { ok: true, text: new TextDecoder(bom).decode(bytes), encoding: bom };
  const meta = metaCharset(bytes);
  // A page can only declare an ASCII-compatible charset in a <meta>: one saying UTF-16 is UTF-8 (the HTML standard).
  const fromMeta = meta ? decoderFor(/^utf-16/i.test(meta) ? 'utf-8' : meta) : undefined;
  if (fromMeta) return { ok: true, text: fromMeta.decode(bytes), encoding: fromMeta.encoding };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    // Not UTF-8, and nothing says what it is.
  }
  for (const encoding of UNDECLARED_CANDIDATES) {
    let text: string;
    try {
      text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
    } catch {
      continue;
    }
    const nonAscii = text.match(/[\u0080-\uffff]/g)?.length ?? 0;
    const hiragana = text.match(/[\u3041-\u309f]/g)?.length ?? 0;
    if (nonAscii > 0 && hiragana / nonAscii >= 0.2) return { ok: true, text, encoding };
  }
  return {
    ok: false,
    reason: 'invalid-utf8',
    message:
      'the page declares no character set and is neither UTF-8 nor Japanese text in Shift_JIS or EUC-JP: declare its charset (<meta charset="…">) or save it as UTF-8',
  };
}

export const htmlFormat: DocumentFormat = {
  name: 'HTML',
  extensions: ['.html', '.htm'],
  mediaTypes: ['text/html', 'application/xhtml+xml'],
  async read(bytes: Uint8Array, context: FormatContext): Promise<FormatResult> {
    if (bytes.length > context.maxBytes) {
      return {
        ok: false,
        reason: 'too-large',
        message: `the page is ${bytes.length.toLocaleString('en')} bytes, more than the ${context.maxBytes.toLocaleString('en')} read`,
      };
    }
    try {
      const decoded = decodeHtml(bytes, context.contentType);
      if (!decoded.ok) return decoded;
      return htmlToSections(decoded.text, { url: context.url, anchors: true });
    } catch (error) {
      // parse5 reads any text; a throw here is a bug or an exhausted stack in a utility, not the page's fault alone.
      return {
        ok: false,
        reason: 'malformed',
        message: `the page could not be read: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  },
};
