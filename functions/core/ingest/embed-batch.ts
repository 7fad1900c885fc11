import { isTransient, PermanentError } from '../errors';
import type { ChunkToEmbed } from '../vector-store/embed-chunks';
import { BatchBudget, type InvocationBudget } from './batch-budget';
import { claimRunsAlone, readPlan } from './batch-staging';
import {
  SourceChangedError,
  type SourceContent,
  SourceGoneError,
  SourceTooLargeError,
  SYMLINK_REASON,
} from './document-origins';
import { type EmbeddingStats, isQuotaExhausted } from './embedding-rate-limit';
import { embedInRequests } from './embedding-requests';
import type { IngestServices } from './ingest-services';
import { loadDocument } from './load-document';
import { splitDocument, splitHashOf } from './split-document';
import type { StagingStore } from './staging-store';
import { getJson, putJson } from './staging-store';
import {
  type BatchResult,
  type DocumentOutcome,
  type FailedOutcome,
  maxBytesOf,
  reasonWithoutSource,
  type StagedBatch,
  type StagedPlan,
  type SyncJob,
  sourceLinkOf,
  stagingKeys,
  toStagedRow,
} from './sync-types';

/** Documents read from an origin at once: enough to hide S3's latency, few enough to stay polite. */
const READ_CONCURRENCY = 8;

/**
 * The embedder refuses every request (HTTP 401, 403 or 404: a bad key, a missing permission, an unknown model),
 * whatever the documents: no document of the batch is run alone for it.
 */
export class EmbedderRefusedError extends PermanentError {
  override name = 'EmbedderRefusedError';
}

/** The documents of one batch, as Plan staged them. */
async function readJobs(staging: StagingStore, executionName: string, batch: number): Promise<SyncJob[]> {
  const jobs = await getJson<SyncJob[]>(staging, stagingKeys.jobs(executionName, batch));
  if (jobs === undefined) throw new PermanentError(`batch ${batch} of ${executionName} has no staged jobs`);
  return jobs;
}

type Loaded = { index: number; job: SyncJob } & (
  | { outcome: DocumentOutcome }
  | {
      chunks: ChunkToEmbed[];
      contentHash: string;
      collection: string | null;
      ownCollection: string | null;
      splitHash: string;
    }
);

export interface EmbedBatchOptions {
  /** The one document of the batch (its index) to load, split and embed, alone in its invocation. */
  document?: number;
  /** The invocation's time and memory. @default unlimited */
  budget?: InvocationBudget;
}

/**
 * Load, split and embed one batch: reads each document of the batch from its origin, loads and splits it,
 * embeds the chunks within the provider's limits, and stages the rows and each document's outcome for Commit.
 * A document that cannot be read or loaded becomes a failed outcome, never an error; only what a retry may fix
 * (a throttled origin, a rate-limited or unreachable embedder) fails the batch.
 *
 * When the invocation's time or memory runs short (see {@link BatchBudget}), it stops taking documents, stages
 * those it finished and returns the others under `left`, for the ASL to run one per invocation. Given
 * `document`, it runs that one document of the batch alone, with no budget check: it has the whole invocation.
 */
