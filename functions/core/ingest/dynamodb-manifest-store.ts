import { createHash } from 'node:crypto';
import { BatchWriteCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { syncKey } from '../stores/keys';
import type { ManifestEntry, ManifestStore } from './manifest-store';

export interface DynamoDbManifestStoreOptions {
  tableName: string;
  /** The vector store the manifest describes (see `vectorStoreId`). */
  storeId: string;
}

const SORT_PREFIX = 'SOURCE#';
/** A sort key holds at most 1,024 bytes; longer source names (deep S3 keys) are keyed by their hash. */
const MAX_SOURCE_KEY_BYTES = 900;
/** BatchWriteItem takes at most 25 requests. */
const WRITE_BATCH = 25;
const MAX_UNPROCESSED_ROUNDS = 8;

function sortKeyOf(source: string): string {
  if (Buffer.byteLength(source, 'utf8') <= MAX_SOURCE_KEY_BYTES) return `${SORT_PREFIX}${source}`;
  return `${SORT_PREFIX}~${createHash('sha256').update(source).digest('hex')}`;
}

/**
 * The manifest in the conversation table, one item per indexed document under the store's `SYNC#` partition.
 * Items carry no `expiresAt`: an entry lives exactly as long as its document is indexed.
 */
export class DynamoDbManifestStore implements ManifestStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: DynamoDbManifestStoreOptions,
  ) {}

  async load(): Promise<Map<string, ManifestEntry>> {
    const entries = new Map<string, ManifestEntry>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': syncKey(this.options.storeId), ':prefix': SORT_PREFIX },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const entry: ManifestEntry = {
          source: String(item.source),
          contentHash: String(item.contentHash),
          version: String(item.version),
          fingerprint: String(item.fingerprint),
          chunks: Number(item.chunks),
          collection: typeof item.collection === 'string' ? item.collection : null,
          ...(typeof item.ownCollection === 'string' || item.ownCollection === null
            ? { ownCollection: item.ownCollection as string | null }
            : {}),
          ...(typeof item.splitHash === 'string' ? { splitHash: item.splitHash } : {}),
          syncedAt: Number(item.syncedAt),
        };
        entries.set(entry.source, entry);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return entries;
  }

  async apply(changes: { put: readonly ManifestEntry[]; remove: readonly string[] }): Promise<void> {
    const pk = syncKey(this.options.storeId);
    // A source both removed and put (never planned, but cheap to rule out) ends up put.
    const putSources = new Set(changes.put.map((entry) => entry.source));
    const requests = [
      ...changes.remove
        .filter((source) => !putSources.has(source))
        .map((source) => ({ DeleteRequest: { Key: { pk, sk: sortKeyOf(source) } } })),
      ...changes.put.map((entry) => ({
        // An entry from before `ownCollection` was recorded has none: left out rather than written as undefined.
        PutRequest: {
          Item: {
            pk,
            sk: sortKeyOf(entry.source),
            ...Object.fromEntries(Object.entries(entry).filter(([, value]) => value !== undefined)),
          },
        },
      })),
    ];
    for (let start = 0; start < requests.length; start += WRITE_BATCH) {
      let pending: typeof requests | undefined = requests.slice(start, start + WRITE_BATCH);
      // BatchWrite may leave items unprocessed under throttling: retry those, backing off a little each round.
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS) {
          throw Object.assign(new Error('DynamoDB left manifest writes unprocessed'), {
            name: 'ProvisionedThroughputExceededException',
          });
        }
        if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
        const result = await this.client.send(
          new BatchWriteCommand({ RequestItems: { [this.options.tableName]: pending } }),
        );
        pending = result.UnprocessedItems?.[this.options.tableName] as typeof requests | undefined;
      }
    }
  }
}
