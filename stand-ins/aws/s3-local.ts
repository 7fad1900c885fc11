import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types (see s3rver.d.ts): an S3-compatible server keeping objects in a directory.
import S3rver from 's3rver';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account';

/**
 * The credentials every client of a loopback stand-in signs with (see `functions/core/runtime.ts`). s3rver
 * knows only its own S3RVER key pair out of the box.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface LocalS3 {
  /** The endpoint to give an S3 client (with `forcePathStyle`), e.g. `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** The directory holding the buckets. */
  directory: string;
  close(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1 (never another interface) on a free port, with the given buckets, keeping its
 * objects in a new temporary directory that `close()` removes. A stand-in for document origins and staging;
 * it does not honour conditional puts, so LanceDB never writes to it.
 */
export async function startLocalS3(options: { buckets?: string[] } = {}): Promise<LocalS3> {
  DUMMY_ACCOUNT.createKeyPair(LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey);
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    directory,
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
