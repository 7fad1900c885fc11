import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AnswerClaim, EventClaim, EventStore, WrittenAnswer } from './event-store';
import { epochSeconds, eventKey, keyScope } from './keys';

export interface DynamoDbEventStoreOptions {
  tableName: string;
  /** How long an event id is remembered (DynamoDB TTL), in seconds. */
  ttlSeconds: number;
}

const SORT_KEY = 'EVENT';

/** The event records live beside the history, under `EVENT#` keys, with conditional writes for every claim. */
export class DynamoDbEventStore implements EventStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoDbEventStoreOptions,
  ) {}

  /** The event's record, read consistently: what a delivery or run that lost a conditional write needs to know. */
  private readEvent(eventId: string) {
    return this.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        ConsistentRead: true,
      }),
    );
  }

  async claimEvent(eventId: string, now: number, staleAfterMs: number): Promise<EventClaim> {
    try {
      const result = await this.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            pk: eventKey(eventId),
            sk: SORT_KEY,
            state: 'claimed',
            claimedAt: now,
            expiresAt: epochSeconds(now) + this.options.ttlSeconds,
          },
          // A record past its TTL may still be there (deletion lags), and then counts as absent.
          ConditionExpression:
            'attribute_not_exists(pk) OR expiresAt < :nowSeconds OR (#state = :claimed AND claimedAt < :staleBefore)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':claimed': 'claimed',
            ':staleBefore': now - staleAfterMs,
            ':nowSeconds': epochSeconds(now),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const previous = result.Attributes?.placeholderTs;
      const takenOver = result.Attributes !== undefined;
      return typeof previous === 'string'
        ? { status: 'claimed', placeholderTs: previous, takenOver }
        : { status: 'claimed', ...(takenOver ? { takenOver } : {}) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.readEvent(eventId);
      // Gone between the two calls (TTL): the next attempt finds it absent and claims it.
      if (current.Item === undefined) return { status: 'held' };
      return current.Item.state === 'claimed' ? { status: 'held' } : { status: 'started' };
    }
  }

  async recordPlaceholder(eventId: string, placeholderTs: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        UpdateExpression: 'SET placeholderTs = :ts',
        ConditionExpression: '#state = :claimed',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':ts': placeholderTs, ':claimed': 'claimed' },
      }),
    );
  }

  async markStarted(
    eventId: string,
    executionName: string,
    placeholderTs: string | undefined,
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        UpdateExpression: 'SET #state = :started, executionName = :name, placeholderTs = :ts',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':started': 'started',
          ':name': executionName,
          ':ts': placeholderTs ?? null,
        },
      }),
    );
  }

  async releaseClaim(
    eventId: string,
    placeholderTs: string | undefined,
  ): Promise<{ released: true } | { released: false; startedPlaceholderTs?: string }> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: eventKey(eventId), sk: SORT_KEY },
          UpdateExpression: 'SET claimedAt = :zero, placeholderTs = :ts',
          ConditionExpression: '#state = :claimed',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':zero': 0, ':ts': placeholderTs ?? null, ':claimed': 'claimed' },
        }),
      );
      return { released: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.readEvent(eventId);
      const started = current.Item?.placeholderTs;
      return typeof started === 'string'
        ? { released: false, startedPlaceholderTs: started }
        : { released: false };
    }
  }

  async claimAnswer(
    eventId: string,
    runId: string,
    placeholderTs: string,
    now: number,
  ): Promise<AnswerClaim> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { pk: eventKey(eventId), sk: SORT_KEY },
          UpdateExpression:
            'SET answeredBy = :run, answerPlaceholderTs = if_not_exists(answerPlaceholderTs, :ts), ' +
            'expiresAt = if_not_exists(expiresAt, :expiresAt)',
          ConditionExpression: 'attribute_not_exists(answeredBy) OR answeredBy = :run',
          ExpressionAttributeValues: {
            ':run': runId,
            ':ts': placeholderTs,
            ':expiresAt': epochSeconds(now) + this.options.ttlSeconds,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const continuationTs = result.Attributes?.continuationTs;
      const streamTs = result.Attributes?.streamTs;
      const written = writtenAnswerOf(result.Attributes?.writtenAnswer);
      return {
        granted: true,
        complete: result.Attributes?.answerComplete === true,
        continuationTs: Array.isArray(continuationTs) ? (continuationTs as string[]) : [],
        streamTs: Array.isArray(streamTs) ? (streamTs as string[]) : [],
        ...(written === undefined ? {} : { written }),
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.readEvent(eventId);
      const holderTs = current.Item?.answerPlaceholderTs;
      return typeof holderTs === 'string' ? { granted: false, placeholderTs: holderTs } : { granted: false };
    }
  }

  async recordContinuation(eventId: string, runId: string, ts: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        UpdateExpression: 'SET continuationTs = list_append(if_not_exists(continuationTs, :none), :ts)',
        ConditionExpression: 'answeredBy = :run',
        ExpressionAttributeValues: { ':none': [], ':ts': [ts], ':run': runId },
      }),
    );
  }

  async recordStream(eventId: string, runId: string, ts: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        UpdateExpression: 'SET streamTs = list_append(if_not_exists(streamTs, :none), :ts)',
        ConditionExpression: 'answeredBy = :run',
        ExpressionAttributeValues: { ':none': [], ':ts': [ts], ':run': runId },
      }),
    );
  }

  async recordWrittenAnswer(eventId: string, runId: string, written: WrittenAnswer): Promise<void> {
    // An item holds 400 KB; an answer is a few KB. One that would not fit is not kept: a retry asks the model again.
    if (Buffer.byteLength(written.text) > MAX_WRITTEN_ANSWER_BYTES) return;
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        UpdateExpression: 'SET writtenAnswer = :written',
        ConditionExpression: 'answeredBy = :run',
        ExpressionAttributeValues: {
          ':written': {
            text: written.text,
            inputTokens: written.usage.inputTokens,
            outputTokens: written.usage.outputTokens,
          },
          ':run': runId,
        },
      }),
    );
  }

  async completeAnswer(eventId: string, runId: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { pk: eventKey(eventId), sk: SORT_KEY },
        UpdateExpression: 'SET answerComplete = :true',
        ConditionExpression: 'answeredBy = :run',
        ExpressionAttributeValues: { ':true': true, ':run': runId },
      }),
    );
  }

  async workspaceStreamFallback(teamId: string, now: number): Promise<string | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: workspaceStreamKey(teamId) }),
    );
    const item = result.Item;
    if (item === undefined || Number(item.expiresAt) < epochSeconds(now)) return undefined;
    return String(item.reason ?? 'unknown');
  }

  async countQuestion(
    person: { teamId: string; enterpriseId?: string; user: string },
    eventId: string,
    limit: number,
    now: number,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: usageKey(keyScope(person), person.user, now),
          UpdateExpression: 'ADD events :event SET expiresAt = :expiresAt',
          ConditionExpression:
            'attribute_not_exists(events) OR size(events) < :limit OR contains(events, :id)',
          ExpressionAttributeValues: {
            ':event': new Set([eventId]),
            ':id': eventId,
            ':limit': limit,
            // Kept two days, so a day's count outlives the day in every time zone.
            ':expiresAt': epochSeconds(now) + 2 * 86_400,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async recordWorkspaceStreamFallback(teamId: string, reason: string, now: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.options.tableName,
        Item: {
          ...workspaceStreamKey(teamId),
          reason,
          at: new Date(now).toISOString(),
          expiresAt: epochSeconds(now) + STREAM_FALLBACK_TTL_SECONDS,
        },
      }),
    );
  }
}