export async function embedBatch(
  services: Pick<IngestServices, 'staging' | 'origins' | 'embeddings'>,
  executionName: string,
  batch: number,
  now: number,
  options: EmbedBatchOptions = {},
): Promise<BatchResult> {
  const staging = services.staging();
  const plan = await readPlan(services, executionName);
  const jobs = await readJobs(staging, executionName, batch);
  const { document } = options;
  if (document !== undefined && jobs[document] === undefined) {
    throw new PermanentError(`batch ${batch} of ${executionName} has no document ${document}`);
  }
  const indexes = document !== undefined ? [document] : jobs.map((_, index) => index);
  const budget = new BatchBudget(
    options.budget ?? { remainingMs: () => Number.POSITIVE_INFINITY, memoryUsedBytes: () => 0 },
  );
  const alone = document !== undefined;

  let stoppedFor: BatchResult['stoppedFor'];
  const loaded: Loaded[] = [];
  let next = 0;
  while (next < indexes.length) {
    if (next > 0 && !alone) {
      stoppedFor = budget.stopLoading();
      if (stoppedFor !== undefined) break;
    }
    const slice = indexes.slice(next, next + READ_CONCURRENCY);
    loaded.push(...(await Promise.all(slice.map((index) => loadJob(services, index, jobs, plan)))));
    next += slice.length;
  }
  const left = indexes.slice(next);
  assertTimeLeft(budget, batch);

  const toEmbed = loaded.flatMap((l) => ('chunks' in l ? l.chunks : []));
  let embeddedRows: Awaited<ReturnType<typeof embedInRequests>>['rows'] = [];
  let requests = 0;
  let embedding: EmbeddingStats | undefined;
  if (toEmbed.length > 0) {
    const dimensions = plan.embedder.dimensions;
    if (dimensions === null) throw new PermanentError('the sync plan has no embedding dimension');
    const embeddings = await services.embeddings();
    const embedded = await embedInRequests(embeddings, toEmbed, {
      dimensions,
      updatedAt: now,
      maxWaitMs: () => budget.maxWaitMs(),
      ...(alone ? {} : { mayContinue: (waitedMs: number) => budget.mayEmbedMore(waitedMs) }),
    }).catch((error: unknown) => {
      throw refusal(error) ?? error;
    });
    embeddedRows = embedded.rows;
    requests = embedded.requests;
    embedding = embedded.stats;
    if (embeddedRows.length < toEmbed.length) stoppedFor = 'time';
  }

  // A document is finished when every one of its chunks was embedded; the others are left.
  const outcomes: DocumentOutcome[] = [];
  const rows: StagedBatch['rows'] = [];
  let offset = 0;
  for (const l of loaded) {
    if ('outcome' in l) {
      outcomes.push(l.outcome);
      continue;
    }
    const end = offset + l.chunks.length;
    if (end <= embeddedRows.length) {
      rows.push(...embeddedRows.slice(offset, end).map(toStagedRow));
      outcomes.push({
        status: 'indexed',
        source: l.job.source,
        change: l.job.change,
        version: l.job.version,
        contentHash: l.contentHash,
        collection: l.collection,
        ownCollection: l.ownCollection,
        splitHash: l.splitHash,
        chunks: l.chunks.length,
      });
    } else {
      left.push(l.index);
    }
    offset = end;
  }
  left.sort((a, b) => a - b);

  let runAlone = left;
  if (left.length > 0) {
    runAlone = await claimRunsAlone(staging, executionName, batch, left);
    const reason =
      `its batch stopped early to stay within its ${stoppedFor ?? 'time'}, and too many documents of this ` +
      'sync already ran alone; the next sync embeds it';
    for (const index of left.slice(runAlone.length)) {
      outcomes.push(keptFailure(jobs[index]?.source ?? '', `not embedded: ${reason}`));
    }
  }

  assertTimeLeft(budget, batch);
  const staged: StagedBatch = {
    batch,
    ...(alone ? { document } : {}),
    outcomes,
    rows,
    ...(embedding !== undefined ? { embedding } : {}),
  };
  const key = alone
    ? stagingKeys.document(executionName, batch, document)
    : stagingKeys.batch(executionName, batch);
  await putJson(staging, key, staged);
  return {
    batch,
    ...(alone ? { document } : {}),
    documents: outcomes.length,
    indexed: outcomes.filter((o) => o.status === 'indexed').length,
    unchanged: outcomes.filter((o) => o.status === 'unchanged' || o.status === 'refiled').length,
    failed: outcomes.filter((o) => o.status === 'failed').length,
    embeddedChunks: rows.length,
    embeddingRequests: requests,
    ...(embedding !== undefined ? { embedding } : {}),
    left: runAlone,
    ...(stoppedFor !== undefined && left.length > 0 ? { stoppedFor } : {}),
  };
}

/**
 * Refuses to go on once the invocation's time is up. In Lambda the invocation is stopped first; locally a
 * timed-out handler runs on, and must neither spend more nor stage a late result that would look like one.
 */
function assertTimeLeft(budget: BatchBudget, batch: number): void {
  if (budget.expired()) throw new PermanentError(`batch ${batch} ran out of time`);
}

