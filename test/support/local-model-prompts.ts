import type { BaseMessage } from '@langchain/core/messages';
import { renderAnswerPrompt } from '../../functions/core/chains/answer-chain';
import { renderCondensePrompt } from '../../functions/core/chains/condense-chain';
import type { Passage, StoredMessage } from '../../functions/core/types';

/** The messages the answer chain sends for a question and its passages: the product's own prompt. */
export function answerMessages(question: string, passages: Passage[]): Promise<BaseMessage[]> {
  return renderAnswerPrompt(question, passages);
}

/**
 * The messages the condense chain sends for a follow-up after the given earlier questions, each answered with the
 * same placeholder reply: the product's own prompt.
 */
export function condenseMessages(questions: readonly string[], followUp: string): Promise<BaseMessage[]> {
  const history: StoredMessage[] = questions.flatMap((q) => [
    { role: 'human' as const, content: q },
    { role: 'ai' as const, content: 'Here is what the documents say.' },
  ]);
  return renderCondensePrompt(history, followUp);
}
