import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { conversationFunctions } from '../functions/conversation-functions';
import { parseCollectionAudiences } from '../functions/core/access/reach';
import { type ChannelProfiles, parseChannelProfiles } from '../functions/core/channel-profiles';
import {
  BEDROCK_DEFAULT_CHAT_MODEL,
  BEDROCK_DEFAULT_EMBEDDING_MODEL,
  DEFAULT_INDEX_TAIL_ROWS,
  MAX_INDEX_TAIL_ROWS,
  MAX_INGEST_CONCURRENCY,
  TITAN_V2_DIMENSIONS,
} from '../functions/core/config';
import { type OriginSpec, readOriginSpec } from '../functions/core/ingest/origin-spec';
import { parseBedrockModelId, providerOfModel } from '../functions/core/llm/model-ids';

/**
 * What a deployment can change without touching code. Every setting has a default that deploys as it is; set
 * one in `cdk.json` ("context") or on the command line (`npx cdk deploy -c bot:chatModel=gpt-4.1`). The values
 * reach the functions as the environment variables that `functions/core/config.ts` reads and validates.
 */
/** What a state machine logs: every event without data, every event with it, or only failures. */
export type ExecutionLog = 'events' | 'all' | 'errors';
export const EXECUTION_LOGS: readonly ExecutionLog[] = ['events', 'all', 'errors'];