/** The embedder's answer to every request, whatever the documents (see {@link EmbedderRefusedError}). */
function refusal(error: unknown): EmbedderRefusedError | undefined {
  const record = (error ?? {}) as { status?: unknown; response?: { status?: unknown }; cause?: unknown };
  const status = record.status ?? record.response?.status ?? (record.cause as { status?: unknown })?.status;
  if (isQuotaExhausted(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new EmbedderRefusedError(
      `the embedder's quota is exhausted (HTTP 429 insufficient_quota): ${message}`,
      {
        cause: error,
      },
    );
  }
  if (status !== 401 && status !== 403 && status !== 404) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  return new EmbedderRefusedError(`the embedder refused the request (HTTP ${status}): ${message}`, {
    cause: error,
  });
}

function keptFailure(source: string, reason: string): FailedOutcome {
  return { status: 'failed', source, reason, keepsOldChunks: true };
}

async function loadJob(
  services: Pick<IngestServices, 'origins'>,
  index: number,
  jobs: readonly SyncJob[],
  plan: StagedPlan,
): Promise<Loaded> {
  const job = jobs[index] as SyncJob;
  const { settings } = plan;
  let content: SourceContent;
  try {
    content = await services
      .origins()
      .read(job.source, { version: job.version, maxBytes: maxBytesOf(job.source, settings) });
  } catch (error) {
    if (isTransient(error)) throw error;
    const reason = readFailure(job.source, error);
    // Too large now means its content can no longer be indexed: its old chunks go, as for any such document.
    const outcome: FailedOutcome =
      error instanceof SourceTooLargeError
        ? { status: 'failed', source: job.source, reason, keepsOldChunks: false }
        : keptFailure(job.source, reason);
    return { index, job, outcome };
  }
  const link = content.url ?? sourceLinkOf(job.source, settings.sourceLinks);
  const result = await loadDocument(content.bytes, job.source, {
    maxBytes: maxBytesOf(job.source, settings),
    ...(content.contentType !== undefined ? { contentType: content.contentType } : {}),
    ...(link !== undefined ? { url: link } : {}),
  });
  if (!result.ok) {
    return {
      index,
      job,
      outcome: {
        status: 'failed',
        source: job.source,
        reason: reasonWithoutSource(job.source, result.message),
        keepsOldChunks: false,
      },
    };
  }
  const document = result.document;
  // Front matter first, then the origin's collection, then the sync's (an older plan's job carries neither).
  const ownCollection = document.collection ?? null;
  const collection = ownCollection ?? (job.collection !== undefined ? job.collection : settings.collection);
  if (job.reuse !== undefined && job.reuse.contentHash === document.contentHash) {
    const { reuse } = job;
    const same = {
      source: job.source,
      version: job.version,
      contentHash: document.contentHash,
      ...(reuse.splitHash !== undefined ? { splitHash: reuse.splitHash } : {}),
    };
    return {
      index,
      job,
      outcome:
        collection === reuse.collection
          ? { status: 'unchanged', ...same, collection, ownCollection, chunks: reuse.chunks }
          : {
              status: 'refiled',
              ...same,
              collection,
              previousCollection: reuse.collection,
              ownCollection,
              chunks: reuse.chunks,
            },
    };
  }
  const chunks = await splitDocument(
    { ...document, ...(collection !== null ? { collection } : {}) },
    { chunkSize: settings.chunkSize, chunkOverlap: settings.chunkOverlap },
  );
  if (chunks.length === 0) {
    // Headings with nothing under them (a generated API.md stub, say): reported like an empty file rather than
    // "indexed" with no chunk, which nothing would ever find and which the manifest could not tell from new.
    return {
      index,
      job,
      outcome: {
        status: 'failed',
        source: job.source,
        reason: 'the file has no text to index, only headings',
        keepsOldChunks: false,
      },
    };
  }
  const splitHash = splitHashOf(chunks);
  if (job.reuse !== undefined && job.reuse.splitHash === splitHash) {
    // Its bytes changed and its chunks did not (only its front matter's collection did, say): the rows stay, their
    // collection and content hash are updated in place.
    return {
      index,
      job,
      outcome: {
        status: 'refiled',
        source: job.source,
        version: job.version,
        contentHash: document.contentHash,
        collection,
        previousCollection: job.reuse.collection,
        ownCollection,
        splitHash,
        contentChanged: true,
        chunks: chunks.length,
      },
    };
  }
  return { index, job, chunks, contentHash: document.contentHash, collection, ownCollection, splitHash };
}

function readFailure(source: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'the file cannot be read (permission denied)';
  if (code === 'EISDIR') return 'this is a folder, not a file';
  if (code === 'ELOOP') return `it became a symbolic link after it was listed: ${SYMLINK_REASON}`;
  if (code === 'ENOTFILE') return 'it is no longer a regular file';
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof SourceGoneError ||
    error instanceof SourceChangedError ||
    error instanceof SourceTooLargeError
  ) {
    return reasonWithoutSource(source, message);
  }
  return `cannot be read: ${reasonWithoutSource(source, message)}`;
}
