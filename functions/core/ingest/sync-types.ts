import { createHash } from 'node:crypto';
import type { DocumentRow } from '../vector-store/document-schema';
import type { EnsureIndexesResult } from '../vector-store/document-table';
import type { SkippedSource } from './document-origins';
import type { EmbeddingStats, EmbeddingThroughput } from './embedding-rate-limit';
import { extensionOf, isPdfOrWordName } from './formats/catalog';
import type { ManifestEntry } from './manifest-store';
import type { OriginSpec } from './origin-spec';

/**
 * The documents the ingest steps exchange. What travels in the state machine's state is small by construction
 * (counts and batch numbers); everything sized by the corpus (the plan's job lists, the embedded rows, the
 * failures) is staged in the {@link StagingStore} under the execution's name, and the full report is kept there.
 */

/** What a sync is started with: the execution input. An empty input syncs `INGEST_ORIGINS`, pruning. */
export interface SyncRequest {
  /**
   * Local folders, files or globs, `s3://bucket/prefix` URIs and web sites, each alone or as
   * `{"uri": ..., "collection": ...}` to place the documents it holds in a collection. @default INGEST_ORIGINS
   */
  origins?: OriginSpec[];
  /** Remove indexed documents that an origin covers but no longer lists. @default true */
  prune?: boolean;
  /** Drop the table and re-embed everything (after changing the embedding model). @default false */
  rebuild?: boolean;
  /** The collection of documents whose front matter names none and whose origin declares none. */
  collection?: string;
}

/** The request with its defaults applied, and the splitting settings in force. */
export interface SyncSettings {
  /** The origins' addresses. */
  origins: string[];
  /** The collection each origin that declares one gives its documents, by address; absent when none does. */
  originCollections?: Readonly<Record<string, string>>;
  prune: boolean;
  rebuild: boolean;
  collection: string | null;
  chunkSize: number;
  chunkOverlap: number;
  maxFileBytes: number;
  /** The limit for PDF and Word files; an older plan without it applies `maxFileBytes` to them too. */
  maxPdfWordBytes?: number;
  /** Public base addresses of origin prefixes (`INGEST_SOURCE_LINKS`). */
  sourceLinks?: Readonly<Record<string, string>>;
}

/**
 * Where a person can open a document of an origin that declared a public base address: the longest declared prefix
 * the source starts with, replaced by the base address, the rest of the path kept with each part URL-encoded.
 */
export function sourceLinkOf(
  source: string,
  links: Readonly<Record<string, string>> = {},
): string | undefined {
  const prefix = Object.keys(links)
    .filter((candidate) => source.startsWith(candidate))
    .sort((a, b) => b.length - a.length)[0];
  if (prefix === undefined) return undefined;
  const base = links[prefix] as string;
  const rest = source.slice(prefix.length).replace(/^\/+/, '');
  const path = rest.split('/').map(encodeURIComponent).join('/');
  return `${base.endsWith('/') || path === '' ? base : `${base}/`}${path}`;
}

/** The byte limit of one document: PDF and Word files have their own (`INGEST_MAX_PDF_WORD_BYTES`). */
export function maxBytesOf(
  source: string,
  settings: Pick<SyncSettings, 'maxFileBytes' | 'maxPdfWordBytes'>,
): number {
  return isPdfOrWordName(source)
    ? (settings.maxPdfWordBytes ?? settings.maxFileBytes)
    : settings.maxFileBytes;
}

/** A document that was not indexed, and why, as the report lists it. */
export interface FailedDocument {
  source: string;
  reason: string;
}

/** A file an origin holds and does not index (another type, a symbolic link), as the report lists it. */
export interface SkippedDocument {
  source: string;
  reason: string;
}

/** An origin that holds nothing to index, and the plain sentence saying so. */
export interface EmptyOrigin {
  origin: string;
  /** E.g. `no documents found in docs/: 3 files skipped (.pptx ×2, .png ×1)`. */
  message: string;
}

/**
 * A document's failure as Commit applies it: a document whose content cannot be indexed (empty, binary, not
 * UTF-8, too large, of an unsupported type) no longer has what its old chunks said, so they are removed; one
 * that could not be read, or whose batch failed, keeps its old chunks until a sync reads it.
 */
export interface FailedOutcome extends FailedDocument {
  status: 'failed';
  keepsOldChunks: boolean;
}