export interface BotConfig {
  /**
   * Name of the CloudFormation stack; deploy twice under two names for two bots in one account.
   * @default 'SlackRagBot'
   */
  stackName: string;
  /**
   * `openai` answers with OpenAI models (the key goes in Secrets Manager); `bedrock` with Amazon Bedrock models in the
   * account (IAM, no key: enable the models in the Bedrock console first); `local` runs the offline extractive model
   * and hashed embeddings, which needs no key and is only good for a smoke test of the plumbing.
   * @default 'openai'
   */
  llmProvider: 'openai' | 'bedrock' | 'local';
  /**
   * `OPENAI_MODEL`: the chat model (a Bedrock model id or inference profile id with `bedrock`, refused at synth when
   * it names the other provider's model). @default 'gpt-4.1-mini' ('amazon.nova-lite-v1:0' with bedrock)
   */
  chatModel: string;
  /** `OPENAI_TEMPERATURE`, 0 to 2 (not sent to reasoning models). @default 0 */
  temperature: number;
  /**
   * `OPENAI_EMBEDDING_MODEL`. Changing it after the first sync needs a rebuild of the index (docs/documents.md).
   * @default 'text-embedding-3-small' ('amazon.titan-embed-text-v2:0' with bedrock)
   */
  embeddingModel: string;
  /** `BEDROCK_REGION`: where Bedrock is called, with `bedrock`. @default undefined (the stack's region) */
  bedrockRegion?: string;
  /**
   * `EMBEDDING_DIMENSIONS`: the length of Bedrock's embedding vectors (Titan v2: 256, 512 or 1024). Changing it means
   * a rebuild of the index, as changing the model does. @default 1024
   */
  embeddingDimensions: number;
  /**
   * `BEDROCK_GUARDRAIL`: a Bedrock Guardrail applied to every answer, as `<guardrail id>:<version>` (or
   * `{"id": "…", "version": "…"}`); a blocked answer is replaced by a polite reply. @default undefined (none)
   */
  bedrockGuardrail?: { id: string; version: string };
  /**
   * `LANCEDB_URI` of a LanceDB Cloud database (`db://name`): every function that reads or writes the vectors uses it
   * instead of the data bucket, with the API key from a secret the stack then creates (output `LanceDbApiKeyArn`).
   * See README "LanceDB Cloud". @default undefined (LanceDB on the data bucket, `s3://…/lancedb`)
   */
  lancedbUri?: string;
  /** `LANCEDB_REGION`: the LanceDB Cloud region of `lancedbUri`'s database. @default 'us-east-1' */
  lancedbRegion: string;
  /**
   * When the ingest workflow syncs the documents: an EventBridge Scheduler expression (`cron(...)`, `rate(...)`).
   * @default 'cron(0 3 * * ? *)' (every night at 03:00 in `ingestScheduleTimeZone`)
   */
  ingestSchedule: string;
  /** IANA time zone of `ingestSchedule`. @default 'UTC' */
  ingestScheduleTimeZone: string;
  /**
   * `INGEST_CONCURRENCY`: how many child executions of the ingest's Distributed Map run at once, each embedding its
   * batches one after another, so also the most Batch Lambdas (and embedding calls) a sync runs at once. Raise it
   * with the embedding provider's rate limit and the account's Lambda concurrency in mind. @default 4
   */
  ingestMaxConcurrency: number;
  /**
   * `INGEST_INDEX_TAIL_ROWS` on Optimize: rows a sync may leave outside the indexes (searched by a flat scan) before
   * Optimize folds them in, which rewrites the whole full-text index that every warm Retrieve then loads again.
   * 0 folds after every sync. @default 150
   */
  ingestIndexTailRows: number;
  /**
   * Origins the scheduled sync reads besides the documents bucket (`INGEST_ORIGINS`): documentation web sites
   * (`https://docs.example.internal/handbook/`) or S3 prefixes (`s3://wiki-export/pages/`), which the ingest
   * functions are granted to read. A site on an intranet needs the functions in a VPC that reaches it. An origin
   * may declare the collection of the documents it holds: `{"uri": "s3://wiki-export/hr/", "collection": "hr"}`.
   * @default []
   */
  ingestOrigins: OriginSpec[];
  /**
   * `INGEST_SOURCE_LINKS`: public base addresses of origin prefixes, so the sources of their documents become links
   * (`{"s3://wiki-export/pages/": "https://wiki.example.internal/"}`: a wiki exported to S3). @default {}
   */
  sourceLinks: Record<string, string>;
  /** `HISTORY_TTL_DAYS`: how long a thread's questions and answers are kept. @default 30 */
  historyTtlDays: number;
  /** `ALLOWED_CHANNELS`: the channel ids the bot answers in; empty means every channel it is invited to. @default [] */
  allowedChannels: string[];
  /**
   * `CHANNEL_COLLECTIONS`: which document collections each channel may read (`*` for the others); undefined
   * means every channel reads every document.
   * @default undefined
   */
  channelCollections?: Record<string, string[]>;
  /**
   * `COLLECTION_AUDIENCES`: who may read each collection: Slack user groups (`S…`), people (`U…`), channels
   * (`C…`/`G…`) or everyone (`*`); a collection not named is open to everyone. Combined with
   * `channelCollections`, a question reads only what both allow.
   * @default undefined
   */
  collectionAudiences?: Record<string, string[]>;
  /** `SLACK_STREAM_MODE`: `update` (throttled `chat.update`) or `native` (`chat.startStream`). @default 'update' */
  slackStreamMode: 'update' | 'native';
  /** `SLACK_BOT_USER_ID`, when known, saves the ack an `auth.test` call on each cold start. @default undefined */
  slackBotUserId?: string;
  /**
   * `SLACK_TEAM_ID`: the installing workspace; events for another are refused and people of another are
   * external. `E…` on Enterprise Grid: the organisation of an org-wide install, all of whose workspaces and members
   * are the bot's. With `slackAppId` and `slackBotUserId`, saves the ack its `auth.test` call. @default undefined
   * (auth.test's)
   */
  slackTeamId?: string;
  /** `SLACK_APP_ID`: events for another app are refused. @default undefined (auth.test's `app_id`) */
  slackAppId?: string;
  /** `ALLOW_SLACK_CONNECT`: answer people from other organisations and in channels shared with them. @default false */
  allowSlackConnect: boolean;
  /** `ALLOW_GUESTS`: answer guests (restricted and ultra-restricted accounts). @default false */
  allowGuests: boolean;
  /**
   * `SLACK_SEARCH`: Retrieve also searches the Slack messages the asker can see (Slack's Real-time Search API, with
   * the event's action_token) and fuses them with the documents' passages. Needs the `search:read.*` scopes of
   * slack/app-manifest.yaml. See README "Slack messages as sources". @default false
   */
  slackSearch: boolean;
  /**
   * `FOLLOW_UPS`: which replies in a channel thread the bot answered it answers without a mention: `off`, `asker`
   * (the person who asked first) or `anyone`. @default 'asker'
   */
  followUps: 'off' | 'asker' | 'anyone';
  /**
   * `CHANNEL_PROFILES`: assistants per channel, by channel id or `*` (every other channel, DMs and the agent pane),
   * each with `instructions`, `model` (of `llmProvider`: another provider's model is refused here), `topK` and
   * `followUps`. See docs/configuration.md. @default undefined (every place answers alike)
   */
  channelProfiles?: ChannelProfiles;
  /** `SUGGESTED_PROMPTS`: the agent pane's prompts, a JSON array (see docs/configuration.md). @default undefined (the built-in ones) */
  suggestedPrompts?: string;
  /** `DAILY_QUESTION_LIMIT`: questions one person may ask per UTC day; 0 for no limit. @default 0 */
  dailyQuestionLimit: number;
  /**
   * Model tokens (input and output, every chat model) per 24 hours above which an alarm tells the alarms topic;
   * undefined for no alarm. The usage dashboard shows the tokens per model and their estimated cost.
   * @default undefined
   */
  dailyTokenBudget?: number;
  /**
   * Concurrency reserved for the ack behind the public Request URL, which also caps it; `none` (the default)
   * reserves nothing. Lambda keeps 100 of the account's concurrency unreserved, so a new account (quota 10)
   * cannot reserve any and a reservation there fails the deploy: opt in once the account's quota is above 100 plus
   * the value (docs/deploy.md, Deployment settings). Synth warns when the value cannot fit a quota of 1,000.
   * @default undefined (none)
   */
  ackReservedConcurrency?: number;
  /**
   * Retrieve's execution environments that Lambda keeps initialised, the table open and its indexes loaded, before
   * any question (provisioned concurrency, billed while it stands): the first answers that land on them skip the
   * seconds a new container spends loading the indexes. `none` (the default) keeps none. Like a reservation it
   * needs the account's quota above 100 plus the value (a new account's quota of 10 cannot hold any), and synth
   * warns when it and `ackReservedConcurrency` together cannot fit a quota of 1,000.
   * @default undefined (none)
   */
  retrieveProvisionedConcurrency?: number;
  /**
   * The Retrieve function's memory in MB (128 to 10,240). LanceDB's index cache is a quarter of it (half from 2,048
   * MB on) and Lambda's CPU grows with it (1 vCPU at 1,769 MB): at 1,024 MB the indexes of about 350,000 chunks fit,
   * beyond which every question reads index partitions from S3; at 3,008 those of a million (docs/performance.md,
   * "How big a corpus"). Above 3,008 a new AWS account refuses the deploy until its memory limit is raised; synth
   * warns. @default 1024
   */
  retrieveMemoryMb: number;
  /**
   * What the conversation state machine logs to CloudWatch Logs, which is where the console finds an Express
   * execution: `events` (every execution event, so the console shows each execution's graph, states and timings,
   * without their data: no question, passage or answer is logged), `all` (the same, with every state's input and
   * output, for debugging; kept for `logRetentionDays`, out of reach of "forget this thread") or `errors` (only the
   * failure events, with error and cause: a successful execution never shows in the console). @default 'events'
   */
  conversationExecutionLog: ExecutionLog;
  /** The same choice for the ingest state machine (document paths, sync reports). @default 'events' */
  ingestExecutionLog: ExecutionLog;
  /** `LOG_LEVEL` of every function, and the level Lambda's log controls let through. @default 'info' */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Retention of every log group (functions and state machines), in days. @default 30 */
  logRetentionDays: RetentionDays;
  /** An e-mail address subscribed to the alarms topic (it must confirm the subscription). @default undefined */
  alarmEmail?: string;
}

