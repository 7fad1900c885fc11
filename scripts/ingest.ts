import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  COLLECTION_NAME_RULE,
  collectionNameProblem,
  type OriginSpec,
} from '../functions/core/ingest/origin-spec';
import type { SyncReport } from '../functions/core/ingest/sync-types';
import { defineCommand, EXIT as EXIT_CODES, type ParsedCommand, runCommand, UsageError } from './local/cli';
import { ingestSettings, localLanceDbUri, withoutMetricLines } from './local/cli-env';
import { jsonResult, progressReporter, summary } from './local/ingest-report';
import { localStoreInUse, runningDev } from './local/local-store-lock';
import { ProgressBar } from './local/progress-bar';

/**
 * `npm run ingest -- [--json] [--prune] [--rebuild] [--collection NAME] [COLLECTION=]<path|glob|s3://bucket/prefix|https://site/path/>...`:
 * syncs the documents of the given origins into the vector store (`.local/lancedb`, or LANCEDB_URI) by running
 * statemachine/ingest.asl.json in the local executor, exactly as the scheduled sync runs in AWS. The manifest and
 * the sync lock are kept in `.local/dynamodb`, so a second run embeds only what changed.
 */

const INGEST = defineCommand({
  name: 'ingest',
  synopsis:
    '[--json] [--prune] [--rebuild] [--collection NAME] [COLLECTION=]<path|glob|s3://bucket/prefix|https://site/path/>...',
  summary:
    'Syncs the documents of the given folders, globs or S3 prefixes into the vector store (.local/lancedb, or\n' +
    'LANCEDB_URI) through the ingest state machine, as the scheduled sync runs in AWS. The manifest and the sync lock\n' +
    "are kept in .local/dynamodb (a running npm run dev's, while it runs), so a second run embeds only what changed.",
  options: {
    prune: {
      type: 'boolean',
      description: 'remove indexed documents that the given folders, globs or prefixes no longer hold',
    },
    rebuild: {
      type: 'boolean',
      description: 'drop the table and re-embed everything (after changing the embedding model)',
    },
    collection: {
      type: 'string',
      valueName: 'NAME',
      description:
        'the collection of documents whose front matter names none and whose origin declares none\n' +
        `(${COLLECTION_NAME_RULE})`,
      validate: (value: string) =>
        value.trim() === ''
          ? '--collection needs a name that is not empty'
          : collectionNameProblem(value.trim()) === undefined
            ? undefined
            : `--collection ${JSON.stringify(value)}: a collection name is ${COLLECTION_NAME_RULE}`,
    },
    json: {
      type: 'boolean',
      description:
        'print one JSON object: {"added","updated","unchanged","refiled","deleted","failed","skipped","chunks",\n' +
        '"embeddedChunks","ms"}, with "embedding" (chunks/s, tokens/s, requests, 429s, time waited) when\n' +
        'anything was embedded, "emptyOrigins" when an origin holds nothing to index and "error" when\n' +
        'nothing could be committed',
    },
  },
  positionals: { name: 'at least one folder, glob, s3://bucket/prefix or web site', min: 1 },
  notes:
    'Markdown (.md, .markdown), plain text (.txt), PDF (.pdf), Word (.docx) and HTML (.html, .htm) are indexed.\n' +
    'Other files, and symbolic links (never followed), are listed as skipped; hidden files and folders and\n' +
    'node_modules are passed over.\n' +
    '\n' +
    'An origin written COLLECTION=ORIGIN (hr=docs/hr/, hr=s3://bucket/hr/) places the documents it holds in that\n' +
    "collection. A document's collection: its front matter's, else its origin's, else --collection, else none.\n" +
    "Changing an origin's collection (or --collection) re-files its documents in place, with nothing re-embedded.\n" +
    'A local path whose first part holds "=" is written with ./ before it (./a=b/).',
  examples: [
    'npm run ingest -- samples/docs',
    "npm run ingest -- --prune --json 'wiki/**/*.md' s3://my-bucket/handbook/",
    'npm run ingest -- --collection public docs/ hr=docs/hr/',
  ],
  exitCodes: {
    0: 'the sync committed (failed and skipped documents are listed)',
    1: 'nothing could be committed (a missing folder or bucket, another embedding model, another sync running)',
    2: 'usage error',
    3: 'the sync committed, but an origin holds no document to index (it says which, and what it skipped)',
    130: 'interrupted',
  },
});

/** The process's exit codes, as the usage lists them. */
const EXIT = {
  committed: EXIT_CODES.ok,
  failed: EXIT_CODES.failed,
  nothingIndexable: EXIT_CODES.partial,
  interrupted: EXIT_CODES.interrupted,
} as const;