/** One document Plan found changed (or new), for a batch to load, split and embed. */
export interface SyncJob {
  source: string;
  version: string;
  change: 'added' | 'updated';
  /**
   * The collection the document gets unless its front matter names one: its origin's, else the sync's. An older
   * plan's job has none: the sync's applies.
   */
  collection?: string | null;
  /**
   * Set when the table's rows of this source are still right if its bytes hash to `contentHash`: only its
   * origin's change token moved (a `touch`, an identical upload), or its collection may have (see
   * {@link RefiledDocument}). The batch then embeds nothing.
   */
  reuse?: { contentHash: string; chunks: number; collection: string | null; splitHash?: string };
}

/** The plan, staged by Plan for the other steps. */
export interface StagedPlan {
  executionName: string;
  startedAt: number;
  settings: SyncSettings;
  fingerprint: string;
  /** The embedder the table is (to be) built with; `dimensions` is null only when nothing is to be embedded. */
  embedder: { embedderName: string; dimensions: number | null };
  listed: number;
  unchanged: number;
  jobs: number;
  batches: number;
  /** Indexed sources to remove: gone from an origin covering them (pruning), or everything else on a rebuild. */
  deletions: string[];
  /** Listed documents rejected before reading (over the size limit). */
  rejected: FailedDocument[];
  /** Indexed sources gone from an origin covering them, kept because pruning is off. */
  stale: string[];
  /** What the origins hold and do not index, never read (an indexed one is among the deletions). */
  skipped: SkippedSource[];
  /** The origins that hold nothing to index. */
  emptyOrigins: EmptyOrigin[];
  /**
   * Unchanged documents whose manifest entry Commit rewrites without reading them: those whose collection changed
   * (their rows are re-filed), and those whose entry predates the collection's tracking apart from the fingerprint.
   * Absent in an older plan.
   */
  refiles?: RefiledDocument[];
}

/**
 * An unchanged document's manifest entry as Commit writes it, and the collection its rows are in. When the two
 * differ, Commit moves the rows to the entry's collection in place (the `collection` column alone: nothing is
 * split or embedded again).
 */
export interface RefiledDocument extends Omit<ManifestEntry, 'syncedAt'> {
  previousCollection: string | null;
}

/** What a batch did with one document. */
export type DocumentOutcome =
  | {
      status: 'indexed';
      source: string;
      change: 'added' | 'updated';
      version: string;
      contentHash: string;
      collection: string | null;
      /** The collection its front matter names (null: none). Absent in an older batch's outcome. */
      ownCollection?: string | null;
      /** See `ManifestEntry.splitHash`. */
      splitHash?: string;
      chunks: number;
    }
  | {
      status: 'unchanged';
      source: string;
      version: string;
      contentHash: string;
      collection: string | null;
      ownCollection?: string | null;
      splitHash?: string;
      chunks: number;
    }
  | {
      /**
       * Its rows are still right but for their collection (and, when only its front matter's collection changed,
       * their content hash), which Commit changes in place.
       */
      status: 'refiled';
      source: string;
      version: string;
      contentHash: string;
      collection: string | null;
      previousCollection: string | null;
      ownCollection: string | null;
      splitHash?: string;
      /** Its bytes changed and its chunks did not: its rows take the new content hash too. */
      contentChanged?: boolean;
      chunks: number;
    }
  | FailedOutcome;

/** A row as staged: its vector as base64 of little-endian float32, a quarter the size of JSON numbers. */
export type StagedRow = Omit<DocumentRow, 'vector'> & { vector: string };

/**
 * A batch's staged result: the outcomes of the documents it finished (all of them, unless it stopped early to
 * stay within its time or memory) and their rows. A document run alone stages one of its own.
 */
export interface StagedBatch {
  batch: number;
  /** The document's index in the batch, when it ran alone. */
  document?: number;
  outcomes: DocumentOutcome[];
  rows: StagedRow[];
  /** What its embedding requests cost and waited (absent when it embedded nothing). */
  embedding?: EmbeddingStats;
}

/**
 * A batch, or a document run alone, that failed after its retries, staged by "Record the failed batch" (or
 * "Record the failed document"). `error` is the reason its documents without an outcome are reported with.
 */
export interface StagedBatchFailure {
  batch: number;
  document?: number;
  error: string;
}

/** Plan's result in the state. */
export type PlanResult =
  | {
      status: 'busy';
      /** The execution holding the lock. */
      heldBy: string;
      since: string;
      message: string;
    }
  | {
      status: 'planned';
      /** How many batches the sync has (numbered from 0). */
      batches: number;
      /** Where the batch numbers are, as a JSON array: the Distributed Map's ItemReader reads them. */
      items: { bucket: string; key: string };
      /** Where the Distributed Map's ResultWriter writes each child execution's outcome. */
      results: { bucket: string; prefix: string };
      /** Batches per child execution: the Distributed Map's ItemBatcher MaxItemsPerBatch. */
      batchesPerChild: number;
      /** Child executions at once: the Distributed Map's MaxConcurrency. */
      concurrency: number;
      listed: number;
      unchanged: number;
      changed: number;
      deleting: number;
      /** Unchanged documents whose rows move to another collection, without reading them. */
      refiling: number;
      rejected: number;
      /** Files the origins hold and do not index (another type, a symbolic link). */
      skipped: number;
    };

