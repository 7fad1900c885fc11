import type { Passage, SourceRef } from '../types';

/**
 * Which sources an answer used. Both providers cite the passages they quote with the numbers `formatPassages`
 * gives them, in square brackets (`[1]`, `[2][3]`, `[1, 3]`), and a reply that says the documents do not cover the
 * question cites nothing. From that, the sources listed under an answer are the sections it used, not whatever
 * happened to rank high, and a decline lists none.
 */

/** Sources listed under an answer at most: more are rarely all used, and they crowd the answer. */
export const MAX_SOURCES = 3;

/**
 * A citation as the answer prompt asks for it: a passage number in square brackets, several numbers in one pair
 * separated by commas. `[0]` or a number beyond the passages is no citation (a model may mistype one).
 */
const CITATION = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

/**
 * Phrases by which an answer says the documents do not hold what was asked, in English and Japanese: the local
 * model's own decline, and the ways the answer prompt's rule ("say plainly that the documents do not cover it")
 * comes out of a chat model.
 */
const DECLINE_PATTERNS = [
  /\b(?:documents?|passages?|sources?|context)\b[^.!?\n]{0,40}\b(?:do(?:es)?\s*n[o']t|don't|doesn't)\s+(?:cover|contain|mention|say|include|address|answer|provide)/i,
  /\bnot\s+(?:covered|mentioned|addressed)\s+(?:in|by)\s+the\s+(?:documents?|passages?)/i,
  /\b(?:can ?not|can't|could ?not|couldn't|am unable to|was unable to)\s+(?:answer|find)\b[^.!?\n]{0,60}\b(?:documents?|passages?)/i,
  /\bno (?:information|mention|details?)\b[^.!?\n]{0,40}\b(?:documents?|passages?)/i,
  /(?:ドキュメント|文書|資料|パッセージ)[^。\n]{0,30}(?:見つかりませんでした|記載(?:が|は)?(?:ありません|ない)|含まれていません|書かれていません|答えられません|お答えできません)/,
];

/** The passage numbers an answer cites, in the order it first cites them, each once. */
export function citedPassageNumbers(answerText: string): number[] {
  const numbers: number[] = [];
  // A bracketed number in code (`items[1]`) is no citation.
  const prose = answerText.replace(/```[\s\S]*?(?:```|$)/g, ' ').replace(/`[^`\n]*`/g, ' ');
  for (const match of prose.matchAll(CITATION)) {
    for (const part of (match[1] ?? '').split(',')) {
      const n = Number(part.trim());
      if (n >= 1 && !numbers.includes(n)) numbers.push(n);
    }
  }
  return numbers;
}

/**
 * True when the answer declines: it says the documents do not cover the question and cites no passage. An answer
 * that cites a passage answers at least in part ("the documents do not say X, but [2] says Y"), so it is no decline.
 */
export function isDecline(answerText: string): boolean {
  const text = answerText.trim();
  if (text === '') return true;
  if (citedPassageNumbers(text).length > 0) return false;
  return DECLINE_PATTERNS.some((pattern) => pattern.test(text));
}

/** A heading path without the document's title at its head ("VPN guide › Rotating" → "Rotating"). */
export function headingUnderTitle(title: string, heading: string): string {
  if (heading === title) return '';
  return heading.startsWith(`${title} › `) ? heading.slice(title.length + 3) : heading;
}

/** The document section a passage comes from, as listed under an answer. */
export function sectionOf(
  passage: Pick<Passage, 'source' | 'title' | 'heading' | 'pageStart' | 'pageEnd' | 'url'>,
): SourceRef {
  return {
    source: passage.source,
    title: passage.title,
    heading: headingUnderTitle(passage.title, passage.heading),
    ...(passage.pageStart !== undefined
      ? { pageStart: passage.pageStart, pageEnd: passage.pageEnd ?? passage.pageStart }
      : {}),
    ...(passage.url !== undefined ? { url: passage.url } : {}),
  };
}

/** The distinct sections of `passages`, in their order: several chunks of one section count once. */
export function distinctSections(passages: readonly Passage[], max = Number.POSITIVE_INFINITY): SourceRef[] {
  const seen = new Map<string, SourceRef>();
  const sources: SourceRef[] = [];
  for (const passage of passages) {
    if (sources.length >= max) break;
    const section = sectionOf(passage);
    const key = `${section.source}\u0000${section.heading}`;
    const listed = seen.get(key);
    if (listed !== undefined) {
      // Several passages of one section: the section is listed once, with every page they are on.
      if (section.pageStart !== undefined) {
        listed.pageStart = Math.min(listed.pageStart ?? section.pageStart, section.pageStart);
        listed.pageEnd = Math.max(listed.pageEnd ?? 0, section.pageEnd ?? section.pageStart);
      }
      continue;
    }
    seen.set(key, section);
    sources.push(section);
  }
  return sources;
}

/**
 * The distinct document sections the answer used, best first (in the passages' rank order), at most
 * `maxSources`; none when the answer declines. An answer cites passages by their number (`[2]`, see
 * `formatPassages`); numbers that name no passage are ignored. An answer that cites nothing and is no decline (a
 * model that ignored the citation rule) gets no sources rather than a guess: listing sections it may not have
 * used is what this replaces.
 */
export function answerSources(
  passages: readonly Passage[],
  answerText: string,
  maxSources = MAX_SOURCES,
): SourceRef[] {
  if (isDecline(answerText)) return [];
  const cited = new Set(citedPassageNumbers(answerText).filter((n) => n <= passages.length));
  const used = passages.filter((_, i) => cited.has(i + 1));
  return distinctSections(used, maxSources);
}

/**
 * The answer with its citations renumbered after the sources listed under it (`sources`, as `answerSources`
 * returned them): `[4]` becomes `[1]` when passage 4's section is listed first, so the numbers a reader sees match
 * the list. Citations of passages whose section is not listed are removed, with the space before them.
 */
export function renumberCitations(
  answerText: string,
  passages: readonly Passage[],
  sources: readonly SourceRef[],
): string {
  const listed = (n: number): number | undefined => {
    const passage = passages[n - 1];
    if (passage === undefined) return undefined;
    const section = sectionOf(passage);
    const index = sources.findIndex((s) => s.source === section.source && s.heading === section.heading);
    return index === -1 ? undefined : index + 1;
  };
  // A run of adjacent citations ("[2][1]") is renumbered as one, so it cannot end up as "[1][1]".
  return answerText.replace(/ ?(?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+/g, (whole) => {
    const numbers: number[] = [];
    for (const part of whole.match(/\d{1,3}/g) ?? []) {
      const n = listed(Number(part));
      if (n !== undefined && !numbers.includes(n)) numbers.push(n);
    }
    if (numbers.length === 0) return '';
    numbers.sort((a, b) => a - b);
    const space = whole.startsWith(' ') ? ' ' : '';
    return `${space}${numbers.map((n) => `[${n}]`).join('')}`;
  });
}
