import irregularVerbs from 'wink-lexicon/src/irregular-verbs.js';

/**
 * The tokenizer shared by the `local` provider's embeddings and extractive chat model, so that what the
 * embeddings find similar and what the chat model quotes agree. It knows two kinds of text:
 *
 * - Latin (and other space-separated) text: lower-cased words, apostrophes dropped, a small English stopword
 *   list removed and a light suffix stripping applied, so "keys" matches "key" and "rotating" matches "rotate".
 * - CJK text (Japanese kanji and kana, Chinese), which has no spaces: character bigrams plus kanji unigrams.
 *
 * Text is NFKC-normalised first, so full-width letters (ＶＰＮ) and half-width katakana (ﾛｸﾞｲﾝ) match their
 * usual forms.
 */

const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u30fc]/u;
const HAN = /\p{Script=Han}/u;
const HIRAGANA = /\p{Script=Hiragana}/u;
const KANA = /[\p{Script=Hiragana}\p{Script=Katakana}]/u;
const LATIN_LETTER = /[\p{L}\p{N}]/u;

/** A CJK run, or a word of letters and digits in any other script (apostrophes inside a word allowed). */
const SEGMENT =
  /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u30fc]+)|((?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{N}\p{M}])+(?:['’](?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{N}\p{M}])+)*)/gu;

const STOPWORDS = new Set(
  (
    'a about above after again all also am an and any are as at be been before being below both but by can ' +
    'could did do does doing down during each few for from further had has have having he her here hers him ' +
    'his how i if in into is it its itself just me more most my no nor not now of off on once only or other ' +
    'our ours out over own please same she should so some such than that the their theirs them then there ' +
    'these they this those through to too under until up very was we were what when where which while who ' +
    'whom why will with would you your yours'
  ).split(' '),
);

/** One segment of a text: a word of space-separated text, or a run of CJK characters. */
export interface Segment {
  kind: 'word' | 'cjk';
  /** The segment as written (after NFKC normalisation). */
  surface: string;
}

/** Splits a text into words and CJK runs, dropping punctuation and whitespace. */
export function segments(text: string): Segment[] {
  const out: Segment[] = [];
  for (const match of text.normalize('NFKC').matchAll(SEGMENT)) {
    if (match[1] !== undefined) out.push({ kind: 'cjk', surface: match[1] });
    else if (match[2] !== undefined) out.push({ kind: 'word', surface: match[2] });
  }
  return out;
}

/**
 * The base form of an irregular verb's other forms ("lost" → "lose", "paid" → "pay", "sent" → "send"), from the
 * list wink-lexicon keeps (435 forms, 14 KB; only this file of the package is bundled). A Map, for the reason
 * NEGATIONS gives.
 */
const IRREGULAR_VERBS = new Map(Object.entries(irregularVerbs));

/**
 * A light suffix stripper, not a full Porter stemmer: enough for "keys"/"key", "rotating"/"rotated"/"rotate"
 * to meet, while keeping short words and words with digits ("v2", "s3") intact. When matching, an irregular
 * verb's forms meet its base form first ("I lost my laptop" and "what if I lose it").
 */
function stem(form: string, loose: boolean): string {
  const word = loose ? (IRREGULAR_VERBS.get(form) ?? form) : form;
  if (word.length <= 3 || /\d/.test(word)) return word;
  if (!loose) return indexStem(word);
  // "policies", "applied" → "policy", "apply": the y the plural or past tense turned into i.
  if (/[^aeiou](?:ies|ied)$/.test(word) && word.length > 5) return `${word.slice(0, -3)}y`;
  // "slowly", "quickly" → "slow", "quick"; "only", "early", "apply" are too short or not adverbs of this kind.
  if (word.endsWith('ly') && word.length > 5 && !/(?:ll|ply|[aeiou]ly)$/.test(word)) return word.slice(0, -2);
  for (const suffix of ['ing', 'ed', 'es', 's', 'e']) {
    if (!word.endsWith(suffix)) continue;
    let base = word.slice(0, -suffix.length);
    if (base.length < 3) continue;
    if (suffix === 's' && /[sui]$/.test(base)) continue;
    // "travelling", "submitted" → "travel", "submit": the consonant doubled before the ending, but not "ss"
    // ("passed" → "pass") or "ll" of a word that ends so ("billing" → "bill").
    if (
      (suffix === 'ing' || suffix === 'ed') &&
      /([b-df-hj-np-tv-z])\1$/.test(base) &&
      !/(?:ss|ll|ff|zz)$/.test(base)
    ) {
      base = base.slice(0, -1);
    }
    return singleL(base);
  }
  return singleL(word);
}

/** The stem of the offline embeddings' features, unchanged so that a table they built stays valid. */
function indexStem(word: string): string {
  for (const suffix of ['ing', 'ed', 'es', 's', 'e']) {
    if (!word.endsWith(suffix)) continue;
    const base = word.slice(0, -suffix.length);
    if (base.length < 3) continue;
    if (suffix === 's' && /[sui]$/.test(base)) continue;
    return base;
  }
  return word;
}

/**
 * A final double l of a longer word made single, in every form: British "travelling" and "travel", "installed" and
 * "install" then meet ("travel", "instal") without a dictionary; short words ("bill", "still") keep theirs.
 */
function singleL(stemmed: string): string {
  return stemmed.length > 5 && stemmed.endsWith('ll') ? stemmed.slice(0, -1) : stemmed;
}

/**
 * Irregular negations, whose stem is not what is left once "n't" is cut. A Map, not a plain object: the word
 * looked up is anyone's text, and a plain object would answer "constructor" with `Object.prototype.constructor`.
 */
const NEGATIONS = new Map<string, string>([
  ["can't", 'can'],
  ["won't", 'will'],
  ["shan't", 'shall'],
  ["ain't", 'is'],
]);

/**
 * A word without its contracted ending or possessive: "I'm", "don't", "what's", "we've" become the stopwords
 * "i", "do", "what", "we" (not the terms "im", "dont", "whats", "weve", which no document holds), and "company's"
 * becomes "company".
 */
function withoutContraction(word: string): string {
  const negation = NEGATIONS.get(word);
  if (negation !== undefined) return negation;
  return word.replace(/(?:n't|'(?:m|s|re|ve|ll|d))$/, '');
}

/** The term of a space-separated word, or undefined for a stopword or a lone letter. */
function wordTerm(surface: string, loose = false): string | undefined {
  const lower = surface.toLowerCase();
  const word = loose
    ? withoutContraction(lower.replace(/’/g, "'")).replace(/'/g, '')
    : lower.replace(/['’]/g, '');
  if (STOPWORDS.has(word)) return undefined;
  if (word.length < 2 && !/\d/.test(word)) return undefined;
  return stem(word, loose);
}

/**
 * The terms of a CJK run: its character bigrams and its kanji unigrams. Bigrams holding hiragana are dropped
 * unless the text holds nothing but hiragana: in Japanese those are mostly particles and inflections (の, を,
 * する), so this is the CJK counterpart of the stopword list. A text of hiragana alone keeps its bigrams so it is
 * not lost. `onlyHiragana` defaults to the run's own script, for a run taken alone.
 */
function cjkTerms(
  run: string,
  onlyHiragana: boolean | undefined = Array.from(run).every((c) => HIRAGANA.test(c)),
): string[] {
  const chars = Array.from(run);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += 1) {
    const c = chars[i] as string;
    if (HAN.test(c)) out.push(c);
    const next = chars[i + 1];
    if (next === undefined) continue;
    if (!onlyHiragana && (HIRAGANA.test(c) || HIRAGANA.test(next))) continue;
    out.push(c + next);
  }
  return out;
}

/**
 * The index terms of a text, in order and with repeats (callers count them): the features of the offline
 * embeddings. They are kept as they were when tables were built with them (a change would leave every local table
 * with vectors its questions no longer meet, under the same embedder name); matching improves in `matchTerms`.
 */
export function terms(text: string): string[] {
  return termsOf(text, false);
}

/**
 * The terms by which the offline answer model matches a question with a sentence: `terms`, with more forms of a
 * word brought together ("travelling" and "travel", "slowly" and "slow", "policies" and "policy", "installed" and
 * "install"), contractions and possessives read as their words ("I'm" → the stopword "I", "company's" →
 * "company"), and hiragana dropped as particles unless the whole text is hiragana (in "VPNにつながらない" as in
 * "鍵につながらない").
 */
export function matchTerms(text: string): string[] {
  return termsOf(text, true);
}

function termsOf(text: string, loose: boolean): string[] {
  const out: string[] = [];
  const all = segments(text);
  // Whether hiragana is all there is to go by is a property of the text, not of one run: in "VPNにつながらない"
  // the run after "VPN" holds only hiragana, yet it is as much particles and inflection as in "鍵につながらない".
  const onlyHiragana = loose
    ? all.every((s) => s.kind === 'cjk' && Array.from(s.surface).every((c) => HIRAGANA.test(c)))
    : undefined;
  for (const segment of all) {
    if (segment.kind === 'cjk') out.push(...cjkTerms(segment.surface, onlyHiragana));
    else {
      const term = wordTerm(segment.surface, loose);
      if (term !== undefined) out.push(term);
    }
  }
  return out;
}

/** A content word of a text as written, with the terms it stands for. */
export interface KeyTerm {
  surface: string;
  terms: string[];
}

/**
 * The content words of a text as written, first occurrence only: non-stopwords of space-separated text, and
 * the katakana and kanji runs of CJK text (without morphological analysis those are the nouns: ローテーション,
 * 鍵, 経費精算). Hiragana, mostly particles and inflections, separates them and is dropped.
 */
export function keyTerms(text: string): KeyTerm[] {
  const out: KeyTerm[] = [];
  const seen = new Set<string>();
  const add = (surface: string, termsOf: string[]) => {
    const key = termsOf.join(' ');
    if (termsOf.length === 0 || seen.has(key)) return;
    seen.add(key);
    out.push({ surface, terms: termsOf });
  };
  for (const segment of segments(text)) {
    if (segment.kind === 'word') {
      const term = wordTerm(segment.surface);
      if (term !== undefined) add(segment.surface, [term]);
      continue;
    }
    for (const part of segment.surface.split(/\p{Script=Hiragana}+/u)) {
      if (part !== '' && (Array.from(part).length > 1 || HAN.test(part))) add(part, cjkTerms(part));
    }
  }
  return out;
}

/**
 * True when a text is mainly Japanese, to choose the language of a reply: it has kana (which Chinese does not)
 * and at least as many CJK characters as Latin letters, so "What does ログイン mean?" stays English.
 */
export function isMainlyJapanese(text: string): boolean {
  let cjk = 0;
  let latin = 0;
  let kana = false;
  for (const c of text.normalize('NFKC')) {
    if (CJK_CHAR.test(c)) {
      cjk += 1;
      if (KANA.test(c)) kana = true;
    } else if (LATIN_LETTER.test(c)) latin += 1;
  }
  return kana && cjk >= latin;
}

/** True when a character is a CJK character (kanji, kana or the long-vowel mark). */
export function isCjkChar(c: string): boolean {
  return CJK_CHAR.test(c);
}
