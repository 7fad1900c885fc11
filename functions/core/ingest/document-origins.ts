import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { glob, lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, matchesGlob, normalize, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PermanentError } from '../errors';
import { DOCUMENT_FORMATS_SENTENCE, isDocumentName } from './formats/catalog';
import { isS3Uri, parseS3Uri, s3UriOf } from './s3-uri';
import { isWebUrl } from './web-url';

/**
 * Where documents come from. An origin is named by the person or schedule starting a sync: a local folder, file
 * or glob (`docs`, `docs/**\/*.md`), or an S3 prefix (`s3://bucket/docs/`). Every document it lists gets a
 * source name that is stable across runs: its path relative to the working directory, or its `s3://` URI.
 *
 * An origin is read as declared: what it holds is listed as a document or as skipped with its reason (a file of
 * another type, a symbolic link), never silently dropped and never read from elsewhere. Hidden files and folders
 * and `node_modules` are not the origin's content and are passed over without a word.
 */

/** One document an origin lists, before it is read. */
export interface ListedSource {
  source: string;
  /**
   * Changes whenever the document's bytes change: `sha256:<hex>` for a local file (read and hashed while
   * listing, which is cheap on a disk), `etag:<etag>` for an S3 object (no download needed to see it is unchanged).
   */
  version: string;
  /** Size in bytes, as listed. */
  size: number;
}

/** A file or object an origin holds and does not index, and why. It is never read. */
export interface SkippedSource {
  source: string;
  reason: string;
  /** What summaries count it under: its extension (`.pdf`), `no extension`, `symbolic link`, `not a file`. */
  kind: string;
}

/** What one origin holds now. */
export interface OriginListing {
  origin: string;
  /** How the origin was named, for saying plainly that it holds nothing indexable. */
  shape: 'folder' | 'file' | 'glob' | 'prefix';
  sources: ListedSource[];
  /** What it holds and does not index (see {@link SkippedSource}). */
  skipped: SkippedSource[];
  /**
   * Whether a source name falls under this origin. An indexed source that an origin covers but no longer lists
   * has been deleted from it: what `--prune` removes. Sources under no origin of the sync are left alone.
   */
  covers(source: string): boolean;
}

export interface ListOptions {
  /** Files larger than this are listed without being read (they will be reported as too large). */
  maxBytes?: number;
  /**
   * The version each source was last indexed at (the manifest's), by source: an origin that pays per download (a
   * web site) asks for each document only if it changed since (see `WebOrigin`).
   */
  previousVersions?: ReadonlyMap<string, string>;
}

export interface ReadOptions {
  /**
   * The version the listing saw (see {@link ListedSource.version}). An S3 object is read only at that ETag: one
   * replaced since is a {@link SourceChangedError}, never a different version indexed under the old one.
   */
  version?: string;
  /** Never more than this many bytes are read: a larger document is a {@link SourceTooLargeError}. */
  maxBytes?: number;
}

/** A document's bytes as read, with what its origin says about them. */
export interface SourceContent {
  bytes: Uint8Array;
  /** The media type a web server declared, with its parameters (`text/html; charset=Shift_JIS`). */
  contentType?: string;
  /** Where a person can open the document (a web page's address after redirects), when the origin knows. */
  url?: string;
}

/** One kind of origin. */
export interface DocumentOrigin {
  /** True when this origin reads `spec` (an origin named by a person) or `source` (a listed document). */
  handles(specOrSource: string): boolean;
  list(spec: string, options?: ListOptions): Promise<OriginListing>;
  /** The bytes of a listed source. */
  read(source: string, options?: ReadOptions): Promise<SourceContent>;
}

/** The origin named in a sync does not exist (a typo, a missing bucket): nothing is synced, nothing is pruned. */
export class OriginNotFoundError extends PermanentError {
  override name = 'OriginNotFoundError';
}

/** A listed document was deleted before it could be read; the next sync removes it (with `--prune`). */
export class SourceGoneError extends PermanentError {
  override name = 'SourceGoneError';
}

/** A listed document was replaced before it could be read; the next sync lists and reads the new version. */
export class SourceChangedError extends PermanentError {
  override name = 'SourceChangedError';
}

