/**
 * Where the steps of one sync hand each other data too big for the state (Step Functions caps a payload at
 * 256 KB): the plan, each batch's documents, each batch's embedded rows, the commit's details and the final
 * report. In AWS an S3 prefix, locally a directory, in tests memory; the steps never ask which.
 */
export interface StagingStore {
  /** Where the store keeps its objects, for messages: `s3://bucket/prefix` or a directory. */
  readonly location: string;
  /** Writes (or overwrites) one object. */
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** Reads one object, or `undefined` when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The keys under `prefix` (which ends with `/`), in lexical order. */
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under `prefix` (which ends with `/`); returns how many there were. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Where Step Functions finds `key` (a Distributed Map's ItemReader and ResultWriter name a bucket and a key):
   * the S3 object in AWS; locally, {@link LOCAL_STAGING_BUCKET} and the key, which the local stack maps back.
   */
  locate(key: string): { bucket: string; key: string };
}

/** The bucket name a local staging store (a directory, memory) answers `locate` with. */
export const LOCAL_STAGING_BUCKET = 'local-staging';

/** Writes `value` as JSON. */
export function putJson(store: StagingStore, key: string, value: unknown): Promise<void> {
  return store.put(key, JSON.stringify(value));
}

/** Reads a JSON object, or `undefined` when there is none. */
export async function getJson<T>(store: StagingStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as T);
}

/** A staging store in memory: for tests and in-process runs. */
export class MemoryStagingStore implements StagingStore {
  readonly location = 'memory';
  private readonly objects = new Map<string, Uint8Array>();

  async put(key: string, body: string | Uint8Array): Promise<void> {
    assertStagingKey(key);
    this.objects.set(key, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStagingKey(key);
    return this.objects.get(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.list(prefix);
    for (const key of keys) this.objects.delete(key);
    return keys.length;
  }

  locate(key: string): { bucket: string; key: string } {
    assertStagingKey(key);
    return { bucket: LOCAL_STAGING_BUCKET, key };
  }
}

/** Rejects keys that could escape the store's root (`..`, absolute paths) or name a directory. */
export function assertStagingKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.endsWith('/') || key.split('/').some((p) => p === '..')) {
    throw new RangeError(`invalid staging key "${key}"`);
  }
}
