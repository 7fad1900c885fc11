import type { AnswerResult, RetrievalResult, StandaloneQuestion } from '../../functions/core/types';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import type { FakeMessage } from '../../stand-ins/slack/fake-slack';

/**
 * The ack's answer to a signed `app_mention` delivery, and where the mention was posted. The local stack
 * (stack.ts) returns it from `mention`; it is declared here, not there, so that this module does not import the
 * stack that imports it.
 */
export interface SentMention {
  status: number;
  body: string;
  eventId: string;
  ts: string;
  threadTs: string;
  channel: string;
}

/** What asking needs of a local stack (stack.ts, LocalStack, has all of it): mention, find the execution, read the thread. */
export interface AskableStack {
  mention(options: {
    text: string;
    threadTs?: string;
    channel?: string;
    user?: string;
  }): Promise<SentMention>;
  stepFunctions: { executions: ExecutionRecord[] };
  slack: { threadReplies(channel: string, threadTs: string): FakeMessage[] };
  caughtError(executionName: string): { error: string; cause: string } | undefined;
}

export interface AskResult {
  sent: SentMention;
  /** The execution the mention started; none when the ack replied by itself (a usage hint, say). */
  execution?: ExecutionRecord;
  answer?: AnswerResult;
  standalone?: StandaloneQuestion;
  retrieval?: RetrievalResult;
  /** The bot's messages in the thread after the mention, as they stand now. */
  replies: FakeMessage[];
  /** Why the execution failed: the error a step was caught with, else the execution's own. */
  failure?: { error: string; cause: string };
}

/**
 * Mentions the bot through the local stack, as a person in Slack would, and waits for the execution to end.
 * The ack has started the execution before it answers 200, so the execution is there to be found at once.
 */
export async function askThroughSlack(
  stack: AskableStack,
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
  const caught = execution === undefined ? undefined : stack.caughtError(execution.name);
  const failure =
    execution === undefined || execution.status === 'SUCCEEDED'
      ? undefined
      : (caught ?? { error: execution.error ?? execution.status, cause: execution.cause ?? '' });
  return {
    sent,
    execution,
    ...(failure !== undefined ? { failure } : {}),
    answer: output.answer,
    standalone: output.standalone,
    retrieval: output.retrieval,
    replies,
  };
}

/** An ask's outcome as plain data: what `npm run ask` prints, whether it ran the stack itself or asked `npm run dev`. */
export interface AskOutcome {
  sent: SentMention;
  execution?: Pick<ExecutionRecord, 'name' | 'status' | 'trace' | 'error' | 'cause'>;
  answer?: AnswerResult;
  standalone?: StandaloneQuestion;
  retrieval?: RetrievalResult;
  replies: FakeMessage[];
  failure?: { error: string; cause: string };
}

/** One line: why an execution failed, its cause unwrapped from a Lambda-style JSON error when it is one. */
export function describeFailure(failure: { error: string; cause: string }): string {
  let cause = failure.cause;
  try {
    const parsed = JSON.parse(cause) as { errorType?: string; errorMessage?: string };
    if (typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    // Not JSON: the cause as it is.
  }
  const oneLine = cause.replace(/\s+/g, ' ').trim();
  return oneLine === '' ? failure.error : `${failure.error}: ${oneLine}`;
}

export function askOutcome(result: AskResult): AskOutcome {
  const { execution, ...rest } = result;
  if (execution === undefined) return rest;
  const { name, status, trace, error, cause } = execution;
  return { ...rest, execution: { name, status, trace, error, cause } };
}

/**
 * Asks a local stack running in another process (`npm run dev`) through its ask route (stack.ts, LOCAL_ASK_PATH):
 * that stack posts the mention in its fake Slack and delivers it, signed, to its own Request URL.
 */
export async function askThroughRunningStack(
  running: { askUrl: string; signingSecret: string },
  text: string,
  options: { threadTs?: string; channel?: string; user?: string } = {},
): Promise<AskOutcome> {
  let response: Response;
  try {
    response = await fetch(running.askUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${running.signingSecret}` },
      body: JSON.stringify({ text, ...options }),
    });
  } catch (error) {
    throw new Error(`could not reach the running npm run dev at ${running.askUrl}`, { cause: error });
  }
  const body = await response.text();
  if (!response.ok) throw new Error(`the running npm run dev answered HTTP ${response.status}: ${body}`);
  return JSON.parse(body) as AskOutcome;
}