/** A document is over the size limit, found while reading it (it grew, or was replaced, after the listing). */
export class SourceTooLargeError extends PermanentError {
  override name = 'SourceTooLargeError';

  constructor(
    source: string,
    /** The size found, in bytes: the whole size when `exact`, else only as far as it was read. */
    readonly size: number,
    readonly maxBytes: number,
    exact = true,
  ) {
    super(
      exact
        ? `${source}: the file is ${size} bytes, over the ${maxBytes}-byte limit`
        : `${source}: the file is over the ${maxBytes}-byte limit`,
    );
  }
}

const GLOB_CHARACTERS = /[*?[\]{}]/;

/** Opens the path itself, never a link's target (ELOOP instead), and never waits on a FIFO swapped in. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** The reason a symbolic link is skipped. */
export const SYMLINK_REASON = 'links are not followed, so nothing outside the origin is read';

const UNSUPPORTED_REASON = `only these formats are indexed: ${DOCUMENT_FORMATS_SENTENCE}`;

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

function isHidden(relativePath: string): boolean {
  return relativePath.split('/').some((part) => part.startsWith('.') && part !== '.' && part !== '..');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A file of a type that is not indexed, counted under its extension. */
function unsupported(source: string): SkippedSource {
  const name = source.slice(source.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return {
    source,
    reason: UNSUPPORTED_REASON,
    kind: dot <= 0 ? 'no extension' : name.slice(dot).toLowerCase(),
  };
}

/**
 * Says plainly that an origin holds nothing to index, counting what it skipped:
 * `no documents found in docs/: 3 files skipped (.pptx ×2, .png ×1)`.
 */
export function nothingIndexableMessage(
  listing: Pick<OriginListing, 'origin' | 'shape' | 'skipped'>,
): string {
  const { origin, shape, skipped } = listing;
  if (shape === 'file') {
    const reason = skipped[0]?.reason;
    return reason === undefined
      ? `${origin} is not a document of a format ingest reads`
      : `${origin} was skipped: ${reason}`;
  }
  const folder = shape === 'folder' && !origin.endsWith('/') ? `${origin}/` : origin;
  const where = shape === 'glob' ? `no documents match ${origin}` : `no documents found in ${folder}`;
  if (skipped.length === 0) return where;
  const files = skipped.length === 1 ? '1 file' : `${skipped.length} files`;
  return `${where}: ${files} skipped (${countByKind(skipped)})`;
}

/** `.pdf ×2, .png ×1`: skipped files counted by kind, the most frequent first. */
export function countByKind(skipped: readonly Pick<SkippedSource, 'kind'>[]): string {
  const counts = new Map<string, number>();
  for (const { kind } of skipped) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([kind, count]) => `${kind} ×${count}`)
    .join(', ');
}

/**
 * Reads a regular file at `absolute` without following a symbolic link there (a link swapped in after the
 * listing fails with ELOOP), and never more than `maxBytes` + 1 bytes of it, however large it has grown.
 */
async function readRegularFile(source: string, absolute: string, maxBytes?: number): Promise<Uint8Array> {
  const handle = await open(absolute, OPEN_FLAGS);
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw Object.assign(new Error(`${source}: not a regular file`), {
        code: info.isDirectory() ? 'EISDIR' : 'ENOTFILE',
      });
    }
    if (maxBytes !== undefined && info.size > maxBytes) {
      throw new SourceTooLargeError(source, info.size, maxBytes);
    }
    // Read up to the limit rather than to the size seen: the file may grow between the stat and the read.
    const limit = maxBytes === undefined ? info.size : maxBytes + 1;
    const parts: Buffer[] = [];
    let length = 0;
    while (length < limit) {
      const part = Buffer.allocUnsafe(Math.min(Math.max(info.size + 1, 65_536), limit - length));
      const { bytesRead } = await handle.read(part, 0, part.byteLength, length);
      if (bytesRead === 0) break;
      parts.push(part.subarray(0, bytesRead));
      length += bytesRead;
    }
    if (maxBytes !== undefined && length > maxBytes) {
      throw new SourceTooLargeError(source, length, maxBytes, false);
    }
    return Buffer.concat(parts, length);
  } finally {
    await handle.close();
  }
}

