import type { FormatResult } from './document-format';

/**
 * A text file's bytes as text with `\n` line endings, or why they are not text: NUL bytes (binary, or UTF-16) or
 * invalid UTF-8. Markdown and plain text are read as UTF-8 only; HTML declares its own character set.
 */
export function decodeUtf8Text(
  bytes: Uint8Array,
): { ok: true; text: string } | Extract<FormatResult, { ok: false }> {
  if (bytes.includes(0)) {
    return {
      ok: false,
      reason: 'binary',
      message: 'the file contains NUL bytes: it is binary, or text in UTF-16 (save it as UTF-8)',
    };
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return { ok: true, text: text.replace(/\r\n?/g, '\n') };
  } catch {
    return { ok: false, reason: 'invalid-utf8', message: 'the file is not valid UTF-8 (save it as UTF-8)' };
  }
}
