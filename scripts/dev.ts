import { mkdirSync } from 'node:fs';
import { describeFailure } from './local/ask-client';
import { defineCommand, EXIT, runCommand } from './local/cli';
import { ingestSettings, localLanceDbUri, shellSettings, withoutMetricLines } from './local/cli-env';
import {
  DEV_STATE_FILE,
  localStoreInUse,
  removeDevState,
  runningDev,
  writeDevState,
} from './local/local-store-lock';
import type { LocalRequestLog } from './local/stack';

/**
 * `npm run dev`: the local stack as a long-running server. Send it signed requests (curl, or your own Slack
 * payloads) and read what the bot posted from the fake Slack's transcript. It verifies signatures with
 * SLACK_SIGNING_SECRET when set, else with a local secret it prints. While it runs it holds `.local/dynamodb` and
 * says where it is in `.local/dev.json`, so that `npm run ask` and `npm run ingest` use its stores rather than
 * fail on them; it logs one line per Slack request and one per answer. On a first start, when the vector store holds
 * no documents, it indexes the samples (samples/docs) so that the first question has something to answer from;
 * `--docs DIR` indexes DIR instead (on any start), through the same local ingest as `npm run ingest`.
 */

const DYNAMO_PATH = '.local/dynamodb';
const DEFAULT_STAGING = '.local/ingest-staging';
/** What a first start indexes when the store holds nothing (relative to the repository). */
const SAMPLE_DOCS = 'samples/docs';

const DEV = defineCommand({
  name: 'dev',
  synopsis: '[--port N] [--docs DIR] [--socket]',
  summary:
    'Runs the local stack as a server: the Slack Request URL, a fake Slack with a transcript, DynamoDB in\n' +
    '.local/dynamodb and the vectors in .local/lancedb (or LANCEDB_URI). Logs one line per Slack request and one\n' +
    'per answer. While it runs, npm run ask and npm run ingest use it (it holds .local/dynamodb). Ctrl+C stops it.\n' +
    'On a first start, when the vector store holds no documents, it indexes the samples in samples/docs first.',
  options: {
    port: {
      type: 'string',
      valueName: 'N',
      description: 'the port of the Request URL (default: PORT, else 3000; 0 for any free port)',
      validate: (value: string) =>
        /^\d+$/.test(value) && Number(value) < 65536
          ? undefined
          : `--port takes a port number from 0 to 65535, not ${JSON.stringify(value)}`,
    },
    docs: {
      type: 'string',
      valueName: 'DIR',
      description:
        'index the documents of DIR before answering (instead of the samples on a first start); as npm run ingest -- DIR',
      validate: (value: string) =>
        value.trim() === '' ? '--docs needs a folder that is not empty' : undefined,
    },
    socket: {
      type: 'boolean',
      description:
        'answer in your own Slack workspace through Socket Mode instead of the fake Slack (SLACK_APP_TOKEN, SLACK_BOT_TOKEN; README, "Try it in your own Slack workspace")',
    },
  },
  examples: [
    'npm run dev',
    'npm run dev -- --docs path/to/your/docs',
    'npm run dev -- --port 3001',
    'npm run dev -- --socket',
  ],
  exitCodes: {
    0: 'stopped with Ctrl+C (or SIGTERM)',
    1: 'could not start: another npm run dev is running, the port is taken, .local/dynamodb is in use, the documents could not be indexed (--docs DIR does not exist), or (--socket) a Slack token is missing or refused',
    2: 'usage error',
  },
});

runCommand(DEV, async ({ values }) => {
  withoutMetricLines();
  const portText = values.port ?? process.env.PORT?.trim() ?? '3000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, not ${JSON.stringify(portText)}`);
  }
  const other = await runningDev();
  if (other !== undefined) {
    console.error(
      `npm run dev is already running (pid ${other.pid}, ${other.eventsUrl}); use that one, or stop it first ` +
        `(Ctrl+C in its terminal, or kill ${other.pid})`,
    );
    return EXIT.failed;
  }
  mkdirSync(DYNAMO_PATH, { recursive: true });
  const busy = await localStoreInUse(DYNAMO_PATH);
  if (busy !== undefined) {
    console.error(busy);
    return EXIT.failed;
  }

  const lancedbUri = localLanceDbUri();
  const documents = await indexDocuments(lancedbUri, values.docs);
  if (typeof documents === 'number') return documents;

  if (values.socket) {
    for (const line of documents) console.log(line);
    return socketMode();
  }
  const { startLocalStack } = await import('./local/stack');
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  const caughtError = (name: string) => stack?.caughtError(name);
  try {
    stack = await startLocalStack({
      lancedbUri,
      dynamoPath: DYNAMO_PATH,
      env: shellSettings(),
      signingSecret: process.env.SLACK_SIGNING_SECRET?.trim() || undefined,
      port,
      onRequest: (log) => logRequest(log, caughtError),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`port ${port} is in use by another program; choose another with --port N (or PORT)`);
      return EXIT.failed;
    }
    throw error;
  }
  const started = stack as NonNullable<typeof stack>;
  writeDevState({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    eventsUrl: stack.eventsUrl,
    askUrl: new URL('/local/ask', stack.eventsUrl).toString(),
    transcriptUrl: stack.transcriptUrl,
    slackApiUrl: stack.slack.apiUrl,
    dynamodbEndpoint: stack.env.DYNAMODB_ENDPOINT ?? '',
    signingSecret: stack.signingSecret,
    lancedbUri,
  });

  // The Slack-like page (scripts/local/playground): PLAYGROUND_PORT, else the port after the Request URL's.
  const { startPlayground } = await import('./local/playground/playground-server');
  const playgroundPort = process.env.PLAYGROUND_PORT?.trim();
  const playground = await startPlayground(started, {
    port: playgroundPort ? Number(playgroundPort) : port === 0 ? 0 : port + 1,
    anyPortIfTaken: !playgroundPort,
  });

  const fromShell = Boolean(process.env.SLACK_SIGNING_SECRET?.trim());
  console.log(`Playground:            ${playground.url}  (open it in your browser)`);
  console.log(`Slack request URL:     ${stack.eventsUrl}`);
  console.log(`Fake Slack transcript: ${stack.transcriptUrl}`);
  console.log(
    fromShell
      ? 'Signing secret:        SLACK_SIGNING_SECRET from your shell'
      : `Signing secret:        ${stack.signingSecret} (local only)`,
  );
  console.log(`Vector store:          ${lancedbUri}`);
  for (const line of documents) console.log(line);
  console.log(
    `Try, in another terminal: npm run ask -- "How do I rotate my VPN key?"  (it asks this server)`,
  );
  console.log(
    `Press Ctrl+C to stop. (${DEV_STATE_FILE} tells the other local commands where this server is.)`,
  );

  return new Promise<number>((done) => {
    const stop = () => {
      removeDevState();
      started.close().finally(() => done(EXIT.ok));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }).then((code) => {
    // Keep-alive sockets and LanceDB's native handles could hold the process open after a stop.
    process.exit(code);
  });
});