export const DEFAULT_CONFIG: BotConfig = {
  stackName: 'SlackRagBot',
  llmProvider: 'openai',
  chatModel: 'gpt-4.1-mini',
  temperature: 0,
  embeddingModel: 'text-embedding-3-small',
  bedrockRegion: undefined,
  embeddingDimensions: 1024,
  bedrockGuardrail: undefined,
  lancedbUri: undefined,
  lancedbRegion: 'us-east-1',
  ingestSchedule: 'cron(0 3 * * ? *)',
  ingestScheduleTimeZone: 'UTC',
  ingestMaxConcurrency: 4,
  ingestIndexTailRows: DEFAULT_INDEX_TAIL_ROWS,
  ingestOrigins: [],
  sourceLinks: {},
  historyTtlDays: 30,
  allowedChannels: [],
  channelCollections: undefined,
  collectionAudiences: undefined,
  slackStreamMode: 'update',
  slackBotUserId: undefined,
  slackTeamId: undefined,
  slackAppId: undefined,
  allowSlackConnect: false,
  allowGuests: false,
  slackSearch: false,
  followUps: 'asker',
  channelProfiles: undefined,
  dailyQuestionLimit: 0,
  dailyTokenBudget: undefined,
  ackReservedConcurrency: undefined,
  retrieveProvisionedConcurrency: undefined,
  retrieveMemoryMb: conversationFunctions.RetrieveFunctionArn.memoryMb,
  conversationExecutionLog: 'events',
  ingestExecutionLog: 'events',
  logLevel: 'info',
  logRetentionDays: RetentionDays.ONE_MONTH,
  alarmEmail: undefined,
};

