import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import type { Passage, TokenUsage } from '../types';
import { ANSWER_SYSTEM_PROMPT, formatPassages } from './prompts';
import { UsageCollector } from './usage-collector';

const answerPrompt = ChatPromptTemplate.fromMessages([
  ['system', ANSWER_SYSTEM_PROMPT],
  ['human', '{question}'],
]);

/** Builds the messages the model sees, for tests and for debugging a surprising answer. */
export function renderAnswerPrompt(question: string, passages: Passage[]) {
  return answerPrompt.formatMessages({ passages: formatPassages(passages), question });
}

/**
 * Streams a grounded answer: prompt → chat model → string parser. `onDelta` receives each piece of text as
 * it arrives; the full answer and the token usage are returned at the end.
 */
export async function streamAnswer(
  model: BaseChatModel,
  question: string,
  passages: Passage[],
  onDelta: (delta: string) => Promise<void> | void,
): Promise<{ text: string; usage: TokenUsage }> {
  const chain = answerPrompt.pipe(model).pipe(new StringOutputParser());
  const usage = new UsageCollector();
  const stream = await chain.stream(
    { passages: formatPassages(passages), question },
    { callbacks: [usage], runName: 'Generate answer' },
  );
  let text = '';
  for await (const delta of stream) {
    if (delta === '') continue;
    text += delta;
    await onDelta(delta);
  }
  return { text, usage: usage.usage };
}
