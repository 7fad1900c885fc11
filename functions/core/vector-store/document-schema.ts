import {
  DataType,
  Field,
  FixedSizeList,
  Float32,
  Int32,
  Schema,
  TimestampMillisecond,
  Utf8,
} from 'apache-arrow';
import { EmbeddingMismatchError, IncompatibleTableError } from './errors';

/**
 * The layout of the document table: one row per chunk. The embedder that made the vectors is written into the
 * Arrow schema's metadata when the table is created (LanceDB keeps schema metadata through appends, merges,
 * deletes, index builds and compaction), so every reader and writer can check it before touching vectors.
 */

/** Bumped when the row layout changes in a way old tables cannot serve; a mismatch asks for a rebuild. */
export const DOCUMENT_SCHEMA_VERSION = '1';

/** Schema metadata keys. Namespaced so they never collide with LanceDB's own keys. */
export const METADATA_KEYS = {
  embedder: 'rag.embedder',
  dimensions: 'rag.dimensions',
  schemaVersion: 'rag.schema_version',
} as const;

/** One chunk as stored. */
export interface DocumentRow {
  /** Stable chunk id: unchanged while the chunk's source and text are unchanged. */
  id: string;
  vector: number[];
  text: string;
  /** The document's key at its origin (an S3 key or a relative path): what a delete or replace targets. */
  source: string;
  title: string;
  /** The chunk's heading path, e.g. "Setup › VPN › Rotating keys"; empty before the first heading. */
  heading: string;
  /** The access-control group the document belongs to; `null` when it belongs to none. */
  collection: string | null;
  /** sha256 of the whole document's bytes: what the ingest manifest diffs on. */
  contentHash: string;
  /** When the chunk was written, in epoch milliseconds. */
  updatedAt: number;
  /** The first and last page of the chunk in a paged document (a PDF); `null` or absent otherwise. */
  pageStart?: number | null;
  pageEnd?: number | null;
  /** Where a person can open the chunk's section (a web page, with its anchor); `null` or absent otherwise. */
  url?: string | null;
}

/**
 * The columns that say where a chunk sits in its original (pages, link). A table made before they existed lacks
 * them: the writer adds them, all null, before its first write ({@link locationFields}), and readers of such a
 * table read without them, so an upgrade needs no rebuild.
 */
export const LOCATION_COLUMNS = ['pageStart', 'pageEnd', 'url'] as const;

/** The location columns' fields, nullable. */
export function locationFields(): Field[] {
  return [
    new Field('pageStart', new Int32(), true),
    new Field('pageEnd', new Int32(), true),
    new Field('url', new Utf8(), true),
  ];
}

/** Whether a stored table has the location columns. */
export function hasLocationColumns(schema: Schema): boolean {
  const names = new Set(schema.fields.map((f) => f.name));
  return LOCATION_COLUMNS.every((column) => names.has(column));
}

/** The columns the code reads; a table missing any of them cannot be served. */
export const DOCUMENT_COLUMNS = [
  'id',
  'vector',
  'text',
  'source',
  'title',
  'heading',
  'collection',
  'contentHash',
  'updatedAt',
] as const;

/** What a table is expected to hold: the embedder that makes its vectors. */
export interface DocumentTableSpec {
  /** The table name (`LANCEDB_TABLE`, `documents` by default). */
  table: string;
  /** The embedding model's name as configured, e.g. `text-embedding-3-small`. */
  embedderName: string;
  /** Length of every vector the embedder returns. */
  dimensions: number;
}

/** The explicit Arrow schema of a document table for vectors of `dimensions` made by `embedderName`. */
export function documentSchema(spec: Pick<DocumentTableSpec, 'embedderName' | 'dimensions'>): Schema {
  if (!Number.isInteger(spec.dimensions) || spec.dimensions <= 0) {
    throw new RangeError(`dimensions must be a positive whole number; got ${spec.dimensions}`);
  }
  return new Schema(
    [
      new Field('id', new Utf8(), false),
      new Field('vector', new FixedSizeList(spec.dimensions, new Field('item', new Float32(), true)), false),
      new Field('text', new Utf8(), false),
      new Field('source', new Utf8(), false),
      new Field('title', new Utf8(), false),
      new Field('heading', new Utf8(), false),
      new Field('collection', new Utf8(), true),
      new Field('contentHash', new Utf8(), false),
      new Field('updatedAt', new TimestampMillisecond(), false),
      ...locationFields(),
    ],
    new Map([
      [METADATA_KEYS.embedder, spec.embedderName],
      [METADATA_KEYS.dimensions, String(spec.dimensions)],
      [METADATA_KEYS.schemaVersion, DOCUMENT_SCHEMA_VERSION],
    ]),
  );
}

/**
 * Checks that a stored table was built for `spec`: the columns exist, the layout version matches, and its
 * vectors come from the same embedder with the same dimension.
 *
 * @throws {EmbeddingMismatchError} when the embedder or the dimension differ (or were never recorded).
 * @throws {IncompatibleTableError} when columns are missing or the layout version differs.
 */
export function verifyDocumentSchema(schema: Schema, spec: DocumentTableSpec): void {
  const names = new Set(schema.fields.map((f) => f.name));
  const missing = DOCUMENT_COLUMNS.filter((c) => !names.has(c));
  if (missing.length > 0) {
    throw new IncompatibleTableError(spec.table, `has no ${missing.join(', ')} column(s)`);
  }
  const vectorType = schema.fields.find((f) => f.name === 'vector')?.type;
  // A type guard rather than instanceof: the schema may come from another copy of apache-arrow in a bundle.
  const storedDimensions = DataType.isFixedSizeList(vectorType) ? vectorType.listSize : Number.NaN;
  const storedEmbedder = schema.metadata.get(METADATA_KEYS.embedder) ?? '(not recorded)';
  if (storedEmbedder !== spec.embedderName || storedDimensions !== spec.dimensions) {
    throw new EmbeddingMismatchError(
      spec.table,
      { embedderName: storedEmbedder, dimensions: storedDimensions },
      { embedderName: spec.embedderName, dimensions: spec.dimensions },
    );
  }
  const version = schema.metadata.get(METADATA_KEYS.schemaVersion);
  if (version !== DOCUMENT_SCHEMA_VERSION) {
    throw new IncompatibleTableError(
      spec.table,
      `has row layout version ${version ?? '(none)'}, and this code reads version ${DOCUMENT_SCHEMA_VERSION}`,
    );
  }
}
