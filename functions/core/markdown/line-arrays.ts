import type MarkdownIt from 'markdown-it';

type StateBlockClass = InstanceType<typeof MarkdownIt>['block']['State'];
type StateBlockArgs = ConstructorParameters<StateBlockClass>;

/**
 * markdown-it's block state (src/rules_block/state_block.ts, MIT, © 2014 Vitaly Puzrin, Alex Kocharin) with its
 * five per-line arrays (bMarks, eMarks, tShift, sCount, bsCount) as typed arrays of the right length, filled as
 * markdown-it's constructor fills them. markdown-it pushes onto plain arrays, and past 16,384 lines an array
 * outgrows V8's largest regular heap object (128 KiB of 8-byte elements): from there every growth is a fresh
 * large-object allocation from the operating system, and a document's cost per line steps up (fences of 8
 * characters a pair: 1.6× the CPU time per character at 100k characters as at 25k). A typed array's backing store
 * is outside V8's heap, allocated once. The rules only index the arrays (the constructor alone pushes), and every
 * value is an offset or a column within the text, which fits 32 bits.
 */
export function withTypedLineArrays(Base: StateBlockClass): StateBlockClass {
  return class TypedLineState extends Base {
    constructor(src: string, md: StateBlockArgs[1], env: StateBlockArgs[2], tokens: StateBlockArgs[3]) {
      // The base class on an empty text: its fields, and line arrays of just the final entry, replaced below.
      super('', md, env, tokens);
      this.src = src;
      let lines = 1;
      for (let pos = src.indexOf('\n'); pos !== -1; pos = src.indexOf('\n', pos + 1)) lines++;
      const bMarks = new Int32Array(lines + 1);
      const eMarks = new Int32Array(lines + 1);
      const tShift = new Int32Array(lines + 1);
      const sCount = new Int32Array(lines + 1);
      const bsCount = new Int32Array(lines + 1);
      let line = 0;
      const len = src.length;
      for (let start = 0, pos = 0, indent = 0, offset = 0, indentFound = false; pos < len; pos++) {
        const ch = src.charCodeAt(pos);
        if (!indentFound) {
          if (ch === 0x09 || ch === 0x20) {
            indent++;
            offset += ch === 0x09 ? 4 - (offset % 4) : 1;
            continue;
          }
          indentFound = true;
        }
        if (ch === 0x0a || pos === len - 1) {
          if (ch !== 0x0a) pos++;
          bMarks[line] = start;
          eMarks[line] = pos;
          tShift[line] = indent;
          sCount[line] = offset;
          line++;
          indentFound = false;
          indent = 0;
          offset = 0;
          start = pos + 1;
        }
      }
      // markdown-it's fake entry after the last line, which spares its rules a bounds check.
      bMarks[line] = len;
      eMarks[line] = len;
      const used = line + 1;
      this.bMarks = bMarks.subarray(0, used) as unknown as number[];
      this.eMarks = eMarks.subarray(0, used) as unknown as number[];
      this.tShift = tShift.subarray(0, used) as unknown as number[];
      this.sCount = sCount.subarray(0, used) as unknown as number[];
      this.bsCount = bsCount.subarray(0, used) as unknown as number[];
      this.lineMax = line;
    }
  };
}
