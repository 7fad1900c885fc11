import type { IngestConfig } from '../config';
import { PermanentError } from '../errors';
import { embeddingDimensionsOf, embeddingNameOf } from '../llm/providers';
import { listSourceHashes, openDocumentTable } from '../vector-store/document-table';
import {
  type ListedSource,
  nothingIndexableMessage,
  type OriginListing,
  type SkippedSource,
} from './document-origins';
import type { IngestServices } from './ingest-services';
import {
  COLLECTION_NAME_RULE,
  collectionNameProblem,
  collectionOfListing,
  readOriginSpecs,
} from './origin-spec';
import { putJson } from './staging-store';
import {
  type FailedDocument,
  fingerprintMatches,
  maxBytesOf,
  ownCollectionOf,
  type PlanResult,
  type RefiledDocument,
  type StagedPlan,
  type SyncJob,
  type SyncSettings,
  stagingKeys,
  syncFingerprint,
} from './sync-types';
import { sourcesOfAnyTable, storedEmbedder } from './table-signature';

/**
 * Most batches one child execution of the Distributed Map embeds, one after another. Each batch adds about eight
 * events to the child's history (capped at 25,000, like any Standard execution's), and documents run alone up to
 * `MAX_DOCUMENTS_ALONE` of the sync about ten each: 20 batches leave that room. A sync of any size keeps its
 * batches at `INGEST_BATCH_DOCUMENTS` documents and gets more children instead.
 */
export const MAX_BATCHES_PER_CHILD = 20;

/**
 * How many batches each child execution gets: enough children to keep `concurrency` of them busy, none with more
 * than {@link MAX_BATCHES_PER_CHILD}.
 */
export function batchesPerChild(batches: number, concurrency: number): number {
  return Math.min(MAX_BATCHES_PER_CHILD, Math.max(1, Math.ceil(batches / Math.max(1, concurrency))));
}

export interface PlanSyncOptions {
  executionName: string;
  now: number;
  /** The LanceDB table name. */
  table: string;
  ingest: IngestConfig;
}

/**
 * The execution input with its defaults applied: `INGEST_ORIGINS` when it names no origin, pruning on unless
 * it says otherwise (the scheduled sync sends `{}`; the CLI always says).
 *
 * @throws {PermanentError} when the input is malformed or there is nothing to sync.
 */
export function resolveSyncSettings(input: unknown, ingest: IngestConfig): SyncSettings {
  const request = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const given = request.origins ?? [...ingest.origins];
  if (!Array.isArray(given)) {
    throw new PermanentError(
      'the sync input "origins" must be a list of paths, globs, s3:// URIs or web sites, each alone or as {"uri": "...", "collection": "..."}',
    );
  }
  const origins = readOriginSpecs(given);
  if ('problem' in origins) throw new PermanentError(`the sync input "origins": ${origins.problem}`);
  if (origins.length === 0) {
    throw new PermanentError(
      'nothing to sync: name one or more origins (a folder, a glob, s3://bucket/prefix, https://site/path/), or set INGEST_ORIGINS',
    );
  }
  for (const flag of ['prune', 'rebuild'] as const) {
    if (request[flag] !== undefined && typeof request[flag] !== 'boolean') {
      throw new PermanentError(`the sync input "${flag}" must be true or false`);
    }
  }
  const collection = typeof request.collection === 'string' ? request.collection.trim() : request.collection;
  if (collection !== undefined && collection !== null && collectionNameProblem(collection) !== undefined) {
    throw new PermanentError(
      `the sync input "collection" must be a collection name (${COLLECTION_NAME_RULE}); got ${JSON.stringify(request.collection)}`,
    );
  }
  const originCollections = Object.fromEntries(
    origins.flatMap((o) => (o.collection === undefined ? [] : [[o.uri, o.collection]])),
  );
  return {
    origins: origins.map((o) => o.uri),
    ...(Object.keys(originCollections).length > 0 ? { originCollections } : {}),
    prune: (request.prune as boolean | undefined) ?? true,
    rebuild: (request.rebuild as boolean | undefined) ?? false,
    collection: typeof collection === 'string' ? collection : null,
    chunkSize: ingest.chunkSize,
    chunkOverlap: ingest.chunkOverlap,
    maxFileBytes: ingest.maxFileBytes,
    maxPdfWordBytes: ingest.maxPdfWordBytes,
    ...(Object.keys(ingest.sourceLinks).length > 0 ? { sourceLinks: ingest.sourceLinks } : {}),
  };
}

