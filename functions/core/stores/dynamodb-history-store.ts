import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Turn } from '../types';
import { type BatchWriteRetry, batchWriteAll } from './batch-write';
import {
  type Feedback,
  type FeedbackOutcome,
  fitBudget,
  type HistoryBudget,
  type HistoryStore,
  type ThreadRef,
  type TurnRecord,
} from './history-store';
import { epochSeconds, threadKey, turnSortKey } from './keys';

export interface DynamoDbHistoryStoreOptions {
  tableName: string;
  /** How long a turn is kept before DynamoDB's TTL removes it. */
  ttlDays: number;
  /** How deletions DynamoDB leaves unprocessed are retried. @default see {@link BatchWriteRetry} */
  batchWriteRetry?: BatchWriteRetry;
}

/**
 * The thread's forget marker: the newest forget's message ts and the turns being persisted. Its sort key sorts
 * after every `TURN#` key, so the history queries never read it.
 */
const FORGET_MARKER = '~FORGET';

/** A turn not stored this long after its question will not be: it failed, or it expired. */
const PERSIST_GRACE_MS = 15 * 60_000;

/** DynamoDB refuses to set `feedback.#user` on an item that has no `feedback` map. */
function isMissingFeedbackMap(error: unknown): boolean {
  return (
    (error as { name?: string } | null)?.name === 'ValidationException' &&
    /document path/i.test(String((error as Error).message))
  );
}

/** A vote as a click stores it: a comment comes only from the 👎 modal (recordFeedbackComment). */
function withoutComment(feedback: Feedback): Feedback {
  return { vote: feedback.vote, actionTs: feedback.actionTs, at: feedback.at };
}

