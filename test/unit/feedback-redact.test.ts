import { redactIdentifiers } from '../../scripts/feedback/redact';

/**
 * Issue 18, point 16: each of Slack's ways of naming a person, a channel or a group (docs.slack.dev, "Formatting
 * text"), and e-mail addresses, as the export finds them in what people wrote.
 */
describe('redactIdentifiers', () => {
  it.each([
    ['a user mention', 'ask <@U0123ABCD> please', 'ask @user please'],
    ['an Enterprise Grid user', 'ask <@W0123ABCDE>', 'ask @user'],
    ['a user mention with a name', 'ask <@U0123ABCD|jane.doe> now', 'ask @user now'],
    ['a channel mention', 'see <#C0123ABCD>', 'see #channel'],
    ['a channel mention with a name', 'see <#C0123ABCD|secret-deals>', 'see #channel'],
    ['a user group', 'cc <!subteam^S0123ABCD>', 'cc @group'],
    ['a user group with its handle', 'cc <!subteam^S0123ABCD|@it-team>', 'cc @group'],
    ['a bare id with @, as the ack stores a mention', 'did @U0123ABCD do it?', 'did @user do it?'],
    ['a bare id', 'U0HUMAN001 and W0GRIDUSR02 in C0SECRET001', '@user and @user in #channel'],
    ['a mail link', 'mail <mailto:jane@corp.example|Jane>', 'mail [email]'],
    [
      'a mail link made readable by the ack',
      'mail jane@corp.example (mailto:jane@corp.example)',
      'mail [email] ([email])',
    ],
    ['an address in free text', 'write to j.doe+vpn@mail.corp.example.', 'write to [email].'],
  ])('replaces %s', (_what, text, expected) => {
    expect(redactIdentifiers(text)).toBe(expected);
  });

  it.each([
    [
      'broadcasts, channel names, handles and links',
      'tell <!here> in #it-help and @it-team: <https://x.example|docs>',
    ],
    ['ordinary capitals and digits', 'Is UTF8 fine? Use USB3 or the W10 laptop, CVE-2024-1234, SHA256, S3.'],
    ['a word with no digit', 'UNDERSTOOD, WORKFLOWS and CHANNELS'],
  ])('keeps %s', (_what, text) => {
    expect(redactIdentifiers(text)).toBe(text);
  });
});