const DYNAMO_PATH = '.local/dynamodb';
const DEFAULT_STAGING = '.local/ingest-staging';

/**
 * The origins as the command line names them: `COLLECTION=ORIGIN` declares the collection of an origin's documents
 * (the part before the first `=` holds no `/` or `:`, so `./a=b/`, `s3://…?x=y` and `https://…?x=y` are plain).
 *
 * @throws {UsageError} for a collection name that is not one.
 */
function originsOfArguments(positionals: readonly string[]): OriginSpec[] {
  return positionals.map((argument) => {
    const match = /^([^/:=\\]+)=(.*)$/.exec(argument);
    if (match === null) return argument;
    const [, collection = '', uri = ''] = match;
    if (collectionNameProblem(collection) !== undefined) {
      throw new UsageError(
        `${JSON.stringify(argument)}: "${collection}" is not a collection name (${COLLECTION_NAME_RULE}); a local path with "=" in its first part is written ./${argument}`,
      );
    }
    if (uri.trim() === '') throw new UsageError(`${JSON.stringify(argument)} names no origin after "="`);
    return { uri, collection };
  });
}

async function main({ values, positionals }: ParsedCommand<typeof INGEST.options>): Promise<number> {
  const origins = originsOfArguments(positionals);
  const started = Date.now();
  const json = values.json === true;
  const bar = new ProgressBar();
  const lancedbUri = localLanceDbUri();
  const fail = (message: string, report?: SyncReport) => {
    bar.clear();
    if (json) console.log(JSON.stringify(jsonResult(report, Date.now() - started, message)));
    console.error(message);
    return EXIT.failed;
  };

  // A running `npm run dev` holds .local/dynamodb: the manifest and the lock are then read through its endpoint.
  const dev = await runningDev();
  if (dev === undefined) {
    mkdirSync(DYNAMO_PATH, { recursive: true });
    const busy = await localStoreInUse(DYNAMO_PATH);
    if (busy !== undefined) return fail(`${busy}; nothing was written`);
  } else if (!json) {
    console.error(`(the manifest and the sync lock through the running npm run dev, pid ${dev.pid})`);
    if (resolve(dev.lancedbUri) !== resolve(lancedbUri)) {
      console.error(`note: npm run dev answers from ${dev.lancedbUri}; this sync writes ${lancedbUri}`);
    }
  }
  // Loaded once the arguments are known good: a usage error answers at once.
  const { newExecutionName, startLocalIngest } = await import('./local/ingest-local');
  const ingest = await startLocalIngest({
    lancedbUri,
    stagingUri: process.env.INGEST_STAGING_URI?.trim() || DEFAULT_STAGING,
    store: dev === undefined ? { path: DYNAMO_PATH } : { endpoint: dev.dynamodbEndpoint },
    env: ingestSettings(),
    onProgress: json ? undefined : progressReporter(bar),
  });

  const name = newExecutionName();
  const interrupt = () => {
    // The executor runs in this process: release the lock rather than leave it for its TTL.
    bar.clear();
    console.error('\ninterrupted: releasing the sync lock; nothing more will be written');
    ingest.services
      .lock()
      .release(name)
      .catch(() => undefined)
      .finally(() => process.exit(EXIT.interrupted));
  };
  process.once('SIGINT', interrupt);
  try {
    bar.update('listing the documents', undefined, undefined, true);
    const result = await ingest.sync(
      {
        origins,
        prune: values.prune === true,
        rebuild: values.rebuild === true,
        ...(values.collection !== undefined ? { collection: values.collection.trim() } : {}),
      },
      { name },
    );
    bar.clear();
    const ms = Date.now() - started;
    if (result.status === 'busy') {
      return fail(result.busy?.message ?? 'another sync is running; this one wrote nothing');
    }
    if (result.status !== 'committed' || result.report === undefined) {
      return fail(
        `the sync failed, and nothing was committed: ${result.error ?? 'unknown error'}`,
        result.report,
      );
    }
    if (json) {
      console.log(JSON.stringify(jsonResult(result.report, ms)));
    } else {
      console.log(summary(result.report, lancedbUri, ingest.runtime.config.vectorStore.table, ms));
    }
    // Committed, but a script should hear that a folder or prefix it named held nothing to index.
    if (result.report.emptyOrigins.length > 0) {
      if (json) for (const { message } of result.report.emptyOrigins) console.error(message);
      return EXIT.nothingIndexable;
    }
    return EXIT.committed;
  } finally {
    process.removeListener('SIGINT', interrupt);
    await ingest.close();
  }
}

// The ingest Report step counts each sync (EMF on stdout): no use here, and it would break --json.
withoutMetricLines();
runCommand(INGEST, main);
