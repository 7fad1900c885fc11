/**
 * Turns the text of a Slack mention into the question a person asked: mentions of the bot removed, other
 * mentions, channels and links made readable, and Slack's HTML-style escapes undone.
 * Slack escapes only &, < and >, and marks up references as <@U123>, <#C123|name>, <https://x|label>.
 */
export function questionFromMentionText(text: string, botUserId: string | undefined): string {
  return text
    .replace(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g, (_whole, id: string) =>
      botUserId === undefined || id === botUserId ? '' : `@${id}`,
    )
    .replace(/<#[A-Z0-9]+\|([^>]*)>/g, (_whole, name: string) => `#${name}`)
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1')
    .replace(/<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>/g, (_whole, name?: string) => name ?? '')
    .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<((?:https?|mailto):[^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .trim();
}
