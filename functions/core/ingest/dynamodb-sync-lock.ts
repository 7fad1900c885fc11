import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { epochSeconds, syncKey } from '../stores/keys';
import { type LockClaim, LockLostError, type SyncLock } from './sync-lock';

export interface DynamoDbSyncLockOptions {
  tableName: string;
  /** The vector store the lock guards (see `vectorStoreId`). */
  storeId: string;
}

const SORT_KEY = 'LOCK';

/**
 * The sync lock as one item under the store's `SYNC#` partition, taken with a conditional put. Its `expiresAt`
 * is the table's TTL attribute, so DynamoDB also removes a lock abandoned by a dead sync; since TTL deletion
 * lags (and dynalite never sweeps), an expired lock is treated as free by the condition itself.
 */
export class DynamoDbSyncLock implements SyncLock {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoDbSyncLockOptions,
  ) {}

  private get key() {
    return { pk: syncKey(this.options.storeId), sk: SORT_KEY };
  }

  async acquire(owner: string, now: number, ttlSeconds: number): Promise<LockClaim> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...this.key,
            owner,
            acquiredAt: now,
            expiresAtMs: now + ttlSeconds * 1000,
            expiresAt: epochSeconds(now) + ttlSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAtMs < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now, ':owner': owner },
        }),
      );
      return { acquired: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const held = await this.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.key, ConsistentRead: true }),
    );
    const item = held.Item ?? {};
    return {
      acquired: false,
      owner: String(item.owner ?? 'unknown'),
      acquiredAt: Number(item.acquiredAt ?? 0),
      expiresAt: Number(item.expiresAtMs ?? 0),
    };
  }

  async confirm(owner: string, now: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.key,
          UpdateExpression: 'SET confirmedAt = :now',
          ConditionExpression: '#owner = :owner AND expiresAtMs >= :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now, ':owner': owner },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const held = await this.client.send(
        new GetCommand({ TableName: this.options.tableName, Key: this.key, ConsistentRead: true }),
      );
      const holder = typeof held.Item?.owner === 'string' ? held.Item.owner : undefined;
      throw new LockLostError(owner, holder !== owner ? holder : undefined);
    }
  }

  async renew(owner: string, now: number, ttlSeconds: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.key,
          UpdateExpression: 'SET confirmedAt = :now, expiresAtMs = :expiresAtMs, expiresAt = :expiresAt',
          ConditionExpression: '#owner = :owner AND expiresAtMs >= :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':now': now,
            ':owner': owner,
            ':expiresAtMs': now + ttlSeconds * 1000,
            ':expiresAt': epochSeconds(now) + ttlSeconds,
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw await this.lostBy(owner);
    }
  }

  private async lostBy(owner: string): Promise<LockLostError> {
    const held = await this.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.key, ConsistentRead: true }),
    );
    const holder = typeof held.Item?.owner === 'string' ? held.Item.owner : undefined;
    return new LockLostError(owner, holder !== owner ? holder : undefined);
  }

  async release(owner: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.options.tableName,
          Key: this.key,
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
