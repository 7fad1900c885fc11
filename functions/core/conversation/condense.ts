import { InMemoryChatMessageHistory } from '@langchain/core/chat_history';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { condenseQuestion } from '../chains/condense-chain';
import type { HistoryResult, StandaloneQuestion, StoredMessage } from '../types';

/** The loaded history as a LangChain chat message history, which is what the condense chain reads. */
export function chatHistoryOf(messages: StoredMessage[]): InMemoryChatMessageHistory {
  return new InMemoryChatMessageHistory(
    messages.map((m) => (m.role === 'human' ? new HumanMessage(m.content) : new AIMessage(m.content))),
  );
}

/** Condense question: the follow-up rewritten as a standalone question, in the light of the thread. */
export async function condense(
  model: BaseChatModel,
  history: HistoryResult,
  question: string,
  signal?: AbortSignal,
): Promise<StandaloneQuestion> {
  return condenseQuestion(model, chatHistoryOf(history.messages), question, signal);
}
