import { mkdirSync } from 'node:fs';
import { defineCommand, EXIT, runCommand } from './local/cli';
import { localLanceDbUri, shellSettings, withoutMetricLines } from './local/cli-env';
import { indexDocuments } from './local/dev-documents';
import { ENTERPRISE_VARIABLE, enterpriseFromEnv } from './local/enterprise-env';
import {
  DEV_STATE_FILE,
  localStoreInUse,
  removeDevState,
  runningDev,
  writeDevState,
} from './local/local-store-lock';
import { logRequest } from './local/request-log';
import { USERGROUPS_VARIABLE, userGroupsFromEnv } from './local/usergroups-file';

/**
 * `npm run dev`: the local stack as a long-running server. Send it signed requests (curl, or your own Slack
 * payloads) and read what the bot posted from the fake Slack's transcript. It verifies signatures with
 * SLACK_SIGNING_SECRET when set, else with a local secret it prints. While it runs it holds `.local/dynamodb` and
 * says where it is in `.local/dev.json`, so that `npm run ask` and `npm run ingest` use its stores rather than
 * fail on them; it logs one line per Slack request and one per answer. On a first start, when the vector store holds
 * no documents, it indexes the samples (samples/docs) so that the first question has something to answer from;
 * `--docs DIR` indexes DIR instead (on any start), through the same local ingest as `npm run ingest`.
 * LOCAL_SLACK_USERGROUPS names a JSON file of the fake Slack's user groups (`{"S0HRTEAM":["U0ALICE"]}`); the
 * playground then lets the person typing choose who they are. LOCAL_SLACK_ENTERPRISE=E… makes the stack an org-wide
 * install on Enterprise Grid of that organisation, with two workspaces (enterprise-env.ts).
 */

const DYNAMO_PATH = '.local/dynamodb';

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
    1: 'could not start: another npm run dev is running, the port is taken, .local/dynamodb is in use, the documents could not be indexed (--docs DIR does not exist), LOCAL_SLACK_USERGROUPS names a file that is missing or not a map of user groups, LOCAL_SLACK_ENTERPRISE is not an E… id, or (--socket) a Slack token is missing or refused',
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
  // Read before anything starts: a bad file stops dev with one line, as a bad PORT does.
  const userGroups = values.socket ? undefined : userGroupsFromEnv();
  const enterpriseId = values.socket ? undefined : enterpriseFromEnv();
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
  const documents = await indexDocuments(lancedbUri, values.docs, DYNAMO_PATH);
  if (typeof documents === 'number') return documents;

  if (values.socket) {
    for (const line of documents) console.log(line);
    if (process.env[USERGROUPS_VARIABLE]?.trim())
      console.log(`${USERGROUPS_VARIABLE} is not used with --socket: your workspace's own user groups are.`);
    if (process.env[ENTERPRISE_VARIABLE]?.trim())
      console.log(`${ENTERPRISE_VARIABLE} is not used with --socket: your app's own installation is.`);
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
      ...(userGroups === undefined ? {} : { slackUserGroups: userGroups }),
      ...(enterpriseId === undefined ? {} : { slackEnterpriseId: enterpriseId }),
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
  if (userGroups !== undefined) {
    const count = Object.keys(userGroups).length;
    console.log(
      `User groups:           ${count} from ${USERGROUPS_VARIABLE} (${process.env[USERGROUPS_VARIABLE]?.trim()}); choose who you are in the playground`,
    );
  }
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
