import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import {
  BaseChatModel,
  type BaseChatModelParams,
  type LangSmithParams,
} from '@langchain/core/language_models/chat_models';
import { AIMessage, AIMessageChunk, type BaseMessage, type UsageMetadata } from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import { englishOf, untranslatedOf } from './glossary-ja-en';
import { isCjkChar, isMainlyJapanese, type KeyTerm, keyTerms, matchTerms, terms } from './terms';

/**
 * The `local` provider's chat model: no network and no weights, yet it runs the very prompts of
 * `chains/prompts.ts` and answers from the passages in them. It reads the delimited blocks of those prompts:
 *
 * - a `<follow_up>` block: condense mode, which carries the key terms of the previous question into a follow-up
 *   that depends on it ("How long does it take? (about: rotate VPN key)");
 * - a `<passages>` block: answer mode, which quotes the one to three sentences of the passages that best match
 *   the question, each under its section and the passage's number (`From *VPN guide › Rotating* [2]:`, the citation
 *   every model is asked for, see `chains/answer-sources.ts`), or says the documents do not cover it.
 *
 * Passage text is only ever scored and quoted, never interpreted, so an instruction inside a document cannot
 * steer it. Replies follow the language of the question (Japanese or English).
 */

export interface LocalExtractiveChatModelFields extends BaseChatModelParams {
  /** Reported as the model's name. @default 'local-extractive' */
  modelName?: string;
  /** Pause between streamed tokens, so a demo shows the answer streaming. @default 0 */
  tokenDelayMs?: number;
}

const NOT_COVERED = {
  en: 'The documents do not cover this question, so I cannot answer it from them.',
  ja: 'ドキュメントにはこの質問への答えが見つかりませんでした。',
};
/** The lead of a Japanese answer quoting documents in another language: the framing is the asker's, the quote as written. */
const QUOTED_AS_WRITTEN_JA = '該当する箇所を、ドキュメントの原文のまま引用します。';
const ONLY_DOCUMENTS = {
  en: "I can only answer questions from the organisation's documents.",
  ja: '組織のドキュメントに基づく質問にのみお答えできます。',
};

/**
 * Below this share of the question's (rarity-weighted) terms, a sentence does not answer it. A term no passage
 * holds weighs most, so a question about something the documents lack ("parental leave", "a meeting room") stays
 * below it, while a question put in other words than the document's ("download" for "install") clears it on the
 * rest. A named thing (an acronym) that no passage mentions is declined whatever the share: see `namedTerms`.
 */
const MIN_COVERAGE = 0.3;
/**
 * The share a Japanese question needs when matched through its English (`englishOf`): its words the glossary does
 * not know are not counted, so what is left must be met nearly whole ("S3 バケットのバージョニング" is not answered by a
 * sentence about S3 buckets that never says versioning).
 */
const MIN_COVERAGE_ACROSS_LANGUAGES = 0.7;
/** A question asking about this many terms or more is answered only by a sentence that meets two of them. */
const MIN_TERMS_FOR_TWO = 3;
/** Further sentences are quoted only when nearly as good as the best one. */
const RUNNER_UP_RATIO = 0.75;
const MAX_QUOTES = 3;
/** A follow-up carries at most this many terms from the conversation. */
const MAX_CARRIED_TERMS = 6;

/**
 * Terms of how a question is asked rather than what it is about ("how *much*", "do I *need* to", "what *happens*",
 * "is there *anything*"): documents rarely say them, so counting them would make every answer look partial. They
 * are left out of what a sentence must cover, on top of the stopwords `terms` drops.
 */
const ASKING_TERMS = new Set(
  matchTerms(
    'much many often anything anyone anybody something someone somebody really actually get gets got getting need needs ' +
      'want wants like way ways know tell happen happens happened possible able allowed okay ok thing things hi ' +
      'hello thanks thank kind sort exactly currently still use',
  ),
);

