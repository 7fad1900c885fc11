import { isTransient, PermanentError } from '../errors';
import type { ChunkToEmbed } from '../vector-store/embed-chunks';
import { SourceGoneError } from './document-origins';
import { embedInRequests } from './embedding-requests';
import type { IngestServices } from './ingest-services';
import { loadDocument } from './load-document';
import { splitDocument } from './split-document';
import { getJson, putJson } from './staging-store';
import {
  type BatchResult,
  type DocumentOutcome,
  describeStepError,
  reasonWithoutSource,
  type StagedBatch,
  type StagedBatchFailure,
  type StagedPlan,
  type StepError,
  type SyncJob,
  stagingKeys,
  toStagedRow,
} from './sync-types';

/** Documents read from an origin at once: enough to hide S3's latency, few enough to stay polite. */
const READ_CONCURRENCY = 8;

/** The staged plan of a sync, or a permanent error when there is none (the input did not come from Plan). */
export async function readPlan(
  services: Pick<IngestServices, 'staging'>,
  executionName: string,
): Promise<StagedPlan> {
  const plan = await getJson<StagedPlan>(services.staging(), stagingKeys.plan(executionName));
  if (plan === undefined) throw new PermanentError(`no sync plan is staged for ${executionName}`);
  return plan;
}

type Loaded =
  | { job: SyncJob; outcome: DocumentOutcome }
  | { job: SyncJob; chunks: ChunkToEmbed[]; contentHash: string; collection: string | null };

/**
 * Load, split and embed one batch: reads each document of the batch from its origin, loads and splits it,
 * embeds all the batch's chunks within the provider's limits, and stages the rows and each document's outcome
 * for Commit. A document that cannot be read or loaded becomes a failed outcome, never an error; only what a
 * retry may fix (a throttled origin, a rate-limited or unreachable embedder) fails the batch.
 */
export async function embedBatch(
  services: Pick<IngestServices, 'staging' | 'origins' | 'embeddings'>,
  executionName: string,
  batch: number,
  now: number,
): Promise<BatchResult> {
  const plan = await readPlan(services, executionName);
  const jobs = await getJson<SyncJob[]>(services.staging(), stagingKeys.jobs(executionName, batch));
  if (jobs === undefined) throw new PermanentError(`batch ${batch} of ${executionName} has no staged jobs`);
  const loaded: Loaded[] = [];
  for (let start = 0; start < jobs.length; start += READ_CONCURRENCY) {
    const slice = jobs.slice(start, start + READ_CONCURRENCY);
    loaded.push(...(await Promise.all(slice.map((job) => loadJob(services, job, plan)))));
  }

  const toEmbed = loaded.flatMap((l) => ('chunks' in l ? l.chunks : []));
  let rows: StagedBatch['rows'] = [];
  let requests = 0;
  if (toEmbed.length > 0) {
    const dimensions = plan.embedder.dimensions;
    if (dimensions === null) throw new PermanentError('the sync plan has no embedding dimension');
    const embedded = await embedInRequests(await services.embeddings(), toEmbed, {
      dimensions,
      updatedAt: now,
    });
    rows = embedded.rows.map(toStagedRow);
    requests = embedded.requests;
  }

  const outcomes: DocumentOutcome[] = loaded.map((l) =>
    'outcome' in l
      ? l.outcome
      : {
          status: 'indexed',
          source: l.job.source,
          change: l.job.change,
          version: l.job.version,
          contentHash: l.contentHash,
          collection: l.collection,
          chunks: l.chunks.length,
        },
  );
  const staged: StagedBatch = { batch, outcomes, rows };
  await putJson(services.staging(), stagingKeys.batch(executionName, batch), staged);
  return {
    batch,
    documents: jobs.length,
    indexed: outcomes.filter((o) => o.status === 'indexed').length,
    unchanged: outcomes.filter((o) => o.status === 'unchanged').length,
    failed: outcomes.filter((o) => o.status === 'failed').length,
    embeddedChunks: rows.length,
    embeddingRequests: requests,
  };
}

async function loadJob(
  services: Pick<IngestServices, 'origins'>,
  job: SyncJob,
  plan: StagedPlan,
): Promise<Loaded> {
  const { settings } = plan;
  let bytes: Uint8Array;
  try {
    bytes = await services.origins().read(job.source);
  } catch (error) {
    if (isTransient(error)) throw error;
    return {
      job,
      outcome: {
        status: 'failed',
        source: job.source,
        reason: readFailure(job.source, error),
        keepsOldChunks: true,
      },
    };
  }
  const result = loadDocument(bytes, job.source, { maxBytes: settings.maxFileBytes });
  if (!result.ok) {
    return {
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
  const collection = document.collection ?? settings.collection;
  if (job.reuse !== undefined && job.reuse.contentHash === document.contentHash) {
    return {
      job,
      outcome: {
        status: 'unchanged',
        source: job.source,
        version: job.version,
        contentHash: document.contentHash,
        collection: job.reuse.collection,
        chunks: job.reuse.chunks,
      },
    };
  }
  const chunks = await splitDocument(
    { ...document, ...(collection !== null ? { collection } : {}) },
    { chunkSize: settings.chunkSize, chunkOverlap: settings.chunkOverlap },
  );
  return { job, chunks, contentHash: document.contentHash, collection };
}

function readFailure(source: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'the file cannot be read (permission denied)';
  if (code === 'EISDIR') return 'this is a folder, not a file';
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof SourceGoneError) return reasonWithoutSource(source, message);
  return `cannot be read: ${reasonWithoutSource(source, message)}`;
}

/**
 * Record the failed batch: stages the error of a batch that failed after its retries, so Commit reports its
 * documents as failed (keeping their old chunks) and commits the other batches.
 */
export async function recordFailedBatch(
  services: Pick<IngestServices, 'staging'>,
  executionName: string,
  batch: number,
  error: StepError | undefined,
): Promise<{ batch: number; error: string }> {
  const failure: StagedBatchFailure = { batch, error: describeStepError(error) };
  await putJson(services.staging(), stagingKeys.batchFailure(executionName, batch), failure);
  return failure;
}
