import { isMainlyJapanese } from '../../functions/core/llm/terms';

/**
 * The language an answer speaks to its asker in: that of its framing, the words the bot writes itself, not of what it
 * quotes. Quoted lines (`> …`), code blocks, inline code, the emphasised section labels (`*VPN guide › Rotating*`)
 * and citations (`[2]`) are left out, so a Japanese answer quoting an English README under a Japanese lead counts as
 * Japanese, and an English answer quoting a Japanese title stays English. An answer that is all quotation is judged
 * on the whole.
 */
export function answerLanguageOf(answer: string): 'ja' | 'en' {
  const framing = answer
    .replace(/^(```|~~~)[\s\S]*?^\1\s*$/gm, ' ')
    .split('\n')
    .filter((line) => !/^\s*>/.test(line))
    .join('\n')
    .replace(/`[^`\n]*`/g, ' ')
    .replace(/\*[^*\n]+\*/g, ' ')
    .replace(/_[^_\n]+_/g, ' ')
    .replace(/\[\d+\]/g, ' ');
  const judged = /[\p{L}]/u.test(framing) ? framing : answer;
  return isMainlyJapanese(judged) ? 'ja' : 'en';
}
