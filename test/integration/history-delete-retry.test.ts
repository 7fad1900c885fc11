import type { IncomingMessage, ServerResponse } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../../functions/core/errors';
import { DynamoDbHistoryStore } from '../../functions/core/stores/dynamodb-history-store';
import type { TurnRecord } from '../../functions/core/stores/history-store';
import type { Turn } from '../../functions/core/types';
import { ensureConversationTable, type LocalDynamo, startDynalite } from '../../stand-ins/aws/dynamodb-local';
import { type LoopbackProxy, startLoopbackProxy } from '../../stand-ins/aws/fault-proxy';

/**
 * "forget this thread" deletes with BatchWriteItem, which DynamoDB answers under throttling by leaving items
 * unprocessed. A proxy in front of dynalite plays that throttled table: it answers chosen BatchWriteItem calls
 * with every request unprocessed, as DynamoDB does, without writing anything.
 */

const TABLE = 'history-delete-retry';
let dynamo: LocalDynamo;
let proxy: LoopbackProxy;
let throttledCalls = 0;
const batchWriteTimes: number[] = [];

function throttleBatchWrite(req: IncomingMessage, res: ServerResponse): boolean {
  if (!String(req.headers['x-amz-target'] ?? '').endsWith('.BatchWriteItem')) return false;
  batchWriteTimes.push(Date.now());
  if (throttledCalls <= 0) return false;
  throttledCalls -= 1;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const { RequestItems } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { RequestItems: unknown };
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ UnprocessedItems: RequestItems }));
  });
  return true;
}

function documentClient(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    }),
  );
}

beforeAll(async () => {
  dynamo = await startDynalite();
  await ensureConversationTable(dynamo.endpoint, TABLE);
  proxy = await startLoopbackProxy(dynamo.endpoint, throttleBatchWrite);
});

afterAll(async () => {
  await proxy.close();
  await dynamo.close();
});

let threadCount = 0;

/** A thread with `turns` stored turns; returns the forget request that follows them. */
async function threadWithTurns(store: DynamoDbHistoryStore, turns: number): Promise<Turn> {
  threadCount += 1;
  const base: Turn = {
    intent: 'question',
    eventId: `Ev${threadCount}`,
    teamId: 'T0LOCAL001',
    channel: 'C0GENERAL01',
    threadTs: `1700000${threadCount}.000100`,
    messageTs: '',
    user: 'U0HUMAN001',
    question: 'q',
    placeholderTs: '1700000000.000900',
  };
  for (let i = 0; i < turns; i++) {
    const messageTs = `1700000${threadCount}.0002${String(i).padStart(2, '0')}`;
    const record: TurnRecord = {
      eventId: `Ev${threadCount}-${i}`,
      messageTs,
      user: 'U0HUMAN001',
      question: `question ${i}`,
      standaloneQuestion: `question ${i}`,
      answer: `answer ${i}`,
      sources: [],
      model: 'local-extractive',
      usage: { inputTokens: 0, outputTokens: 0 },
      answerTs: [],
      createdAt: new Date().toISOString(),
    };
    await store.appendTurn({ ...base, messageTs }, record, Date.now());
  }
  return {
    ...base,
    intent: 'forget',
    eventId: `Ev${threadCount}-forget`,
    messageTs: `1700000${threadCount}.000900`,
  };
}

describe('deleting a thread while DynamoDB leaves deletions unprocessed', () => {
  it('retries the unprocessed deletions with growing pauses, and deletes every turn', async () => {
    // Arrange
    const client = documentClient(proxy.endpoint);
    const store = new DynamoDbHistoryStore(client, {
      tableName: TABLE,
      ttlDays: 30,
      batchWriteRetry: { baseDelayMs: 40, maxAttempts: 5 },
    });
    const forget = await threadWithTurns(store, 3);
    throttledCalls = 2;
    batchWriteTimes.length = 0;

    // Act
    const deleted = await store.deleteThread(forget);

    // Assert
    expect(deleted).toBe(3);
    expect(await store.loadTurns(forget, { maxTurns: 10, maxChars: 100_000 }, Date.now())).toEqual([]);
    expect(batchWriteTimes).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = batchWriteTimes;
    // Equal jitter: at least half of 40 ms, then at least half of 80 ms.
    expect(second - first).toBeGreaterThanOrEqual(20);
    expect(third - second).toBeGreaterThanOrEqual(40);
    client.destroy();
  });

  it('gives up after its bound with a TransientError (the step is retried later), not a hot loop', async () => {
    // Arrange
    const client = documentClient(proxy.endpoint);
    const store = new DynamoDbHistoryStore(client, {
      tableName: TABLE,
      ttlDays: 30,
      batchWriteRetry: { baseDelayMs: 10, maxAttempts: 4 },
    });
    const forget = await threadWithTurns(store, 2);
    throttledCalls = 1_000;
    batchWriteTimes.length = 0;

    // Act
    const deleting = store.deleteThread(forget);

    // Assert
    await expect(deleting).rejects.toThrow(TransientError);
    await expect(deleting).rejects.toThrow(/2 of 2 writes unprocessed after 4 attempts/);
    expect(batchWriteTimes).toHaveLength(4);
    throttledCalls = 0;
    client.destroy();
  });
});
