/**
 * Slack reads `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`, `<!subteam^…>` and `<#C…>` in a message's text as
 * mentions that notify people. The update mode escapes `<` as `&lt;` (mrkdwn.ts), which mrkdwn shows as `<`; the
 * native mode sends Markdown (`markdown_text`), where the same escape would be shown as written. So there a word
 * joiner (U+2060, invisible, no width) goes after every `<` that opens such a token: the reader sees the text the
 * model wrote, and Slack no longer finds a mention in it.
 */

const WORD_JOINER = '\u2060';
const OPENS_SPECIAL_TOKEN = /<(?=[!@#])/g;

/**
 * `text` with every Slack mention token broken. `previous` is the text already sent before it in the same message:
 * a `<` that ended the last chunk and a `!` that starts this one would otherwise meet in Slack as `<!`.
 */
export function neutraliseMentions(text: string, previous = ''): string {
  const broken = text.replace(OPENS_SPECIAL_TOKEN, `<${WORD_JOINER}`);
  return previous.endsWith('<') && /^[!@#]/.test(text) ? `${WORD_JOINER}${broken}` : broken;
}
