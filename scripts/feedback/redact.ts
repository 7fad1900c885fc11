/**
 * What the feedback export (export.ts) does to the text people wrote before it leaves the table: every reference to a
 * person, a channel or a user group by its Slack id, and every e-mail address, is replaced by a fixed placeholder.
 * The placeholders are the same at every export (unlike the voters' keyed hashes), so an exported line stays the same
 * line from one export to the next and a diff of two exports shows only new questions.
 *
 * Slack's markup (docs.slack.dev, "Formatting text for app surfaces"), and what the stored text holds after the ack
 * made a question readable (functions/core/ack/slack-text.ts):
 * - `<@U…>`, `<@W…>` (Enterprise Grid), `<@U…|name>`: `@user` (the name too is left out);
 * - `<#C…>`, `<#C…|name>` (and `G…`, `D…` conversations): `#channel`;
 * - `<!subteam^S…>`, `<!subteam^S…|@handle>`: `@group`;
 * - `<mailto:a@b.example>`, `<mailto:a@b.example|label>`, and any e-mail address as text: `[email]`;
 * - an id as text, such as `@U0123ABCD` (the ack stores a user mention this way) or `U0123ABCD` alone (a condensed
 *   question can hold one): `@user`, `#channel` or `@group` by its first letter. An id as text is a U, W, C, G, D or
 *   S followed by 8 to 10 capitals and digits, one of them a digit at least (Slack's ids are 9 to 11 characters).
 *
 * `<!here>`, `<!channel>`, `<!everyone>`, a group's `@handle` typed as text and `#name` of a channel are no ids and
 * are kept, as are links. Free text can name people in ways no pattern finds (a name, a phone number):
 * docs/evaluation.md says to review the file.
 */

/** The placeholders, as they appear in the exported text. */
export const REDACTED = {
  user: '@user',
  channel: '#channel',
  group: '@group',
  email: '[email]',
} as const;

/** A Slack id as text: a kind letter, then 8 to 10 capitals and digits with a digit among them. */
const BARE_ID = /(?<![A-Za-z0-9_])@?([UWCGDS])(?=[A-Z0-9]{0,9}[0-9])[A-Z0-9]{8,10}(?![A-Za-z0-9_])/g;

/** An e-mail address (RFC 5322's dot-atom local part, a domain with a dot). */
const EMAIL =
  /[A-Za-z0-9.!#$%&'*+/=?^_`{}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;

function placeholderOf(kind: string): string {
  if (kind === 'U' || kind === 'W') return REDACTED.user;
  if (kind === 'S') return REDACTED.group;
  return REDACTED.channel;
}

/** `text` with every Slack id of a person, channel or group, and every e-mail address, replaced (see above). */
export function redactIdentifiers(text: string): string {
  return (
    text
      .replace(/<mailto:[^>]*>/gi, REDACTED.email)
      .replace(/<@[UW][A-Z0-9]+(?:\|[^>]*)?>/g, REDACTED.user)
      .replace(/<#[CGD][A-Z0-9]+(?:\|[^>]*)?>/g, REDACTED.channel)
      .replace(/<!subteam\^[A-Z0-9]+(?:\|[^>]*)?>/g, REDACTED.group)
      .replace(EMAIL, REDACTED.email)
      // The ack keeps a mail link readable as `a@b.example (mailto:a@b.example)`.
      .replace(/mailto:\[email\]/gi, REDACTED.email)
      .replace(BARE_ID, (_whole, kind: string) => placeholderOf(kind))
  );
}
