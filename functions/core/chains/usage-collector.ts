import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { AIMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import type { TokenUsage } from '../types';

/** Adds up the token usage that chat models report when a call ends, for the turn's record and the cost figures. */
export class UsageCollector extends BaseCallbackHandler {
  name = 'usage-collector';
  readonly usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };

  override handleLLMEnd(output: LLMResult): void {
    for (const generations of output.generations) {
      for (const generation of generations) {
        const message = (generation as { message?: AIMessage }).message;
        const usage = message?.usage_metadata;
        if (usage) {
          this.usage.inputTokens += usage.input_tokens;
          this.usage.outputTokens += usage.output_tokens;
        }
      }
    }
  }
}
