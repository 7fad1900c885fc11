import type { DocumentFormat } from './document-format';
import { decodeUtf8Text } from './utf8';

/** Plain text (`.txt`): one section, no headings. */
export const textFormat: DocumentFormat = {
  name: 'plain text',
  extensions: ['.txt'],
  mediaTypes: ['text/plain'],
  async read(bytes) {
    const decoded = decodeUtf8Text(bytes);
    if (!decoded.ok) return decoded;
    if (decoded.text.trim() === '') return { ok: false, reason: 'empty', message: 'the file has no text' };
    return { ok: true, sections: [{ path: [], text: decoded.text }] };
  },
};
