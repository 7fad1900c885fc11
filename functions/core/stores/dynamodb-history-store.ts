import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Turn } from '../types';
import { fitBudget, type HistoryBudget, type HistoryStore, type TurnRecord } from './history-store';
import { epochSeconds, threadKey, turnSortKey } from './keys';

export interface DynamoDbHistoryStoreOptions {
  tableName: string;
  /** How long a turn is kept before DynamoDB's TTL removes it. */
  ttlDays: number;
}

/** Thread history in DynamoDB: one item per turn, ordered by the mention's ts. */
export class DynamoDbHistoryStore implements HistoryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoDbHistoryStoreOptions,
  ) {}

  async loadTurns(turn: Turn, budget: HistoryBudget, now: number): Promise<TurnRecord[]> {
    if (budget.maxTurns === 0 || budget.maxChars === 0) return [];
    const newestFirst: TurnRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    // TTL deletion is lazy (it can lag by days) and dynalite never sweeps, so expired items are filtered here.
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk AND sk < :before',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: {
            ':pk': threadKey(turn),
            ':before': turnSortKey(turn.messageTs),
            ':now': epochSeconds(now),
          },
          ScanIndexForward: false,
          Limit: budget.maxTurns,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) newestFirst.push(item.record as TurnRecord);
      startKey = page.LastEvaluatedKey;
    } while (startKey && newestFirst.length < budget.maxTurns);
    return fitBudget(newestFirst, budget);
  }

  async getTurn(turn: Turn): Promise<TurnRecord | undefined> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: threadKey(turn), sk: turnSortKey(turn.messageTs) },
        ConsistentRead: true,
      }),
    );
    return result.Item?.record as TurnRecord | undefined;
  }

  async appendTurn(turn: Turn, record: TurnRecord, now: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            pk: threadKey(turn),
            sk: turnSortKey(turn.messageTs),
            eventId: record.eventId,
            record,
            expiresAt: epochSeconds(now) + this.options.ttlDays * 86_400,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async deleteThread(turn: Turn): Promise<number> {
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': threadKey(turn) },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: startKey,
        }),
      );
      const keys = page.Items ?? [];
      for (let i = 0; i < keys.length; i += 25) {
        const batch = keys
          .slice(i, i + 25)
          .map((key) => ({ DeleteRequest: { Key: { pk: key.pk, sk: key.sk } } }));
        let pending: typeof batch | undefined = batch;
        // BatchWrite may leave items unprocessed under throttling; retry those until none remain.
        while (pending && pending.length > 0) {
          const result = await this.client.send(
            new BatchWriteCommand({ RequestItems: { [this.options.tableName]: pending } }),
          );
          pending = result.UnprocessedItems?.[this.options.tableName] as typeof batch | undefined;
        }
        deleted += batch.length;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return deleted;
  }
}
