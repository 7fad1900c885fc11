import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runInNewContext } from 'node:vm';
import { REPO_ROOT } from '../../scripts/local/stack';

/**
 * The playground page's renderer (scripts/local/playground/public/mrkdwn.js, a browser module) draws the `:emoji:`
 * codes the bot writes as Slack does: as emoji. Unknown codes stay as typed, as they do in Slack. The module is run
 * as the page runs it, against a small stand-in for the DOM calls it makes.
 */

/** The DOM nodes the renderer makes: elements, fragments and text. */
class FakeNode {
  children: (FakeNode | string)[] = [];
  className = '';
  href = '';
  target = '';
  rel = '';

  constructor(readonly tag: string) {}

  append(...items: (FakeNode | string)[]): void {
    this.children.push(...items);
  }

  get textContent(): string {
    return this.children.map((child) => (typeof child === 'string' ? child : child.textContent)).join('');
  }

  set textContent(text: string) {
    this.children = [text];
  }

  /** The tree as tags and text, for assertions: `<strong>bold</strong>`. */
  outline(): string {
    const inner = this.children
      .map((child) => (typeof child === 'string' ? child : child.outline()))
      .join('');
    return this.tag === '#fragment' || this.tag === '#text' ? inner : `<${this.tag}>${inner}</${this.tag}>`;
  }
}

const fakeDocument = {
  createDocumentFragment: () => new FakeNode('#fragment'),
  createElement: (tag: string) => new FakeNode(tag),
  createTextNode: (text: string) => Object.assign(new FakeNode('#text'), { children: [text] }),
};

interface Renderer {
  EMOJI: Record<string, string>;
  emojify(text: string): string;
  renderMrkdwn(text: string, options?: { names?: Record<string, string> }): FakeNode;
}

const MODULE = join(REPO_ROOT, 'scripts/local/playground/public/mrkdwn.js');

/** The module as the page loads it, its exports returned (it imports nothing). */
function loadRenderer(): Renderer {
  const source = readFileSync(MODULE, 'utf8').replace(/^export /gm, '');
  return runInNewContext(`${source}\n;({ EMOJI, emojify, renderMrkdwn });`, {
    document: fakeDocument,
    URL,
  }) as Renderer;
}

/** Every `:code:` the bot's code writes (functions/), with where. */
function codesTheBotWrites(): { code: string; file: string }[] {
  const found: { code: string; file: string }[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(
          /(?<![\w:/.@-]):([a-z][a-z0-9_+-]*):(?![\w/:])/g,
        )) {
          found.push({ code: match[1] ?? '', file: relative(REPO_ROOT, path) });
        }
      }
    }
  };
  visit(join(REPO_ROOT, 'functions'));
  return found;
}

const { EMOJI, emojify, renderMrkdwn } = loadRenderer();
const isEmoji = (text: string) => /^\p{Extended_Pictographic}\uFE0F?$/u.test(text);

describe('the playground draws emoji codes', () => {
  it('draws every code the bot writes as an emoji', () => {
    const codes = codesTheBotWrites();

    // The placeholder, the no-documents reply and the apology at least.
    expect(codes.map((c) => c.code)).toEqual(expect.arrayContaining(['mag', 'open_file_folder', 'warning']));
    const undrawn = codes.filter(({ code }) => !isEmoji(emojify(`:${code}:`)));
    expect(undrawn).toEqual([]);
  });

  it('draws only emoji in its table', () => {
    expect(Object.entries(EMOJI).filter(([, emoji]) => !isEmoji(emoji))).toEqual([]);
  });

  it('draws the bot’s messages with their emoji, in text and in bold alike', () => {
    const noDocuments = renderMrkdwn(':open_file_folder: I can’t answer from documents yet');
    const placeholder = renderMrkdwn('*:mag: Searching* the documents…');
    const failure = renderMrkdwn(':warning: Something went wrong');

    expect(noDocuments.textContent).toBe('📂 I can’t answer from documents yet');
    expect(placeholder.outline()).toBe('<strong>🔍 Searching</strong> the documents…');
    expect(failure.textContent).toBe('⚠️ Something went wrong');
  });

  it('leaves unknown codes, codes in code spans and codes in links as typed', () => {
    const rendered = renderMrkdwn(
      ':not_an_emoji: :constructor: :__proto__: `:mag:` <https://example.com/:mag:|docs> 10:30:45',
    );

    expect(rendered.textContent).toBe(
      ':not_an_emoji: :constructor: :__proto__: :mag: docs (example.com) 10:30:45',
    );
    expect(emojify(':thumbsup: and :x_not_known:')).toBe('👍 and :x_not_known:');
  });
});
