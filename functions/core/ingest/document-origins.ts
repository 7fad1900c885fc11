import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { glob, readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, matchesGlob, normalize, relative, resolve, sep } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { PermanentError } from '../errors';
import { isDocumentName } from './load-document';
import { isS3Uri, parseS3Uri, s3UriOf } from './s3-uri';

/**
 * Where documents come from. An origin is named by the person or schedule starting a sync: a local folder, file
 * or glob (`docs`, `docs/**\/*.md`), or an S3 prefix (`s3://bucket/docs/`). Every document it lists gets a
 * source name that is stable across runs: its path relative to the working directory, or its `s3://` URI.
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

/** What one origin holds now. */
export interface OriginListing {
  origin: string;
  sources: ListedSource[];
  /**
   * Whether a source name falls under this origin. An indexed source that an origin covers but no longer lists
   * has been deleted from it: what `--prune` removes. Sources under no origin of the sync are left alone.
   */
  covers(source: string): boolean;
}

export interface ListOptions {
  /** Files larger than this are listed without being read (they will be reported as too large). */
  maxBytes?: number;
}

/** One kind of origin. */
export interface DocumentOrigin {
  /** True when this origin reads `spec` (an origin named by a person) or `source` (a listed document). */
  handles(specOrSource: string): boolean;
  list(spec: string, options?: ListOptions): Promise<OriginListing>;
  /** The bytes of a listed source. */
  read(source: string): Promise<Uint8Array>;
}

/** The origin named in a sync does not exist (a typo, a missing bucket): nothing is synced, nothing is pruned. */
export class OriginNotFoundError extends PermanentError {
  override name = 'OriginNotFoundError';
}

/** A listed document was deleted before it could be read; the next sync removes it (with `--prune`). */
export class SourceGoneError extends PermanentError {
  override name = 'SourceGoneError';
}

const GLOB_CHARACTERS = /[*?[\]{}]/;

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

function isHidden(relativePath: string): boolean {
  return relativePath.split('/').some((part) => part.startsWith('.') && part !== '.' && part !== '..');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Local files, named relative to `baseDir` (the working directory): a folder (every Markdown and text file under
 * it, skipping hidden files and folders and `node_modules`), a single file, or a glob.
 */
export class LocalFileOrigin implements DocumentOrigin {
  constructor(private readonly baseDir: string = process.cwd()) {}

  handles(specOrSource: string): boolean {
    return !isS3Uri(specOrSource);
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
    if (info.isFile()) {
      return {
        origin: spec,
        sources: [await this.describe(absolute, info, options)],
        covers: (source) => source === name,
      };
    }
    const files = await this.walk(absolute);
    const sources = await this.describeAll(files, options);
    const everything = name === '' || name === '.';
    return {
      origin: spec,
      sources,
      covers: (source) =>
        everything ? !isS3Uri(source) && !source.startsWith('../') : source.startsWith(`${name}/`),
    };
  }

  async read(source: string): Promise<Uint8Array> {
    try {
      return await readFile(resolve(this.baseDir, source));
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
    for await (const match of glob(pattern, { cwd: this.baseDir })) {
      const absolute = resolve(this.baseDir, match);
      const name = this.sourceOf(absolute);
      if (!isDocumentName(name) || isHidden(name)) continue;
      if ((await stat(absolute).catch(() => undefined))?.isFile()) files.push(absolute);
    }
    return {
      origin: spec,
      sources: await this.describeAll(files, options),
      covers: (source) => !isS3Uri(source) && matchesGlob(source, pattern),
    };
  }

  private async walk(directory: string): Promise<string[]> {
    const files: string[] = [];
    const entries = await readdir(directory, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) files.push(...(await this.walk(path)));
      else if (!isDocumentName(entry.name)) continue;
      else if (entry.isFile()) files.push(path);
      // A link to a document is followed; a link to a folder is not, so a loop of links cannot trap the walk.
      else if (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile())
        files.push(path);
    }
    return files;
  }

  private async describeAll(files: string[], options: ListOptions): Promise<ListedSource[]> {
    const sources: ListedSource[] = [];
    for (const file of files.sort()) {
      const info = await stat(file).catch(() => undefined);
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
      const bytes = await readFile(absolute);
      return { source, version: `sha256:${sha256(bytes)}`, size: bytes.byteLength };
    } catch (error) {
      // Listed anyway: reading it again in its batch reports why it cannot be indexed.
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return { source, version: `unreadable:${code}`, size: info.size };
    }
  }

  private sourceOf(absolute: string): string {
    return toPosix(relative(this.baseDir, absolute));
  }
}

/**
 * Objects under an S3 prefix (`s3://bucket/prefix`), through ListObjectsV2 and GetObject. The ETag tells a
 * changed object from an unchanged one without downloading it.
 */
export class S3Origin implements DocumentOrigin {
  constructor(private readonly client: () => S3Client) {}

  handles(specOrSource: string): boolean {
    return isS3Uri(specOrSource);
  }

  async list(spec: string): Promise<OriginListing> {
    const { bucket, prefix } = parseS3Uri(spec);
    const sources: ListedSource[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client().send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) {
          const key = object.Key;
          if (key === undefined || key.endsWith('/')) continue;
          // An object named on its own is always tried; a prefix lists documents only.
          if (key !== prefix && !isDocumentName(key)) continue;
          const size = object.Size ?? 0;
          const version =
            object.ETag !== undefined ? `etag:${object.ETag}` : `size:${size}:${object.LastModified}`;
          sources.push({ source: s3UriOf(bucket, key), version, size });
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
    return { origin: spec, sources, covers: (source) => source.startsWith(root) };
  }

  async read(source: string): Promise<Uint8Array> {
    const { bucket, prefix: key } = parseS3Uri(source);
    try {
      const result = await this.client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return result.Body === undefined ? new Uint8Array() : await result.Body.transformToByteArray();
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') {
        throw new SourceGoneError(`${source}: the object was deleted while the sync ran`);
      }
      throw error;
    }
  }
}

/** Every kind of origin a sync can read, each source going to the one that handles it. */
export class DocumentOrigins {
  constructor(private readonly origins: readonly DocumentOrigin[]) {}

  list(spec: string, options?: ListOptions): Promise<OriginListing> {
    return this.originFor(spec).list(spec, options);
  }

  read(source: string): Promise<Uint8Array> {
    return this.originFor(source).read(source);
  }

  private originFor(specOrSource: string): DocumentOrigin {
    const origin = this.origins.find((o) => o.handles(specOrSource));
    if (origin === undefined) throw new PermanentError(`no origin can read "${specOrSource}"`);
    return origin;
  }
}