/** Words by which a follow-up points back at the conversation, so it is not standalone. */
const REFERENCES_EN = new Set(
  'it its this that these those they them their there then one ones same also else other again too former latter'.split(
    ' ',
  ),
);
const REFERENCES_JA = [
  'それ',
  'その',
  'これ',
  'この',
  'あれ',
  'あの',
  'そこ',
  'そちら',
  'こちら',
  '同じ',
  'ほか',
  '他の',
];

type Language = 'en' | 'ja';

interface Passage {
  rank: number;
  source: string;
  title: string;
  heading: string;
  text: string;
}

/** A quotable piece of a passage: a sentence, a list item or table row, or a fenced code block. */
interface Unit {
  kind: 'sentence' | 'item' | 'code';
  text: string;
}

interface Candidate {
  passage: Passage;
  position: number;
  units: Unit[];
  /** Share of the question's weighted terms that the unit and its section's heading hold. */
  score: number;
  /** The same share for the unit's own words only: the tie-breaker between sentences of one section. */
  ownScore: number;
  /** The question's terms the unit and its heading hold. */
  covered: Set<string>;
}

function unescapeBlockText(value: string): string {
  return value
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

function languageOf(text: string): Language {
  return isMainlyJapanese(text) ? 'ja' : 'en';
}

function textOf(message: BaseMessage): string {
  return message.text;
}

/** Rough token count for usage reports: one per CJK character, one per four other characters. */
function estimateTokens(text: string): number {
  let cjk = 0;
  let other = 0;
  for (const c of text) {
    if (isCjkChar(c)) cjk += 1;
    else other += 1;
  }
  return cjk + Math.ceil(other / 4);
}

// ── condense mode ────────────────────────────────────────────────────────────────────────────────────────

function blockContent(text: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(text);
  return match?.[1];
}

function humanMessagesOf(conversation: string): string[] {
  const out: string[] = [];
  for (const match of conversation.matchAll(/<message role="human">([\s\S]*?)<\/message>/g)) {
    out.push(unescapeBlockText(match[1] ?? ''));
  }
  return out;
}

/**
 * Kanji words of how a Japanese question is asked rather than what it is about (how often, how long, whether it is
 * needed): a follow-up made of these alone names nothing, so it is about the thread's subject.
 */
const ASKING_KANJI = new Set(
  '頻度 必要 方法 手順 場合 期間 期限 時間 何日 何回 何時 何年 何人 何か 誰 可能 大丈夫 本当 理由 目安 具体 詳細 以外 他 次 前 後 最初 最後 毎回'.split(
    ' ',
  ),
);

/**
 * Japanese leaves out what it talks about when the thread already said it ("どのくらいの頻度で必要ですか？", "Lambda
 * の場合は？"): a follow-up that points back with a word, asks "what about X" (〜の場合は, 〜は？, 〜なら, 〜では), or
 * names no thing of its own, is about the thread's subject.
 */
function pointsBackJa(followUp: string): boolean {
  if (REFERENCES_JA.some((word) => followUp.includes(word))) return true;
  const trimmed = followUp.trim().replace(/[？?。！!\s]+$/u, '');
  if (/(?:の場合は|の場合|場合は|なら|だと|では|は)$/u.test(trimmed) && Array.from(trimmed).length <= 20)
    return true;
  // What stands alone names a thing (a Latin or katakana name: "VPN", "ロググループ") or says enough in kanji
  // ("経費精算の締め切り"); "保持期間はどう設定しますか？" says neither, and is about the thread's log group.
  const named = keyTerms(followUp).filter((t) => !ASKING_KANJI.has(t.surface));
  const names = named.some((t) => /^[\p{Script=Latin}\p{N}]|^[\p{Script=Katakana}ー]+$/u.test(t.surface));
  return !names && named.length < 3;
}

function pointsBack(followUp: string, language: Language): boolean {
  if (language === 'ja') return pointsBackJa(followUp);
  return followUp
    .toLowerCase()
    .split(/[^\p{L}\p{N}']+/u)
    .some((word) => REFERENCES_EN.has(word));
}

/**
 * A standalone form of the follow-up: unchanged when there is no earlier question, when the follow-up stands on
 * its own (it names two or more things and points back at nothing), or when it already holds the earlier terms;
 * otherwise followed by the earlier question's key terms it lacks.
 */
function condense(followUp: string, humanMessages: string[]): string {
  const question = followUp.trim();
  // Any kana makes it Japanese here, however many Latin letters its names have ("Lambdaの場合は？"): its grammar,
  // which says whether it points back, is Japanese.
  const language: Language = /[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(question)
    ? 'ja'
    : languageOf(question);
  const own = keyTerms(question);
  if (humanMessages.length === 0) return question;
  if (own.length >= 2 && !pointsBack(question, language)) return question;

  const present = new Set(terms(question));
  const carried: KeyTerm[] = [];
  const seen = new Set<string>();
  // Newest question first; an earlier one only when the newest was itself too short to say what it was about.
  for (const message of humanMessages.slice(-3).reverse()) {
    for (const term of keyTerms(message)) {
      const key = term.terms.join(' ');
      if (seen.has(key) || term.terms.every((t) => present.has(t))) continue;
      seen.add(key);
      carried.push(term);
    }
    if (carried.length >= 3) break;
  }
  if (carried.length === 0) return question;
  const about = carried
    .slice(0, MAX_CARRIED_TERMS)
    .map((t) => t.surface)
    .join(' ');
  return language === 'ja' ? `${question}（関連: ${about}）` : `${question} (about: ${about})`;
}

// ── answer mode ──────────────────────────────────────────────────────────────────────────────────────────

function parsePassages(block: string): Passage[] {
  const pattern =
    /<passage index="(\d+)" source="([^"]*)" title="([^"]*)" heading="([^"]*)">\n?([\s\S]*?)\n?<\/passage>/g;
  const out: Passage[] = [];
  for (const match of block.matchAll(pattern)) {
    out.push({
      rank: Number(match[1]),
      source: unescapeBlockText(match[2] ?? ''),
      title: unescapeBlockText(match[3] ?? ''),
      heading: unescapeBlockText(match[4] ?? ''),
      text: unescapeBlockText(match[5] ?? ''),
    });
  }
  return out;
}

const ABBREVIATIONS = /(?:^|\s)(?:e\.g|i\.e|etc|vs|cf|approx|fig|mr|mrs|ms|dr)\.$/i;

/** Splits a paragraph after 。！？ and after . ! ? followed by a space, sparing "e.g." and "v1.2". */
function splitSentences(paragraph: string): string[] {
  const out: string[] = [];
  let start = 0;
  const push = (end: number) => {
    const sentence = paragraph.slice(start, end).trim();
    if (sentence !== '') out.push(sentence);
    start = end;
  };
  for (let i = 0; i < paragraph.length; i += 1) {
    const c = paragraph[i] as string;
    if ('。！？'.includes(c)) {
      let end = i + 1;
      while (end < paragraph.length && '」』）)"'.includes(paragraph[end] as string)) end += 1;
      push(end);
      i = end - 1;
    } else if ('.!?'.includes(c)) {
      const next = paragraph[i + 1];
      if (next !== undefined && !/\s/.test(next)) continue;
      if (c === '.' && ABBREVIATIONS.test(paragraph.slice(start, i + 1))) continue;
      push(i + 1);
    }
  }
  push(paragraph.length);
  return out;
}

function joinLines(lines: string[]): string {
  return lines.reduce((joined, line) => {
    if (joined === '') return line;
    const touching = isCjkChar(joined.at(-1) ?? '') && isCjkChar(line[0] ?? '');
    return touching ? joined + line : `${joined} ${line}`;
  }, '');
}

/** Splits a passage into quotable units, in document order. Headings are skipped: the heading attribute names them. */
function unitsOf(text: string): Unit[] {
  const units: Unit[] = [];
  let paragraph: string[] = [];
  let fence: string[] | undefined;
  const flush = () => {
    for (const sentence of splitSentences(joinLines(paragraph)))
      units.push({ kind: 'sentence', text: sentence });
    paragraph = [];
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^(```|~~~)/.test(line)) {
      if (fence === undefined) {
        flush();
        fence = [line];
      } else {
        fence.push(line);
        units.push({ kind: 'code', text: fence.join('\n') });
        fence = undefined;
      }
    } else if (fence !== undefined) fence.push(raw);
    else if (line === '') flush();
    else if (line.startsWith('#')) flush();
    else if (/^(?:[-*+•]\s+|・|\d+[.)]\s+|\|)/.test(line)) {
      flush();
      units.push({ kind: 'item', text: line });
    } else paragraph.push(line.replace(/^>+\s*/, ''));
  }
  flush();
  if (fence !== undefined) units.push({ kind: 'code', text: fence.join('\n') });
  return units;
}

/**
 * The folder a document sits in, when it names what the document is about (`aws-sqs/README.md` → "aws-sqs"): the
 * package of a README whose title spells the product out ("Amazon Simple Queue Service") while questions say SQS.
 */
function packageOf(source: string): string {
  const parts = source.split(/[\\/]/);
  return parts.length >= 2 ? (parts.at(-2) ?? '') : '';
}

/**
 * Scores every unit by the question terms it holds, each weighted by its rarity across the passages (a term in
 * every passage tells little; one the passages lack entirely weighs most, so a question about something else
 * scores low). A unit that introduces a list or code block ("To rotate the key:") brings it along.
 */
function rankCandidates(question: string, passages: Passage[]): Candidate[] {
  const wanted = new Set(matchTerms(question).filter((term) => !ASKING_TERMS.has(term)));
  if (wanted.size === 0) return [];
  const unitsByPassage = passages.map((p) => unitsOf(p.text));
  const termsByPassage = passages.map(
    (p) => new Set(matchTerms(`${packageOf(p.source)}\n${p.heading}\n${p.text}`)),
  );
  // What a section is about, said once in its heading path ("VPN guide › Rotating your VPN key"), holds for each
  // of its sentences, which rarely repeat it ("Run rotate-key…").
  const contextByPassage = passages.map(
    (p) => new Set(matchTerms(`${packageOf(p.source)}\n${p.heading === '' ? p.title : p.heading}`)),
  );
  const weight = new Map<string, number>();
  let total = 0;
  for (const term of wanted) {
    const df = termsByPassage.filter((set) => set.has(term)).length;
    const w = Math.log(1 + (passages.length + 1) / (df + 0.5));
    weight.set(term, w);
    // A number the passages lack is the asker's own case ("a 450 EUR monitor"), which a document answers with its
    // rule ("over 300 EUR"): it helps a sentence that holds it, and is not held against one that does not.
    if (df > 0 || !/^\d+$/.test(term)) total += w;
  }
  if (total === 0) return [];
  const candidates: Candidate[] = [];
  passages.forEach((passage, p) => {
    const units = unitsByPassage[p] ?? [];
    units.forEach((unit, position) => {
      const quoted = [unit];
      if (unit.kind === 'sentence' && /[:：]$/.test(unit.text)) {
        for (const next of units.slice(position + 1)) {
          if (next.kind === 'sentence' || quoted.length > 8) break;
          quoted.push(next);
        }
      }
      const own = new Set(quoted.flatMap((u) => matchTerms(u.text)).filter((term) => wanted.has(term)));
      // A sentence is quoted for what it says itself; its section's heading only adds to how well it answers.
      if (own.size === 0) return;
      const covered = new Set([
        ...own,
        ...[...(contextByPassage[p] ?? [])].filter((term) => wanted.has(term)),
      ]);
      const sum = (set: Set<string>) => [...set].reduce((t, term) => t + (weight.get(term) ?? 0), 0);
      candidates.push({
        passage,
        position,
        units: quoted,
        score: sum(covered) / total,
        ownScore: sum(own) / total,
        covered,
      });
    });
  });
  // Equal coverage: the passage retrieval ranked higher, then the sentence that says more itself.
  return candidates.sort(
    (a, b) =>
      b.score - a.score ||
      a.passage.rank - b.passage.rank ||
      b.ownScore - a.ownScore ||
      a.position - b.position,
  );
}

function labelOf(passage: Passage): string {
  const { title, heading, source } = passage;
  // Heading paths usually start with the document's title (its # heading); say it once.
  const label =
    title && heading && heading !== title && !heading.startsWith(`${title} › `)
      ? `${title} › ${heading}`
      : heading || title || source || 'document';
  // An asterisk would end the emphasis the label sits in.
  return label.replace(/\*/g, '');
}

/**
 * The terms of the named things a question asks about: acronyms (AWS, MFA, S3), names capitalised inside a sentence
 * (Fargate, DynamoDB, CloudFront), words holding digits (gp3, t3) and version numbers (3.2). A passage that never
 * mentions one is about something else, however many other words it shares with the question ("How do I rotate my
 * AWS access key?" against a guide to rotating the VPN key). A plain amount ("a 450 EUR monitor") is not one: it is
 * the asker's own case, which a document answers with its rule ("over 300 EUR").
 */
function namedTerms(question: string): string[] {
  const text = question.normalize('NFKC');
  const out: string[] = [];
  // A word with its apostrophe ("toStringn't"), so that its term is the one `matchTerms` gives the passage's word.
  for (const match of text.matchAll(/[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)*/g)) {
    const word = match[0];
    const before = text.slice(0, match.index).trimEnd();
    const acronym = /^[A-Z][A-Z0-9]{1,5}$/.test(word) && /[A-Z].*[A-Z0-9]/.test(word);
    const mixed = /^[A-Za-z]+\d[A-Za-z\d]*$/.test(word) || /^[A-Za-z][a-z]+[A-Z]/.test(word);
    // Capitalised inside a sentence: not the question's first word, nor the first after a full stop or a quote.
    const startsSentence = before === '' || /[.!?:"“「。？！]$/.test(before);
    const capitalised = /^[A-Z][a-z]{2,}$/.test(word) && !startsSentence;
    if (acronym || mixed || capitalised) out.push(...matchTerms(word));
  }
  for (const match of text.matchAll(/\b\d+\.\d+(?:\.\d+)*\b/g)) out.push(match[0]);
  return out.filter((term) => !ASKING_TERMS.has(term));
}

/**
 * The answer to a question: quoted from the passages, framed in the question's language. A Japanese question the
 * passages do not answer in Japanese is tried again in the English of `englishOf` against the passages in other
 * languages, and answered, if they cover it, with their sentences as written under a Japanese framing.
 */
function answer(question: string, passages: Passage[]): string {
  const language = languageOf(question);
  const native = quote(question, passages, language);
  if (native !== undefined || language !== 'ja') return native ?? NOT_COVERED[language];
  const foreign = passages.filter((p) => !isMainlyJapanese(p.text));
  const english = englishOf(question);
  if (foreign.length === 0 || english === '') return NOT_COVERED.ja;
  // A Japanese word the glossary cannot put in English ("通勤手当") is something the English passages cannot be
  // shown to cover: the question is declined rather than answered on the words that were translated ("上限").
  const unknown = keyTerms(untranslatedOf(question)).filter(
    (t) => /\p{Script=Han}|\p{Script=Katakana}/u.test(t.surface) && !ASKING_KANJI.has(t.surface),
  );
  if (unknown.length > 0) return NOT_COVERED.ja;
  const crossed = quote(english, foreign, 'ja', MIN_COVERAGE_ACROSS_LANGUAGES);
  return crossed === undefined ? NOT_COVERED.ja : `${QUOTED_AS_WRITTEN_JA}\n\n${crossed}`;
}

/** The quotes that answer `question` from `passages`, under headers in `language`; undefined when none does. */
function quote(
  question: string,
  passages: Passage[],
  language: Language,
  minCoverage = MIN_COVERAGE,
): string | undefined {
  const ranked = rankCandidates(question, passages);
  const best = ranked[0];
  if (best === undefined || best.score < minCoverage) return undefined;
  // A sentence that meets one of three or more things the question asks about answers another question, whatever
  // that one term weighs: "weeks of *parental* leave" against "the first week", or "when you leave the company".
  const asked = new Set(
    matchTerms(question).filter((term) => !ASKING_TERMS.has(term) && !/^\d+$/.test(term)),
  );
  if (asked.size >= MIN_TERMS_FOR_TWO && best.covered.size < 2) return undefined;
  // The named things asked about must be in the passage quoted first, not merely somewhere among the passages: a
  // quote about the VPN key does not answer a question about the AWS key because another passage mentions AWS.
  const { source, title, heading, text } = best.passage;
  // The document's path names it too (`aws-sqs/README.md` is about SQS).
  const bestTerms = new Set(matchTerms(`${source}\n${title}\n${heading}\n${text}`));
  if (namedTerms(question).some((term) => !bestTerms.has(term))) return undefined;

  const chosen: Candidate[] = [];
  for (const candidate of ranked) {
    if (chosen.length === MAX_QUOTES || candidate.score < best.score * RUNNER_UP_RATIO) break;
    // Every sentence of the best section shares its heading; one joins it only for what it says itself.
    if (candidate.ownScore < best.ownScore * RUNNER_UP_RATIO) continue;
    const overlaps = chosen.some(
      (c) =>
        c.passage === candidate.passage &&
        candidate.position >= c.position &&
        candidate.position < c.position + c.units.length,
    );
    if (overlaps) continue;
    // More of the best sentence's section is welcome; another section is quoted (and listed as a source) only for
    // a part of the question that the quotes so far leave open, not for saying the same again elsewhere.
    const sameSection = candidate.passage === best.passage;
    const coveredSoFar = new Set(chosen.flatMap((c) => [...c.covered]));
    if (!sameSection && [...candidate.covered].every((term) => coveredSoFar.has(term))) continue;
    chosen.push(candidate);
  }

  // One block per passage, in the order of its best sentence; sentences within it in document order.
  const groups = new Map<Passage, Candidate[]>();
  for (const candidate of chosen)
    groups.set(candidate.passage, [...(groups.get(candidate.passage) ?? []), candidate]);
  const blocks = [...groups].map(([passage, group]) => {
    const label = labelOf(passage);
    // The passage's number cites it, as the answer prompt asks every model to (see chains/answer-sources.ts).
    const header =
      language === 'ja' ? `*${label}* [${passage.rank}] より:` : `From *${label}* [${passage.rank}]:`;
    const lines: string[] = [];
    let end: number | undefined;
    for (const candidate of group.sort((a, b) => a.position - b.position)) {
      // Sentences that do not follow each other in the document are set apart as paragraphs.
      if (end !== undefined && candidate.position !== end) lines.push('');
      lines.push(...candidate.units.flatMap((unit) => unit.text.split('\n')));
      end = candidate.position + candidate.units.length;
    }
    const quote = lines.map((line) => `> ${line}`.trimEnd()).join('\n');
    return `${header}\n${quote}`;
  });
  return blocks.join('\n\n');
}

// ── the model ────────────────────────────────────────────────────────────────────────────────────────────

/** The reply to a prompt, by the mode its blocks select. */
function reply(messages: BaseMessage[]): string {
  const texts = messages.map(textOf);
  const lastHuman = [...messages].reverse().find((m) => m.type === 'human');
  const asked = lastHuman === undefined ? '' : textOf(lastHuman);

  // Passages are read from the system prompt, where the answer chain puts them, before any other block: the
  // user's question arrives unescaped, so a tag typed in it must not switch the mode.
  const withPassages =
    messages.find((m) => m.type === 'system' && textOf(m).includes('<passages>')) ??
    (texts.some((t) => t.includes('<follow_up>'))
      ? undefined
      : messages.find((m) => textOf(m).includes('<passages>')));
  if (withPassages !== undefined) {
    const block = blockContent(textOf(withPassages), 'passages') ?? '';
    const question = asked.replace(/<passages>[\s\S]*?<\/passages>/, '').trim();
    return answer(question, parsePassages(block));
  }

  const followUpText = texts.find((t) => t.includes('<follow_up>'));
  if (followUpText !== undefined) {
    const followUp = unescapeBlockText(blockContent(followUpText, 'follow_up') ?? '');
    const conversationText = texts.find((t) => t.includes('<conversation>')) ?? '';
    return condense(followUp, humanMessagesOf(blockContent(conversationText, 'conversation') ?? ''));
  }
  return ONLY_DOCUMENTS[languageOf(asked)];
}

/** Splits an answer into streamed tokens: words with their trailing space, CJK text in short runs. */
function tokensOf(text: string): string[] {
  const out: string[] = [];
  for (const [piece] of text.matchAll(/\S+\s*|\s+/g)) {
    const chars = Array.from(piece);
    if (chars.length <= 6 || !chars.some(isCjkChar)) {
      out.push(piece);
      continue;
    }
    for (let i = 0; i < chars.length; i += 3) out.push(chars.slice(i, i + 3).join(''));
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The `local` provider's offline chat model: condenses follow-ups and answers by quoting the passages. */
export class LocalExtractiveChatModel extends BaseChatModel {
  readonly modelName: string;
  readonly tokenDelayMs: number;

  static override lc_name(): string {
    return 'LocalExtractiveChatModel';
  }

  constructor(fields: LocalExtractiveChatModelFields = {}) {
    super(fields);
    this.modelName = fields.modelName ?? 'local-extractive';
    this.tokenDelayMs = fields.tokenDelayMs ?? 0;
  }

  override _llmType(): string {
    return 'local-extractive';
  }

  override getLsParams(options: this['ParsedCallOptions']): LangSmithParams {
    return { ...super.getLsParams(options), ls_provider: 'local', ls_model_name: this.modelName };
  }

  private usage(messages: BaseMessage[], text: string): UsageMetadata {
    const input = messages.reduce((sum, m) => sum + estimateTokens(textOf(m)), 0);
    const output = estimateTokens(text);
    return { input_tokens: input, output_tokens: output, total_tokens: input + output };
  }

  override async _generate(messages: BaseMessage[], options: this['ParsedCallOptions']): Promise<ChatResult> {
    options.signal?.throwIfAborted();
    const text = reply(messages);
    const usage = this.usage(messages, text);
    const message = new AIMessage({
      content: text,
      usage_metadata: usage,
      response_metadata: { model_name: this.modelName, finish_reason: 'stop' },
    });
    return {
      generations: [{ text, message, generationInfo: { finish_reason: 'stop' } }],
      llmOutput: {
        tokenUsage: {
          promptTokens: usage.input_tokens,
          completionTokens: usage.output_tokens,
          totalTokens: usage.total_tokens,
        },
      },
    };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const text = reply(messages);
    const tokens = tokensOf(text);
    // Even an empty reply ends with one chunk, which carries the usage.
    if (tokens.length === 0) tokens.push('');
    for (const [i, token] of tokens.entries()) {
      options.signal?.throwIfAborted();
      if (i > 0 && this.tokenDelayMs > 0) await sleep(this.tokenDelayMs);
      const last = i === tokens.length - 1;
      // Usage and finish reason ride on the final chunk only: chunks are summed when concatenated.
      const chunk = new ChatGenerationChunk({
        text: token,
        message: new AIMessageChunk(
          last
            ? {
                content: token,
                usage_metadata: this.usage(messages, text),
                response_metadata: { model_name: this.modelName, finish_reason: 'stop' },
              }
            : { content: token },
        ),
        ...(last ? { generationInfo: { finish_reason: 'stop' } } : {}),
      });
      yield chunk;
      await runManager?.handleLLMNewToken(token, undefined, undefined, undefined, undefined, { chunk });
    }
  }
}
