import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { untilAborted } from '../step-deadline';
import type { Passage, TokenUsage } from '../types';
import { ANSWER_SYSTEM_PROMPT, formatOperatorInstructions, formatPassages } from './prompts';
import { UsageCollector } from './usage-collector';

const answerPrompt = ChatPromptTemplate.fromMessages([
  ['system', ANSWER_SYSTEM_PROMPT],
  ['human', '{question}'],
]);

/** Optional settings of the answer chain, for `npm run eval` variants. */
export interface AnswerOptions {
  /**
   * Replaces the system prompt (a prompt variant). It must hold `{passages}`, where the passages go, and should
   * keep the rules of `ANSWER_SYSTEM_PROMPT` that the product relies on (citations, declines, data not instructions).
   * @default ANSWER_SYSTEM_PROMPT
   */
  systemPrompt?: string;
  /** The channel's operator instructions (`CHANNEL_PROFILES`), in their own block before the passages. */
  instructions?: string;
  /** Ends the model call (mid-stream too): the step's deadline. The stream then rejects with the signal's reason. */
  signal?: AbortSignal;
}

function promptWith(systemPrompt: string) {
  if (!systemPrompt.includes('{passages}')) {
    throw new Error('an answer system prompt must hold {passages}, where the passages go');
  }
  return ChatPromptTemplate.fromMessages([
    ['system', systemPrompt],
    ['human', '{question}'],
  ]);
}

/** Builds the messages the model sees, for tests and for debugging a surprising answer. */
export function renderAnswerPrompt(question: string, passages: Passage[], instructions?: string) {
  return answerPrompt.formatMessages({ passages: passagesWith(instructions, passages), question });
}

function passagesWith(instructions: string | undefined, passages: Passage[]): string {
  return formatOperatorInstructions(instructions) + formatPassages(passages);
}

/**
 * Streams a grounded answer: prompt → chat model → string parser. `onDelta` receives each piece of text as
 * it arrives; the full answer and the token usage are returned at the end, and whether a Bedrock Guardrail blocked
 * the answer (the text is then the guardrail's blocked message).
 */
export async function streamAnswer(
  model: BaseChatModel,
  question: string,
  passages: Passage[],
  onDelta: (delta: string) => Promise<void> | void,
  options: AnswerOptions = {},
): Promise<{ text: string; usage: TokenUsage; guardrailIntervened?: true }> {
  const prompt = options.systemPrompt === undefined ? answerPrompt : promptWith(options.systemPrompt);
  const chain = prompt.pipe(model).pipe(new StringOutputParser());
  const usage = new UsageCollector();
  const stream = await chain.stream(
    { passages: passagesWith(options.instructions, passages), question },
    { callbacks: [usage], runName: 'Generate answer', ...(options.signal ? { signal: options.signal } : {}) },
  );
  let text = '';
  const iterator = stream[Symbol.asyncIterator]();
  for (;;) {
    // Raced with the signal as well: a stream stalled mid-way must end at the deadline whatever the client does.
    const next = await untilAborted(iterator.next(), options.signal, 'the answer stream');
    if (next.done) break;
    const delta = next.value;
    if (delta === '') continue;
    text += delta;
    await onDelta(delta);
  }
  return {
    text,
    usage: usage.usage,
    ...(usage.stopReason === 'guardrail_intervened' ? { guardrailIntervened: true as const } : {}),
  };
}