/**
 * `EVENT#usage#team#user#day`: the events a person asked about on one UTC day (a set, so a retry counts once); on an
 * org-wide install `team` is the organisation's id (keys.ts).
 */
function usageKey(teamId: string, user: string, now: number): { pk: string; sk: string } {
  const day = new Date(now).toISOString().slice(0, 10);
  return { pk: eventKey(`usage#${teamId}#${user}#${day}`), sk: 'USAGE' };
}

/** How long a workspace that refused `chat.startStream` gets edits instead: a plan upgrade is seen within it. */
const STREAM_FALLBACK_TTL_SECONDS = 7 * 86_400;

/** Under the `EVENT#` prefix, which the ack and Generate may already read and write. */
function workspaceStreamKey(teamId: string): { pk: string; sk: string } {
  return { pk: eventKey(`workspace#${teamId}`), sk: 'STREAM' };
}

/** The most of an answer's text kept on its event's item (DynamoDB's item limit is 400 KB). */
const MAX_WRITTEN_ANSWER_BYTES = 300 * 1024;

function writtenAnswerOf(value: unknown): WrittenAnswer | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { text, inputTokens, outputTokens } = value as Record<string, unknown>;
  if (typeof text !== 'string' || text === '') return undefined;
  return {
    text,
    usage: {
      inputTokens: typeof inputTokens === 'number' ? inputTokens : 0,
      outputTokens: typeof outputTokens === 'number' ? outputTokens : 0,
    },
  };
}