/**
 * Local files, named relative to `baseDir` (the working directory): a folder (every Markdown and text file under
 * it, skipping hidden files and folders and `node_modules`), a single file, or a glob.
 *
 * Symbolic links are never followed below the path a person names (a link to a folder named as the origin is
 * that person's declaration, and is followed): every link found is listed as skipped. Following only the links
 * that resolve inside the origin would be no safer, because the check and the read happen in different steps
 * (Plan, then a Batch minutes later) and a link can be re-pointed in between; a file that became a link by then
 * is refused when opened (`O_NOFOLLOW`). A link's target inside the origin is indexed under its own name anyway,
 * and one outside it can be synced by naming its folder. Folders are trusted as listed: the walk never enters a
 * linked one, and a glob's matches are checked for links along their path.
 */
export class LocalFileOrigin implements DocumentOrigin {
  constructor(private readonly baseDir: string = process.cwd()) {}

  handles(specOrSource: string): boolean {
    return !isS3Uri(specOrSource) && !isWebUrl(specOrSource);
  }

  async list(spec: string, options: ListOptions = {}): Promise<OriginListing> {
    if (GLOB_CHARACTERS.test(spec)) return this.listGlob(spec, options);
    const absolute = resolve(this.baseDir, spec);
    let info: Stats;
    try {
      info = await stat(absolute);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new OriginNotFoundError(`no such file or folder: ${spec}`);
      }
      throw error;
    }
    const name = this.sourceOf(absolute);
    if (!info.isDirectory()) {
      const entry = await lstat(absolute);
      const skip = entry.isSymbolicLink()
        ? await this.symlink(absolute)
        : !entry.isFile()
          ? { source: name, reason: 'not a regular file', kind: 'not a file' }
          : !isDocumentName(name)
            ? unsupported(name)
            : undefined;
      return {
        origin: spec,
        shape: 'file',
        sources: skip === undefined ? [await this.describe(absolute, entry, options)] : [],
        skipped: skip === undefined ? [] : [skip],
        covers: (source) => source === name,
      };
    }
    const skipped: SkippedSource[] = [];
    const files = await this.walk(absolute, skipped);
    const sources = await this.describeAll(files, options);
    const everything = name === '' || name === '.';
    return {
      origin: spec,
      shape: 'folder',
      sources,
      skipped: skipped.sort((a, b) => a.source.localeCompare(b.source)),
      covers: (source) =>
        everything
          ? !isS3Uri(source) && !isWebUrl(source) && !source.startsWith('../')
          : source.startsWith(`${name}/`),
    };
  }

  async read(source: string, options: ReadOptions = {}): Promise<SourceContent> {
    try {
      return { bytes: await readRegularFile(source, resolve(this.baseDir, source), options.maxBytes) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new SourceGoneError(`${source}: the file was deleted while the sync ran`);
      }
      throw error;
    }
  }

  private async listGlob(spec: string, options: ListOptions): Promise<OriginListing> {
    const pattern = toPosix(normalize(isAbsolute(spec) ? relative(this.baseDir, spec) : spec));
    const files: string[] = [];
    const skipped: SkippedSource[] = [];
    for await (const match of glob(pattern, { cwd: this.baseDir })) {
      const absolute = resolve(this.baseDir, match);
      const name = this.sourceOf(absolute);
      if (isHidden(name)) continue;
      const entry = await lstat(absolute).catch(() => undefined);
      if (entry === undefined || entry.isDirectory()) continue;
      if (entry.isSymbolicLink()) skipped.push(await this.symlink(absolute));
      else if (!entry.isFile())
        skipped.push({ source: name, reason: 'not a regular file', kind: 'not a file' });
      else if (!isDocumentName(name)) skipped.push(unsupported(name));
      else if (await this.isReachedThroughLink(absolute)) skipped.push(this.linkedFolder(absolute));
      else files.push(absolute);
    }
    return {
      origin: spec,
      shape: 'glob',
      sources: await this.describeAll(files, options),
      skipped: skipped.sort((a, b) => a.source.localeCompare(b.source)),
      covers: (source) => !isS3Uri(source) && !isWebUrl(source) && matchesGlob(source, pattern),
    };
  }

  private async walk(directory: string, skipped: SkippedSource[]): Promise<string[]> {
    const files: string[] = [];
    const entries = await readdir(directory, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(directory, entry.name);
      if (entry.isSymbolicLink()) skipped.push(await this.symlink(path));
      else if (entry.isDirectory()) files.push(...(await this.walk(path, skipped)));
      else if (!entry.isFile()) {
        skipped.push({ source: this.sourceOf(path), reason: 'not a regular file', kind: 'not a file' });
      } else if (!isDocumentName(entry.name)) skipped.push(unsupported(this.sourceOf(path)));
      else files.push(path);
    }
    return files;
  }

  private async symlink(absolute: string): Promise<SkippedSource> {
    const target = await readlink(absolute).catch(() => undefined);
    return {
      source: this.sourceOf(absolute),
      reason: `a symbolic link${target === undefined ? '' : ` (to ${target})`}: ${SYMLINK_REASON}`,
      kind: 'symbolic link',
    };
  }

  /** True when a folder on the way from the working directory to a glob's match is a symbolic link. */
  private async isReachedThroughLink(absolute: string): Promise<boolean> {
    const [real, base] = await Promise.all([realpath(absolute), realpath(this.baseDir)]);
    return real !== join(base, relative(this.baseDir, absolute));
  }

  private linkedFolder(absolute: string): SkippedSource {
    return {
      source: this.sourceOf(absolute),
      reason: `reached through a symbolic link to a folder: ${SYMLINK_REASON}`,
      kind: 'symbolic link',
    };
  }

  private async describeAll(files: string[], options: ListOptions): Promise<ListedSource[]> {
    const sources: ListedSource[] = [];
    for (const file of files.sort()) {
      const info = await lstat(file).catch(() => undefined);
      // A file deleted between the listing and now is simply not there any more.
      if (info !== undefined) sources.push(await this.describe(file, info, options));
    }
    return sources;
  }

  private async describe(absolute: string, info: Stats, options: ListOptions): Promise<ListedSource> {
    const source = this.sourceOf(absolute);
    if (options.maxBytes !== undefined && info.size > options.maxBytes) {
      return { source, version: `size:${info.size}`, size: info.size };
    }
    try {
      const bytes = await readRegularFile(source, absolute, options.maxBytes);
      return { source, version: `sha256:${sha256(bytes)}`, size: bytes.byteLength };
    } catch (error) {
      if (error instanceof SourceTooLargeError) {
        return { source, version: `size:${error.size}`, size: error.size };
      }
      // Listed anyway: reading it again in its batch reports why it cannot be indexed.
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return { source, version: `unreadable:${code}`, size: info.size };
    }
  }

  private sourceOf(absolute: string): string {
    return toPosix(relative(this.baseDir, absolute));
  }
}

