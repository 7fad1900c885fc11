import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
// js-tiktoken comes with @langchain/core and @langchain/openai (their own token counting); its full entry point
// carries the ranks, so counting needs no download.
import { getEncoding } from 'js-tiktoken';

/**
 * Token counts as OpenAI bills them: o200k_base for the gpt-4.1 family (the default chat model), cl100k_base for
 * text-embedding-3-small. A chat prompt costs its messages' tokens plus a few per message for the chat format.
 */
const chatEncoding = getEncoding('o200k_base');
const embeddingEncoding = getEncoding('cl100k_base');

/** Tokens the chat format adds per message, and once to prime the reply (OpenAI's own counting recipe). */
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

export const chatTokens = (text: string) => chatEncoding.encode(text).length;
export const embeddingTokens = (text: string) => embeddingEncoding.encode(text).length;

export function promptTokens(messages: readonly BaseMessage[]): number {
  return messages.reduce((total, m) => total + TOKENS_PER_MESSAGE + chatTokens(m.text), REPLY_PRIMING_TOKENS);
}

/** Reports the tokens of every prompt a chat model is sent, whichever chain sends it. */
export class PromptTokenRecorder extends BaseCallbackHandler {
  name = 'bench-prompt-token-recorder';

  constructor(private readonly onPrompt: (tokens: number) => void) {
    super();
  }

  override handleChatModelStart(_llm: Serialized, messages: BaseMessage[][]): void {
    for (const prompt of messages) this.onPrompt(promptTokens(prompt));
  }
}
