import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { AIMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import type { TokenUsage } from '../types';

/**
 * Adds up the token usage that chat models report when a call ends, for the turn's record and the cost figures, and
 * keeps why the last call stopped when the model says it (Bedrock's `stopReason`: `guardrail_intervened` when a
 * guardrail blocked the answer).
 */
export class UsageCollector extends BaseCallbackHandler {
  name = 'usage-collector';
  readonly usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  stopReason: string | undefined;

  override handleLLMEnd(output: LLMResult): void {
    for (const generations of output.generations) {
      for (const generation of generations) {
        const message = (generation as { message?: AIMessage }).message;
        const usage = message?.usage_metadata;
        // ConverseStream's messageStop event, or Converse's response (ChatBedrockConverse keeps both as they came).
        const meta = message?.response_metadata as
          | { stopReason?: unknown; messageStop?: { stopReason?: unknown } }
          | undefined;
        const stopReason = meta?.messageStop?.stopReason ?? meta?.stopReason;
        if (typeof stopReason === 'string') this.stopReason = stopReason;
        if (usage) {
          this.usage.inputTokens += usage.input_tokens;
          this.usage.outputTokens += usage.output_tokens;
        }
      }
    }
  }
}
