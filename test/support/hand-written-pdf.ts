/**
 * Small PDFs written byte by byte, for the inputs no real document is: a scan (pages with an image and no text),
 * a page tree that claims 10,000 pages, a stream that inflates to more than a gigabyte. Each object is given as its
 * body (`<< … >>` or a stream); the objects are numbered from 1 in order, the first is the catalog, and the
 * cross-reference table is computed, so pdf.js reads them as well-formed files.
 */
export function handWrittenPdf(objects: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let length = parts[0]?.length ?? 0;
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(length);
    const part = Buffer.concat([
      Buffer.from(`${index + 1} 0 obj\n`, 'latin1'),
      typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    parts.push(part);
    length += part.length;
  });
  const xref = [
    'xref',
    `0 ${objects.length + 1}`,
    '0000000000 65535 f ',
    ...offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n `),
    'trailer',
    `<< /Size ${objects.length + 1} /Root 1 0 R >>`,
    'startxref',
    String(length),
    '%%EOF',
    '',
  ].join('\n');
  parts.push(Buffer.from(xref, 'latin1'));
  return Buffer.concat(parts);
}

/** A stream object: its dictionary entries (without /Length) and its bytes. */
export function streamObject(dictionary: string, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`<< ${dictionary} /Length ${data.length} >>\nstream\n`, 'latin1'),
    data,
    Buffer.from('\nendstream', 'latin1'),
  ]);
}

/**
 * A zlib stream that inflates to at least `size` bytes of `byte`, written directly rather than by deflating them
 * (which would take seconds and the whole size in memory): one fixed-Huffman block of the literal, then matches of
 * 258 bytes at distance 1, 13 bits each, so 1 GB takes about 5 MB. Its Adler-32 is left zero: an inflater that
 * checks it fails only at the very end, after all the output.
 */
export function deflateBomb(size: number, byte = 0x20): Buffer {
  const matches = Math.ceil(Math.max(0, size - 1) / 258);
  const out = Buffer.alloc(2 + Math.ceil((3 + 8 + matches * 13 + 7 + 7) / 8) + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  let bits = 0;
  let count = 0;
  const put = (value: number, length: number) => {
    bits |= value << count;
    count += length;
    while (count >= 8) {
      out[at++] = bits & 0xff;
      bits >>>= 8;
      count -= 8;
    }
  };
  // Huffman codes go into the stream most significant bit first.
  const reversed = (code: number, length: number) => {
    let value = 0;
    for (let i = 0; i < length; i++) value |= ((code >> i) & 1) << (length - 1 - i);
    return value;
  };
  put(1, 1); // the last block
  put(1, 2); // fixed Huffman codes
  put(reversed(0x30 + byte, 8), 8); // the literal (0–143: 8 bits from 0x30)
  const match = reversed(0b11000101, 8) | (reversed(0, 5) << 8); // length 258 (code 285), distance 1 (code 0)
  for (let i = 0; i < matches; i++) put(match, 13);
  put(0, 7); // end of block (code 256)
  if (count > 0) put(0, 8 - count);
  return out;
}
