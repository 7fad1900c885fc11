import type { BaseChatMessageHistory } from '@langchain/core/chat_history';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { untilAborted } from '../step-deadline';
import type { StandaloneQuestion, StoredMessage } from '../types';
import { CONDENSE_SYSTEM_PROMPT, formatConversation, formatFollowUp, toStoredMessages } from './prompts';
import { UsageCollector } from './usage-collector';

const condensePrompt = ChatPromptTemplate.fromMessages([
  ['system', CONDENSE_SYSTEM_PROMPT],
  ['human', '{conversation}\n\n{followUp}'],
]);

/** Builds the messages the model sees to condense a follow-up, for tests and for debugging a surprising question. */
export function renderCondensePrompt(history: StoredMessage[], followUp: string) {
  return condensePrompt.formatMessages({
    conversation: formatConversation(history),
    followUp: formatFollowUp(followUp),
  });
}

/**
 * Rewrites a follow-up as a standalone question: prompt → chat model → string parser. The thread's history
 * comes in as a LangChain chat message history; without any, the question is returned as asked.
 */
export async function condenseQuestion(
  model: BaseChatModel,
  chatHistory: BaseChatMessageHistory,
  followUp: string,
  /** Ends the model call: the step's deadline. */
  signal?: AbortSignal,
): Promise<StandaloneQuestion> {
  const history = toStoredMessages(await chatHistory.getMessages());
  if (history.length === 0) return { question: followUp, condensed: false };
  const chain = condensePrompt.pipe(model).pipe(new StringOutputParser());
  const usage = new UsageCollector();
  const output = await untilAborted(
    chain.invoke(
      { conversation: formatConversation(history), followUp: formatFollowUp(followUp) },
      { callbacks: [usage], runName: 'Condense question', ...(signal ? { signal } : {}) },
    ),
    signal,
    'the condensing model call',
  );
  const question = output.trim();
  // A model that returns nothing usable must not lose the user's question.
  return { question: question === '' ? followUp : question, condensed: true, usage: usage.usage };
}