/**
 * What "Load, split and embed" returns for a batch (or for one document of it): counts for the trace, and the
 * documents it left, which the ASL then runs one per invocation. Commit reads what was staged.
 */
export interface BatchResult {
  batch: number;
  /** The document's index in the batch, when it ran alone. */
  document?: number;
  /** Documents given an outcome by this invocation. */
  documents: number;
  indexed: number;
  unchanged: number;
  failed: number;
  embeddedChunks: number;
  embeddingRequests: number;
  /** What its embedding requests cost and waited (absent when it embedded nothing). */
  embedding?: EmbeddingStats;
  /** The batch's documents (by index) this invocation did not finish, to run one per invocation. */
  left: number[];
  /** Why documents were left: the invocation's time or memory ran short. */
  stoppedFor?: 'time' | 'memory';
}

/** What "Record the failed batch" (or "Record the failed document") returns. */
export interface FailedBatchResult {
  batch: number;
  document?: number;
  /** The reason its documents without an outcome are reported with. */
  error: string;
  /** The batch's documents (by index) to run one per invocation; none for a document that ran alone. */
  left: number[];
}

/** One change to the table, for the report. */
export interface SourceChange {
  source: string;
  change: 'added' | 'updated' | 'deleted' | 'refiled';
  chunks: number;
  /** A re-filed document's collections, before and after. */
  collection?: { from: string | null; to: string | null };
}

/** The sync's counts: documents in the first six, rows in the last two. */
export interface SyncCounts {
  added: number;
  updated: number;
  unchanged: number;
  /** Documents moved to another collection in place: their rows' `collection` changed, nothing was embedded. */
  refiled: number;
  deleted: number;
  failed: number;
  /** Rows in the table after the sync. */
  chunks: number;
  /** Rows embedded by this sync. */
  embeddedChunks: number;
}

/** Commit's result in the state. */
export interface CommitResult extends SyncCounts {
  /** Whether the table was written (Optimize skips compaction otherwise). */
  written: boolean;
  stale: number;
}

/** Commit's details, staged for Report. */
export interface StagedCommit extends CommitResult {
  failedDocuments: FailedDocument[];
  /** The batches' embedding stats, summed (absent when nothing was embedded). */
  embedding?: EmbeddingStats;
  changes: SourceChange[];
  staleSources: string[];
}

/** Optimize's result in the state. */
export interface OptimizeResult {
  status: 'optimized' | 'skipped';
  rows: number;
  fullText: EnsureIndexesResult['fullText'];
  vector: EnsureIndexesResult['vector'];
  /** Whether LanceDB's optimize ran: compaction, the index update and the removal of old versions. */
  compacted: boolean;
  oldVersionsRemoved: number;
  /**
   * What happened to the rows the indexes did not cover: `updated`, folded in (optimize ran); `deferred`, left as
   * a tail searched by a flat scan, fewer than `INGEST_INDEX_TAIL_ROWS`; `unchanged`, nothing written, or a store
   * that indexes by itself.
   */
  indexes: 'updated' | 'deferred' | 'unchanged';
  /** Rows no index covers after the step (the most over the indexes); absent when not counted. */
  unindexedRows?: number;
  /**
   * The version this step folded into the indexes, when a warm Retrieve container may answer from it while it loads
   * the new indexes (the table's `beforeFold`, see table-version-store.ts): a fold of a tail of at most
   * `TAIL_IN_MEMORY_MAX_ROWS` rows, with no index built or trained. Absent otherwise.
   */
  foldedVersion?: number;
}

/** A step's error as a Catch records it. */
export interface StepError {
  Error?: string;
  Cause?: string;
}