/** The prefix of every context key this app reads, so they never collide with CDK's own flags. */
export const CONTEXT_PREFIX = 'bot:';

export class BotConfigError extends Error {
  override name = 'BotConfigError';
}

/** Reads one context value; `tryGetContext` is how a CDK app (or a test) hands them in. */
export type ContextReader = (key: string) => unknown;

function fail(key: string, expected: string, got: unknown): never {
  throw new BotConfigError(`context ${CONTEXT_PREFIX}${key} must be ${expected}; got ${JSON.stringify(got)}`);
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function str(raw: unknown, key: string, pattern?: RegExp, expected = 'a non-empty string'): string {
  if (typeof raw !== 'string' || raw.trim() === '' || (pattern && !pattern.test(raw.trim()))) {
    fail(key, expected, raw);
  }
  return raw.trim();
}

/** A count of Lambda environments set aside (1 to 1,000), or `none` (and the default): undefined. */
function concurrencyOrNone(raw: unknown, key: string): number | undefined {
  return raw === undefined || raw === 'none' ? undefined : num(raw, key, 1, 1000, true);
}

/** Numbers arrive as numbers from cdk.json and as strings from `-c`; both are accepted. */
function num(raw: unknown, key: string, min: number, max: number, integer: boolean): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(key, `a number from ${min} to ${max}`, raw);
  }
  if (integer && !Number.isInteger(value)) fail(key, `a whole number from ${min} to ${max}`, raw);
  return value;
}

function bool(raw: unknown, key: string): boolean {
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  return fail(key, 'true or false', raw);
}

function oneOf<T extends string>(raw: unknown, key: string, allowed: readonly T[]): T {
  if (typeof raw !== 'string' || !allowed.includes(raw as T)) fail(key, `one of ${allowed.join(', ')}`, raw);
  return raw as T;
}

const CHANNEL_ID = /^[A-Z0-9]+$/;

/** A list as a JSON array (cdk.json) or a comma-separated string (`-c bot:allowedChannels=C1,C2`). */
function channelIds(raw: unknown, key: string): string[] {
  const items = typeof raw === 'string' ? raw.split(',') : raw;
  if (!Array.isArray(items)) fail(key, 'a list of Slack channel ids such as ["C0123ABCD"]', raw);
  const ids = items.map((id) => (typeof id === 'string' ? id.trim() : id)).filter((id) => id !== '');
  if (!ids.every((id): id is string => typeof id === 'string' && CHANNEL_ID.test(id))) {
    fail(key, 'a list of Slack channel ids such as ["C0123ABCD"]', raw);
  }
  return ids;
}

const INGEST_ORIGIN = /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?|https?:\/\/[^\s/@]+(\/\S*)?)$/;

/** Origin prefixes (s3:// or a folder) mapped to public http(s) base addresses without credentials. */
function sourceLinks(raw: unknown, key: string): Record<string, string> {
  const expected = 'an object mapping origin prefixes to https:// base addresses, without credentials';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(key, expected, raw);
  for (const [prefix, base] of Object.entries(raw)) {
    if (prefix.trim() === '' || typeof base !== 'string' || !/^https?:\/\/[^\s/@]+(\/\S*)?$/.test(base)) {
      fail(key, expected, raw);
    }
  }
  return raw as Record<string, string>;
}