/** The MD5 ETag of an empty object, which S3 answers with 416 to any range. */
const EMPTY_OBJECT_ETAG = '"d41d8cd98f00b204e9800998ecf8427e"';

/** The whole object's size from a ranged response's `Content-Range: bytes 0-99/1234`. */
function totalSizeOf(contentRange: string | undefined): number | undefined {
  const total = /\/(\d+)$/.exec(contentRange ?? '')?.[1];
  return total === undefined ? undefined : Number(total);
}

/** Reads a response body, destroying the stream as soon as it is over `maxBytes`. */
async function readAtMost(
  source: string,
  body: AsyncIterable<Uint8Array>,
  maxBytes: number | undefined,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of body) {
    length += part.byteLength;
    if (maxBytes !== undefined && length > maxBytes) {
      (body as Partial<Readable>).destroy?.();
      throw new SourceTooLargeError(source, length, maxBytes, false);
    }
    parts.push(part);
  }
  return Buffer.concat(parts, length);
}

/**
 * Objects under an S3 prefix (`s3://bucket/prefix`), through ListObjectsV2 and GetObject. The ETag tells a
 * changed object from an unchanged one without downloading it, and pins the read to the version listed.
 */
export class S3Origin implements DocumentOrigin {
  constructor(private readonly client: () => S3Client) {}

  handles(specOrSource: string): boolean {
    return isS3Uri(specOrSource);
  }

