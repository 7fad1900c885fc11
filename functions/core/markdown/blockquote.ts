import type MarkdownIt from 'markdown-it';

/*
 * markdown-it 15's block quote rule (src/rules_block/blockquote.ts, MIT, © 2014 Vitaly Puzrin, Alex Kocharin),
 * the same algorithm and the same tokens, with one change: the line state it saves and restores (four numbers per
 * line of the quote) goes into one typed array instead of four arrays grown by `push`.
 *
 * Why: each nested quote saves the state of every line it holds, and a quote of 16,384 lines or more grows those
 * arrays past V8's largest regular heap object (128 KiB of 8-byte elements). From there every growth of an array
 * is a fresh large-object allocation, mapped from the operating system and faulted in page by page, and pushing
 * a line costs about 10× as much as below: a deep quote with lazy lines (20 nested quotes rescanning every line)
 * took 4.4× the CPU time per character at 100k characters as at 25k, and lines of 50 nested quotes 2× from
 * 512 KiB to 2 MiB. A typed array's backing store is outside V8's heap and costs the same per line at every size.
 */

type StateBlock = MarkdownIt.StateBlock;

/** Saved state of consecutive lines: bMarks, tShift, sCount and bsCount of each, in one growable array. */
class SavedLines {
  private data = new Float64Array(64);
  length = 0;

  push(bMark: number, tShift: number, sCount: number, bsCount: number): void {
    if ((this.length + 1) * 4 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const at = this.length * 4;
    this.data[at] = bMark;
    this.data[at + 1] = tShift;
    this.data[at + 2] = sCount;
    this.data[at + 3] = bsCount;
    this.length++;
  }

  /** Puts the saved state back on the lines from `startLine`. */
  restore(state: StateBlock, startLine: number): void {
    for (let i = 0; i < this.length; i++) {
      const at = i * 4;
      state.bMarks[startLine + i] = this.data[at] as number;
      state.tShift[startLine + i] = this.data[at + 1] as number;
      state.sCount[startLine + i] = this.data[at + 2] as number;
      state.bsCount[startLine + i] = this.data[at + 3] as number;
    }
  }
}

function isSpace(code: number): boolean {
  return code === 0x09 || code === 0x20;
}

export function blockquote(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  let pos = (state.bMarks[startLine] as number) + (state.tShift[startLine] as number);
  let max: number;
  const oldLineMax = state.lineMax;

  // Indented 4 or more: a code block.
  if ((state.sCount[startLine] as number) - state.blkIndent >= 4) return false;
  if (state.src.charCodeAt(pos) !== 0x3e /* > */) return false;
  if (silent) return true;

  const saved = new SavedLines();
  const terminatorRules = state.md.block.ruler.getRules('blockquote');
  const oldParentType = state.parentType;
  state.parentType = 'blockquote';
  let lastLineEmpty = false;
  let nextLine: number;

  // The quote ends at an empty line, at a line after an empty line inside it, or at another block's start.
  for (nextLine = startLine; nextLine < endLine; nextLine++) {
    // Inside a list item and indented less than it.
    const isOutdented = (state.sCount[nextLine] as number) < state.blkIndent;
    pos = (state.bMarks[nextLine] as number) + (state.tShift[nextLine] as number);
    max = state.eMarks[nextLine] as number;
    if (pos >= max) break;

    if (state.src.charCodeAt(pos++) === 0x3e /* > */ && !isOutdented) {
      // A line inside the quote: its offsets move past `>` and one optional space (or part of a tab).
      let initial = (state.sCount[nextLine] as number) + 1;
      let spaceAfterMarker: boolean;
      let adjustTab = false;
      if (state.src.charCodeAt(pos) === 0x20) {
        pos++;
        initial++;
        spaceAfterMarker = true;
      } else if (state.src.charCodeAt(pos) === 0x09) {
        spaceAfterMarker = true;
        if (((state.bsCount[nextLine] as number) + initial) % 4 === 3) {
          pos++;
          initial++;
        } else {
          adjustTab = true;
        }
      } else {
        spaceAfterMarker = false;
      }

      let offset = initial;
      const oldBMark = state.bMarks[nextLine] as number;
      state.bMarks[nextLine] = pos;
      while (pos < max) {
        const ch = state.src.charCodeAt(pos);
        if (!isSpace(ch)) break;
        if (ch === 0x09) {
          offset += 4 - ((offset + (state.bsCount[nextLine] as number) + (adjustTab ? 1 : 0)) % 4);
        } else {
          offset++;
        }
        pos++;
      }
      lastLineEmpty = pos >= max;

      saved.push(
        oldBMark,
        state.tShift[nextLine] as number,
        state.sCount[nextLine] as number,
        state.bsCount[nextLine] as number,
      );
      state.bsCount[nextLine] = (state.sCount[nextLine] as number) + 1 + (spaceAfterMarker ? 1 : 0);
      state.sCount[nextLine] = offset - initial;
      state.tShift[nextLine] = pos - (state.bMarks[nextLine] as number);
      continue;
    }

    // A line after an empty line inside the quote.
    if (lastLineEmpty) break;

    // Another block starts here.
    let terminate = false;
    for (const rule of terminatorRules) {
      if (rule(state, nextLine, endLine, true)) {
        terminate = true;
        break;
      }
    }
    if (terminate) {
      // Paragraphs inside must not continue past this line ("hard termination").
      state.lineMax = nextLine;
      if (state.blkIndent !== 0) {
        // blkIndent becomes 0 below: offsets are recomputed as if it had not changed.
        saved.push(
          state.bMarks[nextLine] as number,
          state.tShift[nextLine] as number,
          state.sCount[nextLine] as number,
          state.bsCount[nextLine] as number,
        );
        state.sCount[nextLine] = (state.sCount[nextLine] as number) - state.blkIndent;
      }
      break;
    }

    // A lazy continuation line: a negative indentation marks it as a paragraph's continuation.
    saved.push(
      state.bMarks[nextLine] as number,
      state.tShift[nextLine] as number,
      state.sCount[nextLine] as number,
      state.bsCount[nextLine] as number,
    );
    state.sCount[nextLine] = -1;
  }

  const oldIndent = state.blkIndent;
  state.blkIndent = 0;

  const open = state.push('blockquote_open', 'blockquote', 1);
  open.markup = '>';
  const lines: [number, number] = [startLine, 0];
  open.map = lines;

  state.md.block.tokenize(state, startLine, nextLine);

  const close = state.push('blockquote_close', 'blockquote', -1);
  close.markup = '>';

  state.lineMax = oldLineMax;
  state.parentType = oldParentType;
  lines[1] = state.line;

  saved.restore(state, startLine);
  state.blkIndent = oldIndent;
  return true;
}
