import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbHistoryStore } from '../../functions/core/stores/dynamodb-history-store';
import type { TurnRecord } from '../../functions/core/stores/history-store';
import { threadKey } from '../../functions/core/stores/keys';
import type { Turn } from '../../functions/core/types';
import { askThroughSlack } from '../../scripts/local/ask-client';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { nextTs } from '../../stand-ins/slack/slack-request';
import { type LocalStack, openAIEnv, startTestStack, visibleText } from '../support/local-stack';

/**
 * Forget is final: once "forget this thread" is confirmed, nothing from before it remains, and nothing from before
 * it is written later, even by an answer that was still streaming when the person asked.
 */

describe('forget races an answer in flight', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;
  let openai: FakeOpenAI;

  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-forget-race' });
    ({ stack, close } = await startTestStack({
      env: {
        ...openAIEnv(openai, 'sk-forget-race'),
      },
    }));
  });
  afterAll(async () => {
    await close();
    await openai.close();
  });

  /** Every item of the thread's partition that holds a turn (tombstones and the forget marker hold none). */
  async function storedTurns(thread: Pick<Turn, 'teamId' | 'channel' | 'threadTs'>) {
    const page = await stack.runtime.documentClient().send(
      new QueryCommand({
        TableName: stack.env.CONVERSATION_TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': threadKey(thread) },
        ConsistentRead: true,
      }),
    );
    return (page.Items ?? []).filter((item) => item.record !== undefined);
  }

  it('an answer still streaming when the thread is forgotten is never persisted', async () => {
    const first = await askThroughSlack(stack, 'How do I rotate my VPN key?');
    const thread = first.execution?.input as { turn: Turn };
    expect(await storedTurns(thread.turn)).toHaveLength(1);
    // The next answer takes a while to start streaming: the forget is asked, run and confirmed meanwhile.
    openai.delayNext({ ms: 2_000, path: '/v1/chat/completions' });
    const inFlight = await stack.mention({
      text: 'How often do I have to do that?',
      threadTs: first.sent.threadTs,
    });
    expect(inFlight.status).toBe(200);

    const forget = await stack.mention({ text: 'forget this thread', threadTs: first.sent.threadTs });
    const confirmed = await stack.slack.waitFor(() =>
      stack.slack
        .threadReplies(forget.channel, forget.threadTs)
        .find((m) => m.bot_id !== undefined && visibleText(m as never).startsWith('Done:')),
    );
    expect(visibleText(confirmed as never)).toContain("I deleted this thread's history");
    await stack.stepFunctions.waitForIdle();

    // The in-flight question was answered (the person sees it), but nothing of it was written after the forget.
    const inFlightExecution = stack.stepFunctions.executions.find(
      (e) => (e.input as { turn: Turn }).turn.eventId === inFlight.eventId,
    );
    expect(inFlightExecution?.status).toBe('SUCCEEDED');
    expect(inFlightExecution?.output).toMatchObject({ persisted: { written: false } });
    expect(await storedTurns(thread.turn)).toHaveLength(0);
    // A follow-up after the forget starts afresh.
    const after = await askThroughSlack(stack, 'How do I rotate my VPN key?', {
      threadTs: first.sent.threadTs,
    });
    expect(after.execution?.trace.map((t) => t.state)).not.toContain('Condense question');
  });

  /** A history store whose DynamoDB calls of one kind wait for `gate` to open: the race, paused at one point. */
  function storeWithPausedCall(operation: 'UpdateCommand' | 'PutCommand') {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let reached: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const real = stack.runtime.documentClient();
    let once = true;
    const client = {
      async send(command: { constructor: { name: string } }) {
        if (once && command.constructor.name === operation) {
          once = false;
          reached();
          await gate;
        }
        return real.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoDbHistoryStore(client, {
      tableName: stack.env.CONVERSATION_TABLE as string,
      ttlDays: 30,
    });
    return { store, paused, open };
  }

  function turnsOfNewThread() {
    const threadTs = nextTs();
    const base = { teamId: 'T0LOCAL001', channel: 'C0GENERAL01', threadTs, user: 'U0HUMAN001' };
    const question: Turn = {
      ...base,
      intent: 'question',
      eventId: `Ev${threadTs}`,
      messageTs: nextTs(),
      question: 'q',
      placeholderTs: nextTs(),
    };
    const forget: Turn = { ...question, intent: 'forget', eventId: `Ev${threadTs}f`, messageTs: nextTs() };
    const record: TurnRecord = {
      eventId: question.eventId,
      messageTs: question.messageTs,
      user: question.user,
      question: 'q',
      standaloneQuestion: 'q',
      answer: 'a',
      sources: [],
      model: 'm',
      usage: { inputTokens: 0, outputTokens: 0 },
      answerTs: [question.placeholderTs],
      createdAt: new Date().toISOString(),
    };
    return { question, forget, record };
  }

  it.each([
    ['registered, then paused before its write', 'PutCommand'],
    ['paused before it registers', 'UpdateCommand'],
  ] as const)('a Persist %s while the forget runs writes nothing', async (_label, operation) => {
    const { question, forget, record } = turnsOfNewThread();
    const { store, paused, open } = storeWithPausedCall(operation);

    const persisting = store.appendTurn(question, record, Date.now());
    await paused;
    const deleted = await stack.runtime.historyStore().deleteThread(forget);
    open();

    expect(deleted).toBe(0);
    expect(await persisting).toBe(false);
    expect(await storedTurns(question)).toHaveLength(0);
    expect(await stack.runtime.historyStore().getTurn(question)).toBeUndefined();
  });

  it('a turn persisted before the forget is deleted by it; a turn asked after the forget is kept', async () => {
    const { question, forget, record } = turnsOfNewThread();
    const later: Turn = { ...question, eventId: `${question.eventId}later`, messageTs: nextTs() };
    const history = stack.runtime.historyStore();

    expect(await history.appendTurn(question, record, Date.now())).toBe(true);
    expect(await history.deleteThread(forget)).toBe(1);
    expect(await history.appendTurn(question, record, Date.now())).toBe(false);
    expect(await history.appendTurn(later, { ...record, messageTs: later.messageTs }, Date.now())).toBe(true);

    expect((await storedTurns(question)).map((item) => item.record.messageTs)).toEqual([later.messageTs]);
  });
});