/** The sync's report: the execution's output (with `failed` capped) and, whole, `reports/<execution>.json`. */
export interface SyncReport extends Omit<SyncCounts, 'failed'> {
  status: 'committed' | 'failed';
  executionName: string;
  origins: string[];
  startedAt: string;
  ms: number;
  failed: FailedDocument[];
  failedCount: number;
  /** Files the origins hold and do not index, with the reason (another type, a symbolic link). */
  skipped: SkippedDocument[];
  skippedCount: number;
  /** The skipped files counted by kind: `.pdf ×2, .png ×1`; empty when none was skipped. */
  skippedKinds: string;
  /** The origins that hold nothing to index, each with a sentence saying so. */
  emptyOrigins: EmptyOrigin[];
  /** Indexed documents gone from their origin and kept because pruning was off. */
  stale: number;
  /** How fast the batches embedded, and what the provider's rate limit cost them (absent when nothing was). */
  embedding?: EmbeddingThroughput;
  /** What changed, source by source (in the staged report only). */
  changes?: SourceChange[];
  /** The stale documents themselves (in the staged report only). */
  staleSources?: string[];
  optimize?: OptimizeResult | { error: string };
  error?: string;
}

/** Where one execution's objects live in the staging store. */
export const stagingKeys = {
  run: (executionName: string) => `runs/${executionName}/`,
  plan: (executionName: string) => `runs/${executionName}/plan.json`,
  /** The batch numbers, a JSON array the Distributed Map reads its items from. */
  items: (executionName: string) => `runs/${executionName}/items.json`,
  /** Where the Distributed Map's ResultWriter writes (a prefix, removed with the run). */
  mapResults: (executionName: string) => `runs/${executionName}/map-results`,
  jobs: (executionName: string, batch: number) => `runs/${executionName}/jobs/${pad(batch)}.json`,
  batch: (executionName: string, batch: number) => `runs/${executionName}/batches/${pad(batch)}.json`,
  batchFailure: (executionName: string, batch: number) =>
    `runs/${executionName}/batches/${pad(batch)}.failed.json`,
  /** One document of a batch, run alone. */
  document: (executionName: string, batch: number, document: number) =>
    `runs/${executionName}/batches/${pad(batch)}.d${pad(document)}.json`,
  documentFailure: (executionName: string, batch: number, document: number) =>
    `runs/${executionName}/batches/${pad(batch)}.d${pad(document)}.failed.json`,
  /** Everything staged for one batch, its documents run alone included. */
  batchPrefix: (executionName: string, batch: number) => `runs/${executionName}/batches/${pad(batch)}.`,
  /**
   * A batch's claim on the sync's allowance of documents run alone (see `batch-staging.ts`): this prefix and
   * the number of documents claimed.
   */
  aloneClaim: (executionName: string, batch: number) => `runs/${executionName}/alone/${pad(batch)}.`,
  aloneClaims: (executionName: string) => `runs/${executionName}/alone/`,
  commit: (executionName: string) => `runs/${executionName}/commit.json`,
  /**
   * What a Commit in parts had done when it stopped before `batch` (commit-sync.ts): one per part, so a retried
   * part reads the progress it started from, not the one it staged itself.
   */
  commitProgress: (executionName: string, batch: number) =>
    `runs/${executionName}/commit-progress/${pad(batch)}.json`,
  report: (executionName: string) => `reports/${executionName}.json`,
};

function pad(batch: number): string {
  return String(batch).padStart(5, '0');
}

/** Bumped when splitting changes in a way that should re-index every document. */
const SPLITTER_VERSION = 1;

type FingerprintSettings = Pick<SyncSettings, 'chunkSize' | 'chunkOverlap' | 'sourceLinks'>;

/**
 * What, besides a document's bytes, decides its chunks: a document indexed with other settings is re-indexed
 * even though its bytes did not change. Its collection is not among them: a document whose collection changes is
 * re-filed in place (see {@link RefiledDocument}), and the manifest tracks the collection apart.
 */
export function syncFingerprint(settings: FingerprintSettings): string {
  return fingerprintWith(settings, null);
}

/**
 * True when a manifest entry's fingerprint says its chunks were made with these settings. An entry written before
 * the collection was tracked apart has a fingerprint that mixed in the sync's collection of its day (null when the
 * sync named none, which is what {@link syncFingerprint} mixes in now): it still matches when made with the same
 * splitting settings and any of `collections` (the entry's own collection, the sync's), so upgrading re-embeds
 * nothing.
 */
export function fingerprintMatches(
  fingerprint: string,
  settings: FingerprintSettings,
  collections: readonly (string | null)[],
): boolean {
  return (
    fingerprint === syncFingerprint(settings) ||
    collections.some(
      (collection) => collection !== null && fingerprint === fingerprintWith(settings, collection),
    )
  );
}

function fingerprintWith(settings: FingerprintSettings, collection: string | null): string {
  // The collection's place is kept (always null now) so that fingerprints from before stay what they were.
  const fields: unknown[] = [SPLITTER_VERSION, settings.chunkSize, settings.chunkOverlap, collection];
  // The links chunks carry: declaring one re-splits the documents it covers once (left out when none is declared,
  // so that fingerprints from before the setting existed still match).
  if (settings.sourceLinks !== undefined && Object.keys(settings.sourceLinks).length > 0) {
    fields.push(Object.entries(settings.sourceLinks).sort());
  }
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
}

