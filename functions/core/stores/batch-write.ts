import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../errors';

/** One request of a `BatchWriteItem` (at most 25 per call). */
export type WriteRequest = NonNullable<
  NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string]
>[number];

/** How {@link batchWriteAll} retries what DynamoDB leaves unprocessed. */
export interface BatchWriteRetry {
  /** Calls in all, the first included. @default 8 */
  maxAttempts?: number;
  /** The first pause; each next one doubles, up to `maxDelayMs`. @default 50 */
  baseDelayMs?: number;
  /** @default 2000 */
  maxDelayMs?: number;
  /** @default a `setTimeout` promise */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Writes up to 25 requests with `BatchWriteItem` and retries the ones DynamoDB leaves unprocessed (it does under
 * throttling) after a pause that doubles each time, with jitter, as AWS asks; retrying at once only meets the same
 * throttling again. A bound keeps a table that stays throttled from holding the step until its timeout: the
 * `TransientError` thrown then lets the state machine retry the step later (the writes are idempotent).
 *
 * @throws {TransientError} when requests are still unprocessed after `maxAttempts` calls.
 */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: WriteRequest[],
  retry: BatchWriteRetry = {},
): Promise<void> {
  const maxAttempts = retry.maxAttempts ?? 8;
  const baseDelayMs = retry.baseDelayMs ?? 50;
  const maxDelayMs = retry.maxDelayMs ?? 2_000;
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let pending = requests;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const result = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
    pending = result.UnprocessedItems?.[tableName] ?? [];
    if (pending.length === 0) return;
    if (attempt >= maxAttempts) {
      throw new TransientError(
        `DynamoDB left ${pending.length} of ${requests.length} writes unprocessed after ${maxAttempts} attempts`,
      );
    }
    // "Equal jitter": at least half the doubled pause, so retries never bunch up at zero.
    const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    await sleep(cap / 2 + Math.random() * (cap / 2));
  }
}
