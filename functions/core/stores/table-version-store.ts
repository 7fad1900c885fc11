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
 * The version of the document table that the ingest last committed or optimised (issue 23): written by Commit and
 * Optimize under the sync lock, read by Load history, and carried by the execution to Retrieve, which then serves
 * exactly that version without asking storage for the latest one (a LIST of the table's `_versions` on S3).
 * `undefined` when none was recorded (a deployment from before it): Retrieve then checks for new versions itself.
 */
export interface TableVersionStore {
  read(): Promise<number | undefined>;
  /** Records `version` as the one to serve; the single writer under the sync lock calls it. */
  write(version: number, now: number): Promise<void>;
}

/** One item, `TABLEVERSION#store / TABLE`, in the conversation table. */
export class DynamoDbTableVersionStore implements TableVersionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: { tableName: string; storeId: string },
  ) {}

  private get key() {
    return { pk: tableVersionKey(this.options.storeId), sk: 'TABLE' };
  }

  async read(): Promise<number | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.key, ProjectionExpression: 'version' }),
    );
    const version = Item?.version;
    return typeof version === 'number' && Number.isInteger(version) && version > 0 ? version : undefined;
  }

  async write(version: number, now: number): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.options.tableName, Item: { ...this.key, version, writtenAt: now } }),
    );
  }
}

/** In memory: tests and in-process runs without DynamoDB. */
export class MemoryTableVersionStore implements TableVersionStore {
  version: number | undefined;

  async read(): Promise<number | undefined> {
    return this.version;
  }

  async write(version: number): Promise<void> {
    this.version = version;
  }
}
