import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AccessSettings, needsUserGroups } from '../functions/core/access/reach';
import { type Env, loadConfig } from '../functions/core/config';
import { createSecretReader } from '../functions/core/secrets';
import {
  configuredStoreAccess,
  connectVectorStore,
} from '../functions/core/vector-store/connect-vector-store';
import {
  checkSettings,
  type DocumentCounts,
  type Explanation,
  explainReach,
  type UserGroupListing,
} from './access/reach-report';
import { groupsOfUser, listGroups } from './access/user-group-source';
import { defineCommand, EXIT, type ParsedCommand, runCommand, UsageError } from './local/cli';
import { localLanceDbUri } from './local/cli-env';
import { runningDev } from './local/local-store-lock';
import { checkChannelOption, checkUserOption } from './local/slack-ids';
import { REPO_ROOT } from './local/stack';

/**
 * `npm run access -- explain --user U… [--channel C…]` and `npm run access -- check`: who may read which collection,
 * and why; and what is wrong with the access settings.
 */

const ACCESS = defineCommand({
  name: 'access',
  synopsis: 'explain --user U… [--channel C…] [--json] | check [--json]',
  summary:
    'explain: which document collections a person may read in a channel (or in a DM and the agent pane without\n' +
    '--channel), why (the audience that matched, or what kept each closed) and how many documents each holds.\n' +
    'check: what is wrong with the access settings: a collection open to no one, a user group that does not\n' +
    'exist or is disabled, a collection named that holds no document.\n' +
    'Settings: COLLECTION_AUDIENCES and CHANNEL_COLLECTIONS from the environment when either is set, else\n' +
    "cdk.json's bot:collectionAudiences and bot:channelCollections (what a deploy would use).\n" +
    "User groups: Slack's usergroups.list with SLACK_BOT_TOKEN (needs usergroups:read), else a running\n" +
    "`npm run dev`'s fake Slack, else the LOCAL_SLACK_USERGROUPS file. Documents: LANCEDB_URI (s3://… with the\n" +
    "usual AWS credentials), else a running `npm run dev`'s, else .local/lancedb.",
  options: {
    user: {
      type: 'string',
      valueName: 'U…',
      description: 'explain: the person (a Slack user id)',
      validate: checkUserOption,
    },
    channel: {
      type: 'string',
      valueName: 'C…',
      description: 'explain: the channel asked in (default: a DM or the agent pane)',
      validate: checkChannelOption,
    },
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
  },
  positionals: { name: 'the subcommand: explain or check', min: 1 },
  examples: [
    'npm run access -- explain --user U0ALICE01 --channel C0GENERAL1',
    'npm run access -- check',
    'SLACK_BOT_TOKEN=xoxb-… LANCEDB_URI=s3://my-data-bucket/lancedb npm run access -- check --json',
  ],
  exitCodes: {
    0: 'explained; or checked, and nothing is wrong (warnings may be printed)',
    1: 'the settings are invalid, or check found an error; or the groups or documents could not be read',
    2: 'usage error',
    3: 'checked in part: the user groups could not be listed, so the groups named were not checked',
  },
});

interface Sources {
  settings: AccessSettings;
  settingsFrom: string;
  groups?: UserGroupListing;
  groupsUnavailable?: string;
  documents: DocumentCounts;
  documentsFrom: string;
}

