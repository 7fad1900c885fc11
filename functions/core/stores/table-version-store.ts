import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isS3Uri } from '../ingest/s3-uri';
import { tableVersionKey } from './keys';

/**
 * Names one vector store (LanceDB database and table) in the keys of its manifest, lock and table version: two
 * stores never share them, and two syncs of the same store always do, wherever they run from.
 */
export function vectorStoreId(uri: string, table: string): string {
  const location = isS3Uri(uri) ? uri.replace(/\/+$/, '') : resolve(uri);
  return `${table}#${createHash('sha256').update(location).digest('hex').slice(0, 16)}`;
}

/**
 * What the ingest recorded last. `version` is the version to serve. `beforeFold`, when there is one, is the version
 * Optimize folded into the indexes to make it: the same rows, its sync's few new ones still outside the indexes. A
 * warm Retrieve container that holds the indexes of `beforeFold` answers from it while it loads the new indexes after
 * the answer, instead of making that question wait for them.
 */
export interface RecordedTableVersion {
  version: number;
  beforeFold?: number;
}

/**
 * The version of the document table that the ingest last committed or optimised (issue 23): written by Commit and
 * Optimize under the sync lock, read by Load history, and carried by the execution to Retrieve, which then serves
 * exactly that version without asking storage for the latest one (a LIST of the table's `_versions` on S3).
 * `undefined` when none was recorded (a deployment from before it): Retrieve then checks for new versions itself.
 */
export interface TableVersionStore {
  read(): Promise<RecordedTableVersion | undefined>;
  /**
   * Records `version` as the one to serve, and the version it folded (`beforeFold`, see {@link RecordedTableVersion});
   * the single writer under the sync lock calls it.
   */
  write(version: number, now: number, beforeFold?: number): Promise<void>;
}

const isVersion = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0;

/** One item, `TABLEVERSION#store / TABLE`, in the conversation table. */
export class DynamoDbTableVersionStore implements TableVersionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: { tableName: string; storeId: string },
  ) {}

  private get key() {
    return { pk: tableVersionKey(this.options.storeId), sk: 'TABLE' };
  }

  async read(): Promise<RecordedTableVersion | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: this.key,
        ProjectionExpression: 'version, beforeFold',
      }),
    );
    const version = Item?.version;
    if (!isVersion(version)) return undefined;
    const beforeFold = Item?.beforeFold;
    return isVersion(beforeFold) && beforeFold < version ? { version, beforeFold } : { version };
  }

  async write(version: number, now: number, beforeFold?: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.options.tableName,
        // A put, not an update: a version that folded nothing leaves no `beforeFold` from the one before.
        Item: { ...this.key, version, ...(beforeFold === undefined ? {} : { beforeFold }), writtenAt: now },
      }),
    );
  }
}

/** In memory: tests and in-process runs without DynamoDB. */
export class MemoryTableVersionStore implements TableVersionStore {
  recorded: RecordedTableVersion | undefined;

  async read(): Promise<RecordedTableVersion | undefined> {
    return this.recorded;
  }

  async write(version: number, _now: number, beforeFold?: number): Promise<void> {
    this.recorded = beforeFold === undefined ? { version } : { version, beforeFold };
  }
}