/**
 * Plan sync: takes the sync lock (or reports the sync that holds it), lists the origins, diffs them with the
 * manifest and the table, and stages the jobs in batches for the Map. Nothing is read beyond the listing (local
 * files are hashed while listed), nothing is embedded, nothing is written to the table.
 *
 * A listed document is unchanged when its manifest entry has the same origin version and settings and the table
 * holds its rows with the entry's content hash; anything else is re-read. An unchanged document whose collection
 * changed (its origin's declaration, the sync's collection) is re-filed by Commit without being read, unless its
 * entry cannot say whether its front matter names one (an entry from before that was recorded): then its batch
 * reads it, and embeds nothing. An indexed document no origin lists
 * any more is deleted when an origin of this sync covers it and pruning is on (and always on a rebuild).
 *
 * @throws {EmbeddingMismatchError} when the table was built by another embedder (and this is no rebuild), before
 *   anything is embedded.
 */
export async function planSync(
  services: Pick<IngestServices, 'lock' | 'manifest' | 'staging' | 'origins' | 'connection' | 'embeddings'>,
  input: unknown,
  options: PlanSyncOptions,
): Promise<PlanResult> {
  const settings = resolveSyncSettings(input, options.ingest);
  const { executionName, now } = options;
  const claim = await services.lock().acquire(executionName, now, options.ingest.lockTtlSeconds);
  if (!claim.acquired) {
    const since = new Date(claim.acquiredAt).toISOString();
    return {
      status: 'busy',
      heldBy: claim.owner,
      since,
      message: `another sync (${claim.owner}, started ${since}) is running; this one wrote nothing`,
    };
  }
  const staging = services.staging();
  // A retried Plan starts from a clean slate.
  await staging.deletePrefix(stagingKeys.run(executionName));

  const embeddings = await services.embeddings();
  const connection = await services.connection();
  const embedderName = embeddingNameOf(embeddings);
  let dimensions = embeddingDimensionsOf(embeddings) ?? null;
  const stored = await storedEmbedder(connection, options.table);

  let indexed = new Map<string, string>();
  if (settings.rebuild) {
    for (const source of await sourcesOfAnyTable(connection, options.table)) indexed.set(source, '');
  } else if (stored !== undefined) {
    if (dimensions === null) {
      // Only a table built by another embedder makes this call: to name both dimensions in the error.
      dimensions =
        stored.embedderName === embedderName
          ? stored.dimensions
          : (await embeddings.embedQuery('dimension probe')).length;
    }
    const handle = await openDocumentTable(connection, {
      table: options.table,
      embeddings,
      embedderName,
      dimensions,
    });
    try {
      if (handle !== undefined) indexed = await listSourceHashes(handle);
    } finally {
      handle?.close();
    }
  }
  const manifest = await services.manifest().load();

  // Only versions of rows still in the table: a web page is then not downloaded when it answers 304.
  const previousVersions = new Map(
    [...manifest.values()]
      .filter((entry) => indexed.get(entry.source) === entry.contentHash)
      .map((entry) => [entry.source, entry.version]),
  );
  const listings: OriginListing[] = [];
  for (const origin of settings.origins) {
    listings.push(
      await services.origins().list(origin, {
        // A folder or bucket may hold PDF and Word files up to their own limit; a web site's pages are HTML.
        maxBytes: /^https?:\/\//i.test(origin)
          ? settings.maxFileBytes
          : Math.max(settings.maxFileBytes, settings.maxPdfWordBytes ?? 0),
        previousVersions,
      }),
    );
  }
  const listed = new Map<string, ListedSource>();
  // The origins that list each document, for the collection they declare.
  const listedBy = new Map<string, string[]>();
  for (const listing of listings) {
    for (const entry of listing.sources) {
      if (!listed.has(entry.source)) listed.set(entry.source, entry);
      listedBy.set(entry.source, [...(listedBy.get(entry.source) ?? []), listing.origin]);
    }
  }
  /** The collection a document gets unless its front matter names one: its origins', else the sync's. */
  const defaultCollectionOf = (source: string): string | null =>
    collectionOfListing(listedBy.get(source) ?? [], settings.originCollections ?? {}) ?? settings.collection;
  const skipped = new Map<string, SkippedSource>();
  for (const listing of listings) {
    for (const entry of listing.skipped) {
      if (!listed.has(entry.source) && !skipped.has(entry.source)) skipped.set(entry.source, entry);
    }
  }
  const emptyOrigins = listings
    .filter((listing) => listing.sources.length === 0)
    .map((listing) => ({ origin: listing.origin, message: nothingIndexableMessage(listing) }));

  const fingerprint = syncFingerprint(settings);
  const jobs: SyncJob[] = [];
  const rejected: FailedDocument[] = [];
  const refiles: RefiledDocument[] = [];
  let unchanged = 0;
  for (const entry of [...listed.values()].sort((a, b) => a.source.localeCompare(b.source))) {
    const maxBytes = maxBytesOf(entry.source, settings);
    if (entry.size > maxBytes) {
      rejected.push({
        source: entry.source,
        reason: `the file is ${entry.size} bytes, over the ${maxBytes}-byte limit`,
      });
      continue;
    }
    const known = manifest.get(entry.source);
    const tableHash = indexed.get(entry.source);
    const defaultCollection = defaultCollectionOf(entry.source);
    const rowsAreCurrent =
      !settings.rebuild &&
      known !== undefined &&
      tableHash === known.contentHash &&
      fingerprintMatches(known.fingerprint, settings, [known.collection, settings.collection]);
    if (rowsAreCurrent && known.version === entry.version) {
      const own = ownCollectionOf(known);
      // Unknown front matter (an entry from before it was recorded): its rows' collection is still right when it
      // is the one the document would get without front matter, or it came from the front matter, which did not
      // change. Otherwise only reading the document tells: a job, whose batch embeds nothing (`reuse`).
      const collection = own === undefined ? known.collection : (own ?? defaultCollection);
      if (own !== undefined || known.collection === defaultCollection) {
        if (
          collection !== known.collection ||
          known.fingerprint !== fingerprint ||
          own !== known.ownCollection
        ) {
          refiles.push({
            ...known,
            fingerprint,
            collection,
            ...(own !== undefined ? { ownCollection: own } : {}),
            previousCollection: known.collection,
          });
        }
        if (collection === known.collection) unchanged += 1;
        continue;
      }
    }
    jobs.push({
      source: entry.source,
      version: entry.version,
      change: tableHash === undefined ? 'added' : 'updated',
      collection: defaultCollection,
      ...(rowsAreCurrent
        ? {
            reuse: {
              contentHash: known.contentHash,
              chunks: known.chunks,
              collection: known.collection,
              ...(known.splitHash !== undefined ? { splitHash: known.splitHash } : {}),
            },
          }
        : {}),
    });
  }

  const gone = [...new Set([...indexed.keys(), ...manifest.keys()])]
    .filter((source) => !listed.has(source))
    .sort();
  // An indexed file the origin now skips (it became a link, say) is there but not to be read: like a document
  // whose content can no longer be indexed, it loses its chunks, pruning or not.
  const covered = gone.filter(
    (source) => !skipped.has(source) && listings.some((listing) => listing.covers(source)),
  );
  const unindexable = gone.filter((source) => skipped.has(source));
  // A rebuild replaces the table: whatever the origins no longer list is gone from it, covered or not.
  const deletions = settings.rebuild ? gone : [...(settings.prune ? covered : []), ...unindexable].sort();
  const stale = settings.rebuild || settings.prune ? [] : covered;

  if (jobs.length > 0 && dimensions === null) {
    // An embedder that does not announce its dimension, and no table to read it from: one call, paid only
    // when there is something to embed anyway.
    dimensions = (await embeddings.embedQuery('dimension probe')).length;
  }

  const batchSize = options.ingest.batchDocuments;
  const batchCount = Math.ceil(jobs.length / batchSize);
  for (let batch = 0; batch < batchCount; batch++) {
    const slice = jobs.slice(batch * batchSize, (batch + 1) * batchSize);
    await putJson(staging, stagingKeys.jobs(executionName, batch), slice);
  }
  const plan: StagedPlan = {
    executionName,
    startedAt: now,
    settings,
    fingerprint,
    embedder: { embedderName, dimensions },
    listed: listed.size,
    unchanged,
    jobs: jobs.length,
    batches: batchCount,
    deletions,
    rejected,
    stale,
    skipped: [...skipped.values()].sort((a, b) => a.source.localeCompare(b.source)),
    emptyOrigins,
    refiles,
  };
  await putJson(staging, stagingKeys.plan(executionName), plan);
  // The Distributed Map's items, read from S3 by its ItemReader: one batch number each, so the state never
  // carries the list, however long.
  await putJson(
    staging,
    stagingKeys.items(executionName),
    Array.from({ length: batchCount }, (_, i) => i),
  );
  const results = staging.locate(stagingKeys.mapResults(executionName));
  return {
    status: 'planned',
    batches: batchCount,
    items: staging.locate(stagingKeys.items(executionName)),
    results: { bucket: results.bucket, prefix: results.key },
    batchesPerChild: batchesPerChild(batchCount, options.ingest.concurrency),
    concurrency: options.ingest.concurrency,
    listed: listed.size,
    unchanged,
    changed: jobs.length,
    deleting: deletions.length,
    refiling: refiles.filter((r) => r.collection !== r.previousCollection).length,
    rejected: rejected.length,
    skipped: skipped.size,
  };
}