/** The access settings: the environment's when it sets either variable, else cdk.json's, validated as a deploy would. */
function readSettings(env: NodeJS.ProcessEnv): { settings: AccessSettings; from: string } {
  if (env.COLLECTION_AUDIENCES !== undefined || env.CHANNEL_COLLECTIONS !== undefined) {
    const config = loadConfig({
      COLLECTION_AUDIENCES: env.COLLECTION_AUDIENCES,
      CHANNEL_COLLECTIONS: env.CHANNEL_COLLECTIONS,
      LLM_PROVIDER: 'local',
    } as Env);
    return { settings: config.access, from: 'the environment (COLLECTION_AUDIENCES, CHANNEL_COLLECTIONS)' };
  }
  const cdk = JSON.parse(readFileSync(resolve(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const context = cdk.context ?? {};
  const asText = (value: unknown) =>
    value === undefined || value === null || value === ''
      ? undefined
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  const config = loadConfig({
    COLLECTION_AUDIENCES: asText(context['bot:collectionAudiences']),
    CHANNEL_COLLECTIONS: asText(context['bot:channelCollections']),
    LLM_PROVIDER: 'local',
  } as Env);
  return { settings: config.access, from: 'cdk.json (bot:collectionAudiences, bot:channelCollections)' };
}

async function countDocuments(env: NodeJS.ProcessEnv): Promise<{ counts: DocumentCounts; from: string }> {
  const dev = env.LANCEDB_URI?.trim() ? undefined : await runningDev();
  const uri = dev?.lancedbUri ?? localLanceDbUri(env);
  const tableName = env.LANCEDB_TABLE?.trim() || 'documents';
  const cloudSettings = ['LANCEDB_API_KEY', 'LANCEDB_API_KEY_ARN', 'LANCEDB_REGION', 'LANCEDB_HOST_OVERRIDE'];
  const config = loadConfig({
    ...Object.fromEntries(cloudSettings.map((name) => [name, env[name]])),
    LLM_PROVIDER: 'local',
    LANCEDB_URI: uri,
    AWS_REGION: env.AWS_REGION,
    S3_ENDPOINT: env.S3_ENDPOINT,
  } as Env);
  const connection = await connectVectorStore(uri, {
    ...(await configuredStoreAccess(config, createSecretReader({ region: config.region }))),
  });
  try {
    const counts = new Map<string | null, number>();
    if (!(await connection.tableNames()).includes(tableName))
      return { counts, from: `${uri} (no table yet)` };
    const table = await connection.openTable(tableName);
    // Each chunk's document and collection: a document counts once. Two short columns, read whole.
    const rows = (await table.query().select(['source', 'collection']).toArray()) as {
      source: string;
      collection: string | null;
    }[];
    const seen = new Map<string | null, Set<string>>();
    for (const row of rows) {
      const key = row.collection ?? null;
      const sources = seen.get(key) ?? new Set<string>();
      sources.add(row.source);
      seen.set(key, sources);
    }
    for (const [collection, sources] of seen) counts.set(collection, sources.size);
    table.close();
    return { counts, from: uri };
  } finally {
    connection.close();
  }
}

async function gather(env: NodeJS.ProcessEnv): Promise<Sources> {
  const { settings, from } = readSettings(env);
  const [groups, documents] = await Promise.all([listGroups(env), countDocuments(env)]);
  return {
    settings,
    settingsFrom: from,
    ...('unavailable' in groups ? { groupsUnavailable: groups.unavailable } : { groups }),
    documents: documents.counts,
    documentsFrom: documents.from,
  };
}

function printExplanation(explanation: Explanation, sources: Sources): void {
  const place = explanation.channel ?? 'a DM or the agent pane';
  console.log(`${explanation.user} in ${place}`);
  console.log(`  settings: ${sources.settingsFrom}`);
  console.log(
    `  user groups: ${
      explanation.groups === undefined
        ? `unknown (${sources.groupsUnavailable ?? 'not listed'})`
        : `${explanation.groups.join(', ') || 'none'} (from ${sources.groups?.source})`
    }`,
  );
  console.log(`  documents: ${sources.documentsFrom}`);
  const width = Math.max(10, ...explanation.collections.map((c) => (c.collection ?? '(none)').length));
  for (const open of [true, false]) {
    const list = explanation.collections.filter((c) => c.open === open);
    console.log(open ? 'may read:' : 'may not read:');
    if (list.length === 0) console.log('  (nothing)');
    for (const c of list) {
      const docs = `${c.documents} document${c.documents === 1 ? '' : 's'}`;
      console.log(`  ${(c.collection ?? '(none)').padEnd(width)}  ${docs.padStart(13)}  ${c.why}`);
    }
  }
}

async function main({ values, positionals }: ParsedCommand<typeof ACCESS.options>): Promise<number> {
  const [subcommand, ...rest] = positionals;
  if (rest.length > 0)
    throw new UsageError(`${subcommand} takes no arguments, and was given ${JSON.stringify(rest.join(' '))}`);
  if (subcommand === 'explain') {
    if (values.user === undefined) throw new UsageError('explain needs --user U… (the person to explain)');
    const sources = await gather(process.env);
    const groups = sources.groups === undefined ? undefined : groupsOfUser(sources.groups, values.user);
    const explanation = explainReach(
      sources.settings,
      sources.documents,
      values.user,
      values.channel,
      groups,
    );
    if (values.json === true) {
      console.log(
        JSON.stringify({
          ...explanation,
          settingsFrom: sources.settingsFrom,
          documentsFrom: sources.documentsFrom,
        }),
      );
    } else printExplanation(explanation, sources);
    return EXIT.ok;
  }
  if (subcommand === 'check') {
    if (values.user !== undefined || values.channel !== undefined) {
      throw new UsageError('check takes no --user or --channel: it checks the settings for everyone');
    }
    const sources = await gather(process.env);
    const problems = checkSettings(sources.settings, sources.documents, sources.groups);
    const unchecked =
      needsUserGroups(sources.settings) && sources.groups === undefined
        ? sources.groupsUnavailable
        : undefined;
    const errors = problems.filter((p) => p.severity === 'error').length;
    if (values.json === true) {
      console.log(
        JSON.stringify({
          settingsFrom: sources.settingsFrom,
          groupsFrom: sources.groups?.source ?? null,
          documentsFrom: sources.documentsFrom,
          problems,
          groupsChecked: unchecked === undefined,
        }),
      );
    } else {
      console.log(`settings: ${sources.settingsFrom}`);
      console.log(`documents: ${sources.documentsFrom}`);
      if (
        sources.settings.collectionAudiences === undefined &&
        sources.settings.channelCollections === undefined
      ) {
        console.log('no access settings: every question may read every document');
      }
      for (const p of problems) console.log(`${p.severity}: ${p.message}`);
      if (unchecked !== undefined) console.log(`not checked: the user groups named (${unchecked})`);
      if (problems.length === 0 && unchecked === undefined) console.log('no problem found');
    }
    return errors > 0 ? EXIT.failed : unchecked !== undefined ? EXIT.partial : EXIT.ok;
  }
  throw new UsageError(
    `unknown subcommand ${JSON.stringify(subcommand)}; the subcommands are explain and check`,
  );
}

runCommand(ACCESS, main);