/** Thread history in DynamoDB: one item per turn, ordered by the mention's ts. */
export class DynamoDbHistoryStore implements HistoryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoDbHistoryStoreOptions,
  ) {}

  async loadTurns(
    turn: Turn,
    budget: HistoryBudget,
    now: number,
    keep: (record: TurnRecord) => boolean = () => true,
  ): Promise<TurnRecord[]> {
    if (budget.maxTurns === 0 || budget.maxChars === 0) return [];
    const newestFirst: TurnRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    // TTL deletion is lazy (it can lag by days) and dynalite never sweeps, so expired items are filtered here.
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk AND sk < :before',
          // A forgotten turn leaves a tombstone (no record) that stops a late Persist from writing it again.
          FilterExpression: 'expiresAt > :now AND attribute_exists(#record)',
          ExpressionAttributeNames: { '#record': 'record' },
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
      for (const item of page.Items ?? []) {
        if (keep(item.record as TurnRecord)) newestFirst.push(item.record as TurnRecord);
      }
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

  /**
   * Appends a turn unless the thread was forgotten after its message. The turn is first registered as in flight
   * on the thread's forget marker, under the condition that no forget newer than the message was recorded; a
   * forget reads the registrations it overtook and leaves a tombstone at each such turn's key, which the turn's
   * conditional put cannot overwrite. Either the forget sees the turn or the turn sees the forget: nothing from
   * before a confirmed forget is written later (DynamoDB conditions are per item, and dynalite has no transactions).
   */
  async appendTurn(turn: Turn, record: TurnRecord, now: number): Promise<boolean> {
    const expiresAt = epochSeconds(now) + this.options.ttlDays * 86_400;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: threadKey(turn), sk: FORGET_MARKER },
          UpdateExpression: 'ADD inflight :ts SET expiresAt = :expiresAt',
          ConditionExpression: 'attribute_not_exists(forgetTs) OR forgetTs < :messageTs',
          ExpressionAttributeValues: {
            ':ts': new Set([turn.messageTs]),
            ':messageTs': turn.messageTs,
            ':expiresAt': expiresAt,
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    let written = true;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            pk: threadKey(turn),
            sk: turnSortKey(turn.messageTs),
            eventId: record.eventId,
            record,
            // Votes on the answer, by person (recordFeedback): kept on the turn, so forgetting it forgets them.
            feedback: {},
            expiresAt,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      written = false;
    }
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: threadKey(turn), sk: FORGET_MARKER },
        UpdateExpression: 'DELETE inflight :ts',
        ExpressionAttributeValues: { ':ts': new Set([turn.messageTs]) },
      }),
    );
    return written;
  }

  /**
   * Records the forget on the thread's marker (no turn from before `forgetTs` may be written from now on) and
   * leaves a tombstone at every turn still in flight from before it.
   */
  private async markForgotten(turn: Turn): Promise<void> {
    const forgetTs = turn.messageTs;
    const expiresAt = epochSeconds(Date.now()) + this.options.ttlDays * 86_400;
    let inflight: string[] = [];
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: threadKey(turn), sk: FORGET_MARKER },
          UpdateExpression: 'SET forgetTs = :forgetTs, expiresAt = :expiresAt',
          ConditionExpression: 'attribute_not_exists(forgetTs) OR forgetTs < :forgetTs',
          ExpressionAttributeValues: { ':forgetTs': forgetTs, ':expiresAt': expiresAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      inflight = [...((result.Attributes?.inflight as Set<string> | undefined) ?? [])];
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // A later forget was recorded already; the registrations it overtook are read again below.
      const current = await this.client.send(
        new GetCommand({
          TableName: this.options.tableName,
          Key: { pk: threadKey(turn), sk: FORGET_MARKER },
          ConsistentRead: true,
        }),
      );
      inflight = [...((current.Item?.inflight as Set<string> | undefined) ?? [])];
    }
    for (const messageTs of inflight.filter((ts) => ts < forgetTs)) {
      await this.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { pk: threadKey(turn), sk: turnSortKey(messageTs), forgotten: true, expiresAt },
        }),
      );
    }
  }

  /** Deletes the thread's turns from before the forget request (`turn`), and stops any in flight being written. */
  async deleteThread(turn: Turn): Promise<number> {
    await this.markForgotten(turn);
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          // Turns from before the forget, tombstones left out (they must stay to block a late write).
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :before',
          FilterExpression: 'attribute_exists(#record)',
          ExpressionAttributeNames: { '#record': 'record' },
          ExpressionAttributeValues: {
            ':pk': threadKey(turn),
            ':first': turnSortKey(''),
            ':before': turnSortKey(turn.messageTs),
          },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: startKey,
        }),
      );
      const keys = page.Items ?? [];
      for (let i = 0; i < keys.length; i += 25) {
        const batch = keys
          .slice(i, i + 25)
          .map((key) => ({ DeleteRequest: { Key: { pk: key.pk, sk: key.sk } } }));
        // BatchWrite may leave items unprocessed under throttling: retried with backoff, within a bound.
        await batchWriteAll(this.client, this.options.tableName, batch, this.options.batchWriteRetry);
        deleted += batch.length;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return deleted;
  }

  async threadAsker(thread: ThreadRef, now: number): Promise<string | undefined> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :turn)',
          FilterExpression: 'expiresAt > :now AND attribute_exists(#record)',
          ExpressionAttributeNames: { '#record': 'record', '#user': 'user' },
          ExpressionAttributeValues: {
            ':pk': threadKey(thread),
            ':turn': turnSortKey(''),
            ':now': epochSeconds(now),
          },
          ProjectionExpression: '#record.#user',
          Limit: 10,
          ExclusiveStartKey: startKey,
        }),
      );
      const first = page.Items?.[0] as { record?: { user?: string } } | undefined;
      if (first?.record?.user !== undefined) return first.record.user;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return undefined;
  }

  async recordFeedback(
    thread: ThreadRef,
    messageTs: string,
    user: string,
    feedback: Feedback,
  ): Promise<FeedbackOutcome> {
    const key = { pk: threadKey(thread), sk: turnSortKey(messageTs) };
    // A later click replaces the vote, never the comment a 👎 left: only vote, actionTs and at are set.
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: key,
          UpdateExpression:
            'SET feedback.#user.vote = :vote, feedback.#user.actionTs = :actionTs, feedback.#user.#at = :at',
          // A turn (not a forget's tombstone) with an earlier vote of this person's, older than this click.
          ConditionExpression: 'attribute_exists(#record) AND feedback.#user.actionTs < :actionTs',
          ExpressionAttributeNames: { '#record': 'record', '#user': user, '#at': 'at' },
          ExpressionAttributeValues: {
            ':vote': feedback.vote,
            ':actionTs': feedback.actionTs,
            ':at': feedback.at,
          },
        }),
      );
      return 'stored';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) && !isMissingFeedbackMap(error)) throw error;
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: key,
          UpdateExpression: 'SET feedback.#user = :feedback',
          // The person's first vote on this turn.
          ConditionExpression: 'attribute_exists(#record) AND attribute_not_exists(feedback.#user)',
          ExpressionAttributeNames: { '#record': 'record', '#user': user },
          ExpressionAttributeValues: { ':feedback': withoutComment(feedback) },
        }),
      );
      return 'stored';
    } catch (error) {
      if (isMissingFeedbackMap(error)) {
        // A turn stored before votes existed has no `feedback` map to set a person's vote in.
        try {
          await this.client.send(
            new UpdateCommand({
              TableName: this.options.tableName,
              Key: key,
              UpdateExpression: 'SET feedback = :feedback',
              ConditionExpression: 'attribute_exists(#record) AND attribute_not_exists(feedback)',
              ExpressionAttributeNames: { '#record': 'record' },
              ExpressionAttributeValues: { ':feedback': { [user]: withoutComment(feedback) } },
            }),
          );
          return 'stored';
        } catch (retryError) {
          if (!(retryError instanceof ConditionalCheckFailedException)) throw retryError;
        }
      } else if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const current = await this.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: key, ConsistentRead: true }),
    );
    const item = current.Item;
    if (item !== undefined) return item.record === undefined ? 'gone' : 'unchanged';
    // No turn: forgotten (the thread's marker has a later forget), expired, or not persisted yet.
    const marker = await this.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: threadKey(thread), sk: FORGET_MARKER },
        ConsistentRead: true,
      }),
    );
    const forgetTs = marker.Item?.forgetTs as string | undefined;
    if (forgetTs !== undefined && forgetTs > messageTs) return 'gone';
    const ageMs = Date.parse(feedback.at) - Number(messageTs) * 1000;
    return ageMs > PERSIST_GRACE_MS ? 'gone' : 'not-yet';
  }

  async recordFeedbackComment(
    thread: ThreadRef,
    messageTs: string,
    user: string,
    comment: string,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: threadKey(thread), sk: turnSortKey(messageTs) },
          UpdateExpression: 'SET feedback.#user.#comment = :comment',
          // Only with a 👎: a modal submitted after the person switched to 👍 stores nothing.
          ConditionExpression: 'attribute_exists(#record) AND feedback.#user.vote = :negative',
          ExpressionAttributeNames: { '#record': 'record', '#user': user, '#comment': 'comment' },
          ExpressionAttributeValues: { ':comment': comment, ':negative': 'negative' },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