/**
 * Extra origins of the scheduled sync, as a JSON array (in cdk.json, or as a string with `-c`) or a comma-separated
 * string: `s3://` prefixes and http(s) sites, without credentials in the address (a secret in cdk.json would end in
 * the template), each alone or as `{"uri": "...", "collection": "..."}` declaring its documents' collection.
 */
function ingestOrigins(raw: unknown, key: string): OriginSpec[] {
  const expected =
    'a list of s3://bucket/prefix and https://site/path/ origins without credentials, each a string or ' +
    '{"uri": "...", "collection": "..."}';
  let items: unknown = raw;
  if (typeof raw === 'string') {
    if (raw.trim().startsWith('[')) {
      try {
        items = JSON.parse(raw);
      } catch {
        fail(key, expected, raw);
      }
    } else {
      items = raw.split(',');
    }
  }
  if (!Array.isArray(items)) fail(key, expected, raw);
  const origins: OriginSpec[] = [];
  for (const item of items) {
    if (typeof item === 'string' && item.trim() === '') continue;
    const origin = readOriginSpec(item);
    if ('problem' in origin) fail(key, `${expected} (${origin.problem})`, raw);
    if (!INGEST_ORIGIN.test(origin.uri)) fail(key, expected, raw);
    origins.push(
      origin.collection === undefined ? origin.uri : { uri: origin.uri, collection: origin.collection },
    );
  }
  return origins;
}

function collections(raw: unknown, key: string): Record<string, string[]> {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      fail(key, 'a JSON object such as {"C0123ABCD":["it"],"*":["public"]}', raw);
    }
  }
  const valid =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(value).every(
      ([channel, names]) =>
        (channel === '*' || CHANNEL_ID.test(channel)) &&
        Array.isArray(names) &&
        names.every((n) => typeof n === 'string' && n !== ''),
    );
  if (!valid) fail(key, 'an object mapping channel ids (or "*") to lists of collection names', raw);
  return value as Record<string, string[]>;
}

function profiles(raw: unknown, key: string, provider: BotConfig['llmProvider']): ChannelProfiles {
  const parsed = parseChannelProfiles(raw, provider);
  if (!parsed.ok) {
    fail(
      key,
      `an object mapping channel ids (or "*") to profiles such as {"C0123ABCD":{"instructions":"…","topK":4}} (${parsed.problem})`,
      raw,
    );
  }
  return parsed.value;
}

function audiences(raw: unknown, key: string): Record<string, string[]> {
  const parsed = parseCollectionAudiences(raw);
  if (!parsed.ok) {
    fail(
      key,
      `an object mapping collection names to audiences such as {"hr":["S0HRTEAM"],"it":["*"]} (${parsed.problem})`,
      raw,
    );
  }
  return parsed.value as Record<string, string[]>;
}

/**
 * The provider block: the provider, its models (each provider's defaults when unset) and Bedrock's own settings. A
 * model of the other provider is refused here, at synth, rather than failing every question after the deploy.
 */
function modelSettings(
  raw: Record<string, unknown>,
): Pick<
  BotConfig,
  | 'llmProvider'
  | 'chatModel'
  | 'temperature'
  | 'embeddingModel'
  | 'bedrockRegion'
  | 'embeddingDimensions'
  | 'bedrockGuardrail'
