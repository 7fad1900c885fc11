import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertStagingKey, type StagingStore } from './staging-store';

/** S3's DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1_000;

/**
 * A staging store under an S3 prefix (AWS). Objects are small JSON documents written once and read by a later
 * step of the same sync; give the prefix a lifecycle rule so that a run that died before cleaning up leaves
 * nothing behind for long.
 */
export class S3StagingStore implements StagingStore {
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    prefix: string,
  ) {
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  get location(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    assertStagingKey(key);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
        ContentType: 'application/json',
      }),
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStagingKey(key);
    try {
      const result = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      return result.Body === undefined ? new Uint8Array() : await result.Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) keys.push(object.Key.slice(this.prefix.length));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.list(prefix);
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((key) => ({ Key: this.prefix + key })), Quiet: true },
        }),
      );
    }
    return keys.length;
  }

  locate(key: string): { bucket: string; key: string } {
    assertStagingKey(key);
    return { bucket: this.bucket, key: this.prefix + key };
  }
}