/**
 * The collection a document's own front matter names, as far as its manifest entry tells: the entry's record of it,
 * else none for a format without front matter (PDF, Word, HTML, text), else undefined (an entry from before it was
 * recorded, of a Markdown document or a web page).
 */
export function ownCollectionOf(
  entry: Pick<ManifestEntry, 'source' | 'ownCollection'>,
): string | null | undefined {
  if (entry.ownCollection !== undefined) return entry.ownCollection;
  const extension = extensionOf(entry.source);
  const local = !/^https?:\/\//i.test(entry.source);
  return local && ['.pdf', '.docx', '.html', '.htm', '.txt'].includes(extension) ? null : undefined;
}

/** A failure's reason without the source name that load and read messages start with. */
export function reasonWithoutSource(source: string, message: string): string {
  return message.startsWith(`${source}: `) ? message.slice(source.length + 2) : message;
}

/** The message of a Catch's error: the Lambda error's `errorMessage` when its Cause is Lambda's JSON. */
export function describeStepError(error: StepError | undefined, maxChars = 500): string {
  const cause = error?.Cause ?? '';
  let message = cause;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // The local executor's Cause is the message itself.
  }
  const text = message.trim() === '' ? (error?.Error ?? 'unknown error') : message.trim();
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/** A Task's error name, and the `errorType` of a Lambda error's Cause. */
function errorNamesOf(error: StepError | undefined): string[] {
  const names = [error?.Error ?? ''];
  try {
    const parsed = JSON.parse(error?.Cause ?? '') as { errorType?: unknown };
    if (typeof parsed?.errorType === 'string') names.push(parsed.errorType);
  } catch {
    // The local executor's Cause is the message itself.
  }
  return names;
}

/**
 * Why a batch, or a document run alone, was not embedded, from the error its Catch recorded: a time-out
 * (`States.Timeout` when the state's TimeoutSeconds passed, `Sandbox.Timedout` or "Task timed out after…" when
 * the Lambda's did), running out of memory (`Runtime.OutOfMemory`, or the runtime killed), or the error itself.
 */
export function describeBatchFailure(error: StepError | undefined): string {
  const names = errorNamesOf(error);
  const message = describeStepError(error);
  const lambdaTimeout = /Task timed out after [\d.]+ seconds/.exec(message)?.[0];
  if (lambdaTimeout !== undefined || names.some((n) => n === 'States.Timeout' || n === 'Sandbox.Timedout')) {
    const detail = lambdaTimeout ?? names.find((n) => n.includes('Time')) ?? 'timed out';
    return `timed out (${detail}): loading, splitting and embedding it took longer than a Batch invocation may run`;
  }
  if (names.includes('Runtime.OutOfMemory') || /out of memory|signal: killed/i.test(message)) {
    const detail = names.includes('Runtime.OutOfMemory')
      ? 'Runtime.OutOfMemory'
      : (/Runtime exited with error: signal: killed|[^.:]*out of memory/i.exec(message)?.[0].trim() ??
        message);
    return `ran out of memory (${detail}): loading, splitting and embedding it needed more than the Batch function's memory`;
  }
  return message;
}

/**
 * True for an error that says nothing about the batch's documents: an outage that outlasted the retries (the
 * embedder, the origin, Lambda itself), or an embedder refusing every request (a bad key, an unknown model).
 * Running each document alone would fail the same way, at the batch size's cost.
 */
export function isOutage(error: StepError | undefined): boolean {
  return errorNamesOf(error).some((name) => OUTAGES.has(name));
}

/**
 * The errors of an outage: the project's own, and the Lambda service's that the ASL retries. `Lambda.Unknown`
 * is not one: it is how Step Functions reports a function that crashed (out of memory, among others).
 */
const OUTAGES = new Set([
  'TransientError',
  'EmbedderRefusedError',
  'ConfigError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
]);

/** Rows as staged: vectors packed as base64 float32. */
export function toStagedRow(row: DocumentRow): StagedRow {
  return { ...row, vector: Buffer.from(new Float32Array(row.vector).buffer).toString('base64') };
}

/** A staged row back as a table row. */
export function fromStagedRow(row: StagedRow) {
  const bytes = Buffer.from(row.vector, 'base64');
  // Copied out of the Buffer pool, whose offsets need not be 4-byte aligned.
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { ...row, vector: Array.from(floats) };
}
