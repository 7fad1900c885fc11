import type { AnswerResult, RetrievalResult, StandaloneQuestion } from '../../functions/core/types';
import type { FakeMessage } from './fake-slack';
import type { LocalStack, SentMention } from './stack';
import type { ExecutionRecord } from './step-functions-local';

export interface AskResult {
  sent: SentMention;
  /** The execution the mention started; none when the ack replied by itself (a usage hint, say). */
  execution?: ExecutionRecord;
  answer?: AnswerResult;
  standalone?: StandaloneQuestion;
  retrieval?: RetrievalResult;
  /** The bot's messages in the thread after the mention, as they stand now. */
  replies: FakeMessage[];
}

/**
 * Mentions the bot through the local stack, as a person in Slack would, and waits for the execution to end.
 * The ack has started the execution before it answers 200, so the execution is there to be found at once.
 */
export async function askThroughSlack(
  stack: LocalStack,
  text: string,
  options: { threadTs?: string; channel?: string; user?: string } = {},
): Promise<AskResult> {
  const sent = await stack.mention({ text, ...options });
  if (sent.status !== 200) throw new Error(`the ack answered HTTP ${sent.status}: ${sent.body}`);
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
  );
  await execution?.done;
  const output = (execution?.output ?? {}) as {
    answer?: AnswerResult;
    standalone?: StandaloneQuestion;
    retrieval?: RetrievalResult;
  };
  const replies = stack.slack
    .threadReplies(sent.channel, sent.threadTs)
    .filter((m) => m.bot_id !== undefined && m.ts > sent.ts);
  return {
    sent,
    execution,
    answer: output.answer,
    standalone: output.standalone,
    retrieval: output.retrieval,
    replies,
  };
}