/**
 * Indexes `docs` (a folder, relative to the working directory), or the samples when the store holds no documents
 * yet (its table does not exist: what the bot answers "none have been added" to), through the local ingest state
 * machine with its manifest in .local/dynamodb, as `npm run ingest` does; a later `npm run ingest` of the same
 * folder embeds only what changed.
 *
 * @returns the banner's lines about the documents, or the exit code when they could not be indexed.
 */
async function indexDocuments(lancedbUri: string, docs: string | undefined): Promise<string[] | number> {
  const { startLocalIngest } = await import('./local/ingest-local');
  const { REPO_ROOT } = await import('./local/stack');
  const ingest = await startLocalIngest({
    lancedbUri,
    stagingUri: process.env.INGEST_STAGING_URI?.trim() || DEFAULT_STAGING,
    store: { path: DYNAMO_PATH },
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

/** `--socket`: the local workflow answering in a real Slack workspace through Socket Mode (scripts/local/socket-mode.ts). */
async function socketMode(): Promise<number> {
  const { startSocketModeDev } = await import('./local/socket-mode');
  const dev = await startSocketModeDev({
    shell: process.env,
    settings: shellSettings(),
    lancedbUri: localLanceDbUri(),
    dynamoPath: DYNAMO_PATH,
    // The same line per Slack request and per answer as the HTTP server's.
    onRequest: (log, stack) => logRequest(log, (name) => stack.caughtError(name)),
  });
  console.log('Press Ctrl+C to stop.');
  const code = await new Promise<number>((done) => {
    const stop = () => dev.close().finally(() => done(EXIT.ok));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.exit(code);
}

/** `12:00:01` in local time. */
function clock(at = new Date()): string {
  return at.toTimeString().slice(0, 8);
}

function where(log: LocalRequestLog): string {
  const d = log.delivery;
  if (d === undefined) return 'an unreadable body';
  const parts = [d.type];
  if (d.user !== undefined) parts.push(`from ${d.user}`);
  if (d.channel !== undefined) parts.push(`in ${d.channel}`);
  if (d.threadTs !== undefined) parts.push(`thread ${d.threadTs}`);
  if (d.retryNum !== undefined) parts.push(`retry ${d.retryNum}`);
  return parts.join(' ');
}

/** One line per request, and one more when the execution it started ends. */
function logRequest(
  log: LocalRequestLog,
  caughtError: (executionName: string) => { error: string; cause: string } | undefined,
): void {
  const outcome =
    log.error !== undefined
      ? `failed: ${log.error.message}`
      : log.execution !== undefined
        ? `started ${log.execution.name}`
        : log.status === 401
          ? 'refused: the signature or timestamp is not valid'
          : log.status >= 400
            ? 'refused'
            : 'no execution';
  console.log(
    `${clock()}  ${log.method} ${log.path}  ${where(log)}  → ${log.status} in ${log.ms} ms, ${outcome}`,
  );
  const execution = log.execution;
  if (execution === undefined) return;
  void execution.done.then(() => {
    const seconds = (((execution.stopDate ?? Date.now()) - execution.startDate) / 1000).toFixed(1);
    const state = execution.trace.find((t) => t.outcome !== 'succeeded');
    const failed =
      execution.status === 'SUCCEEDED'
        ? ''
        : `: ${state !== undefined ? `"${state.state}" ${state.outcome}, ` : ''}${describeFailure(
            caughtError(execution.name) ?? {
              error: execution.error ?? execution.status,
              cause: execution.cause ?? '',
            },
          )}`;
    console.log(
      `${clock()}  answer to ${where(log)}  ${execution.status} in ${seconds} s (${execution.name})${failed}`,
    );
  });
}
