import { EXIT } from './cli';
import { ingestSettings } from './cli-env';

/** `npm run dev`'s documents on start (scripts/dev.ts): the samples on a first start, or `--docs DIR`. */

const DEFAULT_STAGING = '.local/ingest-staging';
/** What a first start indexes when the store holds nothing (relative to the repository). */
const SAMPLE_DOCS = 'samples/docs';

/**
 * Indexes `docs` (a folder, relative to the working directory), or the samples when the store holds no documents
 * yet (its table does not exist: what the bot answers "none have been added" to), through the local ingest state
 * machine with its manifest in `dynamoPath` (.local/dynamodb), as `npm run ingest` does; a later `npm run ingest`
 * of the same folder embeds only what changed.
 *
 * @returns the banner's lines about the documents, or the exit code when they could not be indexed.
 */
export async function indexDocuments(
  lancedbUri: string,
  docs: string | undefined,
  dynamoPath: string,
): Promise<string[] | number> {
  const { startLocalIngest } = await import('./ingest-local');
  const { REPO_ROOT } = await import('./stack');
  const ingest = await startLocalIngest({
    lancedbUri,
    stagingUri: process.env.INGEST_STAGING_URI?.trim() || DEFAULT_STAGING,
    store: { path: dynamoPath },
    env: ingestSettings(),
    // The samples are the repository's, wherever dev runs from; --docs is the person's, from where they are.
    ...(docs === undefined ? { baseDir: REPO_ROOT } : {}),
  });
  try {
    if (docs === undefined) {
      const table = ingest.runtime.config.vectorStore.table;
      const tables = await (await ingest.services.connection()).tableNames();
      if (tables.includes(table)) {
        return [
          `Documents:             as indexed in ${lancedbUri}; npm run ingest -- DIR (or npm run dev -- --docs DIR) adds or updates a folder`,
        ];
      }
    }
    const origin = docs ?? SAMPLE_DOCS;
    console.log(
      docs === undefined
        ? `The vector store ${lancedbUri} holds no documents yet (a first start): indexing the samples in ${SAMPLE_DOCS}…`
        : `Indexing ${docs} into ${lancedbUri}…`,
    );
    const started = Date.now();
    const result = await ingest.sync({ origins: [origin], prune: false });
    const report = result.report;
    if (result.status !== 'committed' || report === undefined) {
      const why = result.status === 'busy' ? result.busy?.message : result.error;
      console.error(`could not index ${origin}, so npm run dev did not start: ${why ?? 'the sync failed'}`);
      return EXIT.failed;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    for (const { message } of report.emptyOrigins) console.error(`note: ${message}`);
    if (docs === undefined) {
      return [
        `Documents:             the ${report.added} sample documents in ${SAMPLE_DOCS} (${report.chunks} chunks), indexed in ${seconds} s because the store held none`,
        '                       To answer from your own documents instead: npm run ingest -- --rebuild path/to/your/docs',
        '                       (it replaces the samples, also while this runs); npm run dev -- --docs DIR adds a folder on start',
      ];
    }
    return [
      `Documents:             ${docs} indexed on start in ${seconds} s: ${report.added} added, ${report.updated} updated, ` +
        `${report.unchanged} unchanged, ${report.failedCount} failed; ${report.chunks} chunks in the store`,
    ];
  } finally {
    await ingest.close();
  }
}