> {
  const d = DEFAULT_CONFIG;
  const llmProvider =
    raw.llmProvider === undefined
      ? d.llmProvider
      : oneOf(raw.llmProvider, 'llmProvider', ['openai', 'bedrock', 'local']);
  const bedrock = llmProvider === 'bedrock';
  const chatModel =
    raw.chatModel === undefined
      ? bedrock
        ? BEDROCK_DEFAULT_CHAT_MODEL
        : d.chatModel
      : str(raw.chatModel, 'chatModel');
  const embeddingModel =
    raw.embeddingModel === undefined
      ? bedrock
        ? BEDROCK_DEFAULT_EMBEDDING_MODEL
        : d.embeddingModel
      : str(raw.embeddingModel, 'embeddingModel');
  for (const [key, model] of [
    ['chatModel', chatModel],
    ['embeddingModel', embeddingModel],
  ] as const) {
    if (bedrock && parseBedrockModelId(model) === undefined) {
      fail(
        key,
        'a Bedrock model id (amazon.nova-lite-v1:0), inference profile id (us.anthropic.claude-haiku-4-5-20251001-v1:0) ' +
          'or ARN, since bot:llmProvider is bedrock',
        model,
      );
    }
    if (llmProvider === 'openai' && providerOfModel(model) === 'bedrock') {
      fail(
        key,
        'an OpenAI model name such as gpt-4.1-mini, since bot:llmProvider is openai (set it to bedrock)',
        model,
      );
    }
  }
  const embeddingDimensions =
    raw.embeddingDimensions === undefined
      ? d.embeddingDimensions
      : num(raw.embeddingDimensions, 'embeddingDimensions', 8, 8192, true);
  if (
    bedrock &&
    embeddingModel.includes('titan-embed-text-v2') &&
    !TITAN_V2_DIMENSIONS.includes(embeddingDimensions)
  ) {
    fail('embeddingDimensions', `256, 512 or 1024 for ${embeddingModel}`, raw.embeddingDimensions);
  }
  return {
    llmProvider,
    chatModel,
    temperature:
      raw.temperature === undefined ? d.temperature : num(raw.temperature, 'temperature', 0, 2, false),
    embeddingModel,
    bedrockRegion:
      raw.bedrockRegion === undefined
        ? d.bedrockRegion
        : str(
            raw.bedrockRegion,
            'bedrockRegion',
            /^[a-z]{2}(-gov)?-[a-z]+-\d$/,
            'an AWS region such as us-west-2',
          ),
    embeddingDimensions,
    bedrockGuardrail:
      raw.bedrockGuardrail === undefined
        ? d.bedrockGuardrail
        : guardrail(raw.bedrockGuardrail, 'bedrockGuardrail'),
  };
}

/** `id:version` (the form `BEDROCK_GUARDRAIL` takes) or `{"id", "version"}`; the version a number or DRAFT. */
function guardrail(raw: unknown, key: string): { id: string; version: string } {
  const expected =
    'a Bedrock Guardrail as "<id>:<version>" such as "gr1abc2def3:1", or {"id": "…", "version": "…"}';
  const value =
    typeof raw === 'string'
      ? raw.trim()
      : typeof raw === 'object' && raw !== null
        ? `${String((raw as { id?: unknown }).id)}:${String((raw as { version?: unknown }).version)}`
        : '';
  const match = /^([a-z0-9]{1,64}):(DRAFT|\d{1,8})$/.exec(value);
  if (match === null) fail(key, expected, raw);
  return { id: match[1] ?? '', version: match[2] ?? '' };
}

const RETENTION_DAYS = Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === 'number');

/**
 * The deployment's configuration: each `bot:<setting>` context value validated, the default where it is unset.
 * Fails naming the key, so a typo stops `cdk synth` instead of deploying something else.
 */