  async list(spec: string): Promise<OriginListing> {
    const { bucket, prefix } = parseS3Uri(spec);
    const sources: ListedSource[] = [];
    const skipped: SkippedSource[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client().send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) {
          const key = object.Key;
          if (key === undefined || key.endsWith('/')) continue;
          const source = s3UriOf(bucket, key);
          if (!isDocumentName(key)) {
            skipped.push(unsupported(source));
            continue;
          }
          const size = object.Size ?? 0;
          const version =
            object.ETag !== undefined ? `etag:${object.ETag}` : `size:${size}:${object.LastModified}`;
          sources.push({ source, version, size });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchBucket') {
        throw new OriginNotFoundError(`no such bucket: ${bucket} (origin ${spec})`);
      }
      throw error;
    }
    const root = s3UriOf(bucket, prefix);
    const listed = [...sources, ...skipped];
    return {
      origin: spec,
      shape: listed.length === 1 && listed[0]?.source === root ? 'file' : 'prefix',
      sources,
      skipped,
      covers: (source) => source.startsWith(root),
    };
  }

  /**
   * Reads an object at the listed ETag (`If-Match`), and only its first `maxBytes` + 1 bytes (`Range`), so an
   * object replaced after the listing is never indexed under the old version, and one grown to any size costs at
   * most the limit in memory. The response's ETag is checked as well, for S3-compatible servers that ignore
   * `If-Match` (s3rver does), and the body is read only up to the limit, for those that ignore `Range`.
   */
  async read(source: string, options: ReadOptions = {}): Promise<SourceContent> {
    return { bytes: await this.readBytes(source, options) };
  }

  private async readBytes(source: string, options: ReadOptions): Promise<Uint8Array> {
    const { bucket, prefix: key } = parseS3Uri(source);
    const etag = options.version?.startsWith('etag:') ? options.version.slice('etag:'.length) : undefined;
    const { maxBytes } = options;
    let result: GetObjectCommandOutput;
    try {
      result = await this.client().send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(etag !== undefined ? { IfMatch: etag } : {}),
          ...(maxBytes !== undefined ? { Range: `bytes=0-${maxBytes}` } : {}),
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey') {
        throw new SourceGoneError(`${source}: the object was deleted while the sync ran`);
      }
      if (name === 'PreconditionFailed') throw this.changed(source, etag);
      if (name === 'InvalidRange') {
        // Only an empty object has no byte 0. It is what was listed only if the listing saw it empty too.
        if (etag === undefined || etag === EMPTY_OBJECT_ETAG) return new Uint8Array();
        throw this.changed(source, etag, EMPTY_OBJECT_ETAG);
      }
      throw error;
    }
    // In Node the body is a readable stream: iterable, and destroyed to stop the download.
    const body = result.Body as (AsyncIterable<Uint8Array> & Partial<Readable>) | undefined;
    const discard = () => body?.destroy?.();
    if (etag !== undefined && result.ETag !== undefined && result.ETag !== etag) {
      discard();
      throw this.changed(source, etag, result.ETag);
    }
    const size = totalSizeOf(result.ContentRange) ?? result.ContentLength;
    if (maxBytes !== undefined && size !== undefined && size > maxBytes) {
      discard();
      throw new SourceTooLargeError(source, size, maxBytes);
    }
    return body === undefined ? new Uint8Array() : readAtMost(source, body, maxBytes);
  }

  private changed(source: string, listed: string | undefined, now?: string): SourceChangedError {
    const etags = listed === undefined ? '' : ` (listed with ETag ${listed}${now ? `, now ${now}` : ''})`;
    return new SourceChangedError(
      `${source}: the object was replaced while the sync ran${etags}; the next sync reads the new version`,
    );
  }
}

/** Every kind of origin a sync can read, each source going to the one that handles it. */
export class DocumentOrigins {
  constructor(private readonly origins: readonly DocumentOrigin[]) {}

  list(spec: string, options?: ListOptions): Promise<OriginListing> {
    return this.originFor(spec).list(spec, options);
  }

  read(source: string, options?: ReadOptions): Promise<SourceContent> {
    return this.originFor(source).read(source, options);
  }

  private originFor(specOrSource: string): DocumentOrigin {
    const origin = this.origins.find((o) => o.handles(specOrSource));
    if (origin === undefined) throw new PermanentError(`no origin can read "${specOrSource}"`);
    return origin;
  }
}