export function readConfig(context: ContextReader): BotConfig {
  const get = (key: keyof BotConfig) => {
    const value = context(`${CONTEXT_PREFIX}${key}`);
    return isBlank(value) ? undefined : value;
  };
  const d = DEFAULT_CONFIG;
  const raw = {
    stackName: get('stackName'),
    llmProvider: get('llmProvider'),
    chatModel: get('chatModel'),
    temperature: get('temperature'),
    embeddingModel: get('embeddingModel'),
    bedrockRegion: get('bedrockRegion'),
    embeddingDimensions: get('embeddingDimensions'),
    bedrockGuardrail: get('bedrockGuardrail'),
    lancedbUri: get('lancedbUri'),
    lancedbRegion: get('lancedbRegion'),
    ingestSchedule: get('ingestSchedule'),
    ingestScheduleTimeZone: get('ingestScheduleTimeZone'),
    ingestMaxConcurrency: get('ingestMaxConcurrency'),
    ingestIndexTailRows: get('ingestIndexTailRows'),
    ingestOrigins: get('ingestOrigins'),
    sourceLinks: get('sourceLinks'),
    historyTtlDays: get('historyTtlDays'),
    allowedChannels: get('allowedChannels'),
    channelCollections: get('channelCollections'),
    collectionAudiences: get('collectionAudiences'),
    slackStreamMode: get('slackStreamMode'),
    slackBotUserId: get('slackBotUserId'),
    slackTeamId: get('slackTeamId'),
    slackAppId: get('slackAppId'),
    allowSlackConnect: get('allowSlackConnect'),
    allowGuests: get('allowGuests'),
    slackSearch: get('slackSearch'),
    followUps: get('followUps'),
    channelProfiles: get('channelProfiles'),
    suggestedPrompts: get('suggestedPrompts'),
    dailyQuestionLimit: get('dailyQuestionLimit'),
    dailyTokenBudget: get('dailyTokenBudget'),
    ackReservedConcurrency: get('ackReservedConcurrency'),
    retrieveProvisionedConcurrency: get('retrieveProvisionedConcurrency'),
    retrieveMemoryMb: get('retrieveMemoryMb'),
    conversationExecutionLog: get('conversationExecutionLog'),
    ingestExecutionLog: get('ingestExecutionLog'),
    logLevel: get('logLevel'),
    logRetentionDays: get('logRetentionDays'),
    alarmEmail: get('alarmEmail'),
  };
  const retention =
    raw.logRetentionDays === undefined
      ? d.logRetentionDays
      : num(raw.logRetentionDays, 'logRetentionDays', 1, 3653, true);
  if (!RETENTION_DAYS.includes(retention)) {
    fail(
      'logRetentionDays',
      `one of CloudWatch Logs' retention periods (${RETENTION_DAYS.join(', ')})`,
      retention,
    );
  }
  const models = modelSettings(raw);
  const llmProvider = models.llmProvider;
  return {
    ...models,
    stackName:
      raw.stackName === undefined
        ? d.stackName
        : str(raw.stackName, 'stackName', /^[A-Za-z][A-Za-z0-9-]{0,100}$/, 'a CloudFormation stack name'),
    lancedbUri:
      raw.lancedbUri === undefined
        ? d.lancedbUri
        : str(
            raw.lancedbUri,
            'lancedbUri',
            /^db:\/\/[A-Za-z0-9][A-Za-z0-9_-]*(\/\S*)?$/,
            'a LanceDB Cloud URI such as db://my-database (the key goes in the LanceDbApiKey secret, never here)',
          ),
    lancedbRegion:
      raw.lancedbRegion === undefined
        ? d.lancedbRegion
        : str(raw.lancedbRegion, 'lancedbRegion', /^[a-z0-9-]+$/, 'a LanceDB Cloud region such as us-east-1'),
    ingestSchedule:
      raw.ingestSchedule === undefined
        ? d.ingestSchedule
        : str(
            raw.ingestSchedule,
            'ingestSchedule',
            /^(cron|rate|at)\(.+\)$/,
            'an EventBridge Scheduler expression such as cron(0 3 * * ? *) or rate(6 hours)',
          ),
    ingestScheduleTimeZone:
      raw.ingestScheduleTimeZone === undefined
        ? d.ingestScheduleTimeZone
        : str(
            raw.ingestScheduleTimeZone,
            'ingestScheduleTimeZone',
            /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/,
            'an IANA time zone such as Europe/Paris',
          ),
    ingestOrigins:
      raw.ingestOrigins === undefined ? d.ingestOrigins : ingestOrigins(raw.ingestOrigins, 'ingestOrigins'),
    sourceLinks: isBlank(raw.sourceLinks) ? d.sourceLinks : sourceLinks(raw.sourceLinks, 'sourceLinks'),
    historyTtlDays:
      raw.historyTtlDays === undefined
        ? d.historyTtlDays
        : num(raw.historyTtlDays, 'historyTtlDays', 1, 3650, true),
    allowedChannels:
      raw.allowedChannels === undefined
        ? d.allowedChannels
        : channelIds(raw.allowedChannels, 'allowedChannels'),
    channelCollections:
      raw.channelCollections === undefined
        ? d.channelCollections
        : collections(raw.channelCollections, 'channelCollections'),
    collectionAudiences: isBlank(raw.collectionAudiences)
      ? d.collectionAudiences
      : audiences(raw.collectionAudiences, 'collectionAudiences'),
    slackStreamMode:
      raw.slackStreamMode === undefined
        ? d.slackStreamMode
        : oneOf(raw.slackStreamMode, 'slackStreamMode', ['update', 'native']),
    slackBotUserId:
      raw.slackBotUserId === undefined
        ? d.slackBotUserId
        : str(raw.slackBotUserId, 'slackBotUserId', /^[UW][A-Z0-9]+$/, 'a Slack user id such as U0123ABCD'),
    slackTeamId:
      raw.slackTeamId === undefined
        ? d.slackTeamId
        : str(
            raw.slackTeamId,
            'slackTeamId',
            /^[TE][A-Z0-9]+$/,
            'a Slack team id such as T0123ABCD (or E0123ABCD, the organisation of an org-wide install)',
          ),
    slackAppId:
      raw.slackAppId === undefined
        ? d.slackAppId
        : str(raw.slackAppId, 'slackAppId', /^A[A-Z0-9]+$/, 'a Slack app id such as A0123ABCD'),
    allowSlackConnect:
      raw.allowSlackConnect === undefined
        ? d.allowSlackConnect
        : bool(raw.allowSlackConnect, 'allowSlackConnect'),
    allowGuests: raw.allowGuests === undefined ? d.allowGuests : bool(raw.allowGuests, 'allowGuests'),
    slackSearch: raw.slackSearch === undefined ? d.slackSearch : bool(raw.slackSearch, 'slackSearch'),
    followUps:
      raw.followUps === undefined
        ? d.followUps
        : oneOf(raw.followUps, 'followUps', ['off', 'asker', 'anyone']),
    channelProfiles: isBlank(raw.channelProfiles)
      ? d.channelProfiles
      : profiles(raw.channelProfiles, 'channelProfiles', llmProvider),
    suggestedPrompts:
      raw.suggestedPrompts === undefined ? d.suggestedPrompts : str(raw.suggestedPrompts, 'suggestedPrompts'),
    ingestMaxConcurrency:
      raw.ingestMaxConcurrency === undefined
        ? d.ingestMaxConcurrency
        : num(raw.ingestMaxConcurrency, 'ingestMaxConcurrency', 1, MAX_INGEST_CONCURRENCY, true),
    ingestIndexTailRows:
      raw.ingestIndexTailRows === undefined
        ? d.ingestIndexTailRows
        : num(raw.ingestIndexTailRows, 'ingestIndexTailRows', 0, MAX_INDEX_TAIL_ROWS, true),
    dailyQuestionLimit:
      raw.dailyQuestionLimit === undefined
        ? d.dailyQuestionLimit
        : num(raw.dailyQuestionLimit, 'dailyQuestionLimit', 0, 100_000, true),
    dailyTokenBudget:
      raw.dailyTokenBudget === undefined
        ? d.dailyTokenBudget
        : num(raw.dailyTokenBudget, 'dailyTokenBudget', 1, 1e12, true),
    ackReservedConcurrency: concurrencyOrNone(raw.ackReservedConcurrency, 'ackReservedConcurrency'),
    retrieveProvisionedConcurrency: concurrencyOrNone(
      raw.retrieveProvisionedConcurrency,
      'retrieveProvisionedConcurrency',
    ),
    retrieveMemoryMb:
      raw.retrieveMemoryMb === undefined
        ? d.retrieveMemoryMb
        : num(raw.retrieveMemoryMb, 'retrieveMemoryMb', 128, 10_240, true),
    conversationExecutionLog:
      raw.conversationExecutionLog === undefined
        ? d.conversationExecutionLog
        : oneOf(raw.conversationExecutionLog, 'conversationExecutionLog', EXECUTION_LOGS),
    ingestExecutionLog:
      raw.ingestExecutionLog === undefined
        ? d.ingestExecutionLog
        : oneOf(raw.ingestExecutionLog, 'ingestExecutionLog', EXECUTION_LOGS),
    logLevel:
      raw.logLevel === undefined
        ? d.logLevel
        : oneOf(raw.logLevel, 'logLevel', ['debug', 'info', 'warn', 'error']),
    logRetentionDays: retention,
    alarmEmail:
      raw.alarmEmail === undefined
        ? d.alarmEmail
        : str(raw.alarmEmail, 'alarmEmail', /^[^@\s]+@[^@\s]+$/, 'an e-mail address'),
  };
}
