import { type CollectionAudiences, parseCollectionAudiences } from './access/reach';
import { type ChannelProfiles, parseChannelProfiles } from './channel-profiles';
import { ConfigError } from './errors';
import { type OriginSpec, originSpecOf, readOriginSpecs } from './ingest/origin-spec';

/**
 * The one place that reads the environment. `loadConfig` validates every variable it knows, applies the
 * defaults, and fails fast with the variable's name; the rest of the code takes the resulting object.
 * Secrets are never read here: only where to find them (a value for local runs, an ARN in AWS).
 */

export type Env = Record<string, string | undefined>;

/** Where a secret comes from: its value (local runs, tests) or a Secrets Manager ARN (AWS). */
export type SecretRef = { value: string } | { arn: string };

export type LlmProvider = 'openai' | 'bedrock' | 'local';
export type StreamMode = 'update' | 'native';

/**
 * Most child executions of the ingest's Distributed Map at once: Lambda's default concurrency quota per account,
 * which the sync's Batch functions would otherwise exhaust for every other function.
 */
export const MAX_INGEST_CONCURRENCY = 1_000;

/**
 * `INGEST_INDEX_TAIL_ROWS` unless set. Each unindexed row adds about 6.8 KB to a question's reads from S3 (its
 * vector and text; measured from 122 to 1,019 rows at 30,695 chunks, docs/performance.md section 16), now once per
 * table version, since Retrieve holds up to 1,000 such rows in memory (`TAIL_IN_MEMORY_MAX_ROWS`): a tail of at most
 * 149 rows adds at most 1 MB, so a warm question that read under 1 MB (section 6, up to 100,000 chunks) stays under
 * 2 MB. A sync of a few documents (20–95 chunks) leaves the full-text index as it was; about
 * every third such sync folds the tail in.
 */
export const DEFAULT_INDEX_TAIL_ROWS = 150;
/** The most `INGEST_INDEX_TAIL_ROWS` may be: past 1,000 rows LanceDB scans them for every question (68 MB here). */
export const MAX_INDEX_TAIL_ROWS = 10_000;

export interface AppConfig {
  region: string;
  /** Endpoints of the local stand-ins; unset in AWS, where the SDKs find the real ones. */
  endpoints: { dynamodb?: string; sfn?: string; s3?: string; secretsManager?: string; slackApi?: string };
  /** DynamoDB table for thread history, event dedupe and answer claims (`CONVERSATION_TABLE`). */
  conversationTable?: string;
  /** The conversation state machine the ack starts (`CONVERSATION_STATE_MACHINE_ARN`). */
  stateMachineArn?: string;
  secrets: {
    slackSigningSecret?: SecretRef;
    slackBotToken?: SecretRef;
    openaiApiKey?: SecretRef;
    /** LanceDB Cloud's API key (`LANCEDB_API_KEY`, or `LANCEDB_API_KEY_ARN` in AWS): only for a `db://` store. */
    lancedbApiKey?: SecretRef;
  };
  slack: {
    streamMode: StreamMode;
    /** Retries of one Slack Web API call, kept low so they fit a step's timeout. */
    maxRetries: number;
    /** The bot's own user id, when known, saves an `auth.test` call on a cold start. */
    botUserId?: string;
    /**
     * The installing workspace (`SLACK_TEAM_ID`): events for another workspace are refused, and a person whose
     * team is another one is an external (Slack Connect) user. Read from `auth.test` when unset. An `E…` id is an
     * org-wide install on Enterprise Grid: events from any workspace of that organisation are accepted, and its
     * members are insiders whichever workspace they are in (who-may-ask.ts).
     */
    teamId?: string;
    /** The app's id (`SLACK_APP_ID`): events for another app are refused. Read from `auth.test` when unset. */
    appId?: string;
    /**
     * Which replies in a channel thread the bot answered in are answered without a mention (`FOLLOW_UPS`): `off`,
     * `asker` (the person who asked first; the default) or `anyone`.
     */
    followUps: 'off' | 'asker' | 'anyone';
    /** The agent pane's suggested prompts (`SUGGESTED_PROMPTS`: a JSON array of strings or {title, message}). */
    suggestedPrompts: Array<{ title: string; message: string }>;
    /** Questions one person may ask per UTC day (`DAILY_QUESTION_LIMIT`); unset or 0: no limit. */
    dailyQuestionLimit?: number;
    /**
     * Whether Retrieve also searches Slack messages the asker can see, with Slack's Real-time Search API
     * (`SLACK_SEARCH`; off by default). The ack then carries the event's short-lived `action_token` to Retrieve.
     * See README "Slack messages as sources".
     */
    search: boolean;
  };
  /**
   * Assistants per channel (`CHANNEL_PROFILES`, JSON): instructions, model, top-k and follow-up policy by channel id
   * or `*` (every other channel, DMs and the agent pane). Undefined: every place answers alike. See channel-profiles.ts.
   */
  channelProfiles?: ChannelProfiles;
  llm: {
    provider: LlmProvider;
    chatModel: string;
    temperature: number;
    maxOutputTokens: number;
    embeddingModel: string;
    /** Base URL of an OpenAI-compatible server (`OPENAI_BASE_URL`). */
    baseUrl?: string;
    timeoutMs: number;
    maxRetries: number;
    /** Amazon Bedrock's settings, when the provider is `bedrock`. */
    bedrock?: BedrockConfig;
  };
  vectorStore: {
    /**
     * `LANCEDB_URI`: a local directory, `s3://bucket/prefix`, or `db://database` for LanceDB Cloud (then `cloud` is
     * set and the key is `secrets.lancedbApiKey`).
     */
    uri: string;
    /** LanceDB Cloud's settings, for a `db://` URI only. */
    cloud?: LanceDbCloudConfig;
    table: string;
    topK: number;
    /**
     * How stale a warm Retrieve's open table may be, in seconds (`LANCEDB_READ_CONSISTENCY_SECONDS`): once this
     * long has passed, its next question checks for a version a sync committed (one LIST on S3). 0 checks on every
     * read, which a local stack affords.
     */
    readConsistencySeconds: number;
  };
  history: {
    maxTurns: number;
    maxChars: number;
    ttlDays: number;
  };
  /** How long an `event_id` is remembered by the ack's dedupe, in seconds. */
  dedupeTtlSeconds: number;
  /** Longest question accepted, in characters; longer ones get a clear reply and no model call. */
  maxQuestionChars: number;
  access: {
    /** Channels the bot answers in (`ALLOWED_CHANNELS`); undefined means every channel it is invited to. */
    allowedChannels?: readonly string[];
    /**
     * Which document collections each channel may read (`CHANNEL_COLLECTIONS`, JSON), `*` for any other
     * channel. Undefined means no restriction: every channel reads every document.
     */
    channelCollections?: Readonly<Record<string, readonly string[]>>;
    /**
     * Who may read each collection (`COLLECTION_AUDIENCES`, JSON): user groups (`S…`), people (`U…`), channels
     * (`C…`/`G…`) or everyone (`*`). A collection not named is open to everyone. See core/access/reach.ts.
     */
    collectionAudiences?: CollectionAudiences;
    /**
     * How long a warm function uses Slack's answer about who is in which user group, in seconds
     * (`USER_GROUPS_CACHE_SECONDS`, at most 300): how long someone removed from a group keeps its collections.
     */
    userGroupsCacheSeconds: number;
    /**
     * Whether people from other organisations (Slack Connect) and channels shared with them are answered
     * (`ALLOW_SLACK_CONNECT`). Off by default: only members of the installing workspace get answers.
     */
    allowSlackConnect: boolean;
    /** Whether guests (single- and multi-channel, `ALLOW_GUESTS`) are answered. Off by default. */
    allowGuests: boolean;
  };
  /** Document ingestion: the `INGEST_*` variables. */
  ingest: IngestConfig;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

/** Amazon Bedrock, when `LLM_PROVIDER=bedrock`: models are reached with the function's IAM role, no key. */
export interface BedrockConfig {
  /** The region Bedrock is called in (`BEDROCK_REGION`). @default the function's own region */
  region: string;
  /** Another endpoint than Bedrock's own (`BEDROCK_ENDPOINT`): the local stand-in, or a VPC endpoint. */
  endpoint?: string;
  /** Length of the embedding vectors (`EMBEDDING_DIMENSIONS`: 256, 512 or 1024 for Titan v2). @default 1024 */
  embeddingDimensions: number;
  /** A Bedrock Guardrail applied to every answer (`BEDROCK_GUARDRAIL`: `id:version`). */
  guardrail?: { id: string; version: string };
}

/** The models the `bedrock` provider uses unless `OPENAI_MODEL` / `OPENAI_EMBEDDING_MODEL` name others. */
export const BEDROCK_DEFAULT_CHAT_MODEL = 'amazon.nova-lite-v1:0';
export const BEDROCK_DEFAULT_EMBEDDING_MODEL = 'amazon.titan-embed-text-v2:0';
/** The sizes Titan Text Embeddings V2 can return. */
export const TITAN_V2_DIMENSIONS: readonly number[] = [256, 512, 1024];

/** Where a `db://` vector store is served: LanceDB Cloud's region, or another host (LanceDB Enterprise, a stand-in). */
export interface LanceDbCloudConfig {
  /** The database's LanceDB Cloud region (`LANCEDB_REGION`). @default 'us-east-1' */
  region: string;
  /** Another address than `https://<database>.<region>.api.lancedb.com` (`LANCEDB_HOST_OVERRIDE`). */
  hostOverride?: string;
}

/** How documents are synced into the vector store (`npm run ingest`, the scheduled ingest state machine). */
export interface IngestConfig {
  /**
   * What a sync started without origins reads (the scheduled one): `s3://bucket/prefix`, local paths or globs
   * (`INGEST_ORIGINS`: comma-separated, or a JSON array whose items may be `{"uri", "collection"}` objects).
   */
  origins: readonly OriginSpec[];
  /** Where batches stage their embedded rows for Commit: `s3://bucket/prefix` or a local directory. */
  stagingUri: string;
  /** Longest chunk, in characters (`INGEST_CHUNK_SIZE`). */
  chunkSize: number;
  /** Characters a chunk repeats from the previous one (`INGEST_CHUNK_OVERLAP`), less than the chunk size. */
  chunkOverlap: number;
  /** Largest document accepted, in bytes (`INGEST_MAX_FILE_BYTES`); larger ones are reported and skipped. */
  maxFileBytes: number;
  /**
   * Largest PDF or Word file accepted, in bytes (`INGEST_MAX_PDF_WORD_BYTES`): their bytes are mostly layout, fonts
   * and images, so the same text takes several times the bytes of Markdown.
   */
  maxPdfWordBytes: number;
  /**
   * Public base addresses of origins (`INGEST_SOURCE_LINKS`, JSON): a document under a prefix gets the base address
   * followed by its path under the prefix as its link, so its sources link to it (a wiki exported to S3, say).
   */
  sourceLinks: Readonly<Record<string, string>>;
  /** Documents per batch of the Map (`INGEST_BATCH_DOCUMENTS`); raised automatically for very large syncs. */
  batchDocuments: number;
  /**
   * Child executions of the Distributed Map at once (`INGEST_CONCURRENCY`, set from `bot:ingestMaxConcurrency`):
   * each embeds its batches one after another, so this is also the most batches embedded at once.
   */
  concurrency: number;
  /** Rows from which a vector index is built (`INGEST_VECTOR_INDEX_MIN_ROWS`, 256); exact search below it. */
  vectorIndexMinRows: number;
  /** How long the sync lock holds when its owner dies without releasing it (`INGEST_LOCK_TTL_SECONDS`). */
  lockTtlSeconds: number;
  /** Table versions younger than this survive compaction (`INGEST_KEEP_VERSIONS_SECONDS`), for warm readers. */
  keepVersionsSeconds: number;
  /**
   * Unindexed rows Optimize leaves after a sync (`INGEST_INDEX_TAIL_ROWS`, 150): below it, the new rows are not
   * folded into the indexes (which rewrites the whole full-text index, reloaded by every warm Retrieve) and are
   * searched by a flat scan; 0 folds after every sync.
   */
  indexTailRows: number;
  /**
   * LangChain's retries of one embedding request after a 5xx or a dropped connection (`INGEST_EMBED_MAX_RETRIES`);
   * a 429 is the batch's to wait out (ingest/embedding-requests.ts).
   */
  embedMaxRetries: number;
  /** Pages listed from one web site at most (`INGEST_WEB_MAX_PAGES`, 1,000); the rest are reported as skipped. */
  webMaxPages: number;
  /** How long one request to a web site may take, body included (`INGEST_WEB_TIMEOUT_MS`, 15,000). */
  webTimeoutMs: number;
  /** Requests a second to one web site at most (`INGEST_WEB_REQUESTS_PER_SECOND`, 5); Crawl-delay may slow it. */
  webRequestsPerSecond: number;
}

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}"`);
  }
  return value;
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number from ${min} to ${max}; got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase() as T;
  if (!allowed.includes(value))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}; got "${raw}"`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw new ConfigError(`${name} must be true or false; got "${raw}"`);
}

function slackId(env: Env, name: string, prefix: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !new RegExp(`^${prefix}[A-Z0-9]+$`).test(raw)) {
    throw new ConfigError(`${name} must be a Slack id starting with ${prefix}; got "${raw}"`);
  }
  return raw;
}

function url(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL; got "${raw}"`);
  }
  return raw;
}

function idList(env: Env, name: string): string[] | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const ids = raw
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (ids.some((id) => !/^[A-Z0-9]+$/.test(id))) {
    throw new ConfigError(
      `${name} must be comma-separated Slack channel ids such as C0123ABCD; got "${raw}"`,
    );
  }
  return ids;
}

function collectionMap(env: Env, name: string): Record<string, string[]> | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} must be JSON such as {"C0123ABCD":["it","people"],"*":["public"]}`);
  }
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((v) => Array.isArray(v) && v.every((c) => typeof c === 'string' && c !== ''));
  if (!valid) throw new ConfigError(`${name} must map channel ids (or "*") to lists of collection names`);
  return parsed as Record<string, string[]>;
}

function collectionAudiences(env: Env, name: string): CollectionAudiences | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const parsed = parseCollectionAudiences(raw);
  if (!parsed.ok) {
    throw new ConfigError(
      `${name} must be JSON such as {"hr":["S0HRTEAM"],"it":["*"],"finance":["S0FINANCE","U0CFO0001"]}: ${parsed.problem}`,
    );
  }
  return parsed.value;
}

/**
 * `INGEST_SOURCE_LINKS`: where the documents under an origin can be opened by a person, as JSON mapping an origin
 * prefix to a public base address (`{"s3://wiki-export/pages/":"https://wiki.example.internal/"}`). Only http(s)
 * addresses, without credentials.
 */
function sourceLinks(env: Env, name: string): Record<string, string> {
  const raw = text(env, name);
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      `${name} must be JSON such as {"s3://bucket/wiki/":"https://wiki.example.internal/"}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${name} must map origin prefixes to public base addresses`);
  }
  const links: Record<string, string> = {};
  for (const [prefix, base] of Object.entries(parsed)) {
    let url: URL | undefined;
    try {
      url = typeof base === 'string' ? new URL(base) : undefined;
    } catch {
      url = undefined;
    }
    if (
      prefix.trim() === '' ||
      url === undefined ||
      !/^https?:$/.test(url.protocol) ||
      url.username ||
      url.password
    ) {
      throw new ConfigError(`${name}: "${prefix}" must map to an http(s) address without credentials`);
    }
    links[prefix] = String(base);
  }
  return links;
}

/** `CHANNEL_PROFILES`: validated for the deployment's provider, failing with the bad entry named. */
function channelProfiles(
  env: Env,
  name: string,
  provider: LlmProvider | undefined,
): ChannelProfiles | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const parsed = parseChannelProfiles(raw, provider);
  if (!parsed.ok) {
    throw new ConfigError(
      `${name} must be JSON such as {"C0123ABCD":{"instructions":"…","topK":4},"*":{"followUps":"off"}}: ${parsed.problem}`,
    );
  }
  return parsed.value;
}

/** The prompts shown when the agent pane opens, unless `SUGGESTED_PROMPTS` names others. */
export const DEFAULT_SUGGESTED_PROMPTS = [
  { title: 'What can you answer?', message: 'What kinds of questions can you answer from our documents?' },
  { title: 'How do I get on the VPN?', message: 'How do I connect to the VPN?' },
  { title: 'Expenses', message: 'How do I submit an expense claim?' },
];

/** At most 4 (Slack's limit), each title at most 75 characters. */
function suggestedPrompts(env: Env, name: string): Array<{ title: string; message: string }> {
  const raw = env[name]?.trim();
  if (!raw) return DEFAULT_SUGGESTED_PROMPTS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} must be a JSON array of strings or of {"title", "message"} objects`);
  }
  if (!Array.isArray(parsed) || parsed.length > 4)
    throw new ConfigError(`${name} must be a JSON array of at most 4 prompts`);
  return parsed.map((item: unknown) => {
    const prompt =
      typeof item === 'string'
        ? { title: item, message: item }
        : (item as { title?: unknown; message?: unknown } | null);
    if (typeof prompt?.title !== 'string' || typeof prompt.message !== 'string' || prompt.title.trim() === '')
      throw new ConfigError(`${name}: every prompt needs a title and a message`);
    if (prompt.title.length > 75) throw new ConfigError(`${name}: a prompt's title is at most 75 characters`);
    return { title: prompt.title.trim(), message: prompt.message.trim() };
  });
}

/**
 * `INGEST_ORIGINS`: comma-separated addresses, or a JSON array of addresses and `{"uri": "...", "collection": "..."}`
 * objects (`[{"uri":"s3://docs/hr/","collection":"hr"},"s3://docs/public/"]`), an origin declaring the collection of
 * the documents it holds.
 */
function origins(env: Env, name: string): OriginSpec[] {
  const raw = text(env, name);
  if (raw === undefined || !raw.startsWith('[')) return list(env, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      `${name} must be comma-separated origins, or a JSON array such as ["s3://docs/public/",{"uri":"s3://docs/hr/","collection":"hr"}]`,
    );
  }
  const read = Array.isArray(parsed)
    ? readOriginSpecs(parsed)
    : { problem: 'a JSON value that is not an array' };
  if ('problem' in read) throw new ConfigError(`${name}: ${read.problem}`);
  return read.map(originSpecOf);
}

function list(env: Env, name: string): string[] {
  return (text(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function ingestConfig(env: Env): IngestConfig {
  const chunkSize = integer(env, 'INGEST_CHUNK_SIZE', 1_000, 100, 8_000);
  const chunkOverlap = integer(env, 'INGEST_CHUNK_OVERLAP', 150, 0, 4_000);
  if (chunkOverlap >= chunkSize) {
    throw new ConfigError(
      `INGEST_CHUNK_OVERLAP must be less than INGEST_CHUNK_SIZE (${chunkSize}); got "${chunkOverlap}"`,
    );
  }
  return {
    origins: origins(env, 'INGEST_ORIGINS'),
    stagingUri: text(env, 'INGEST_STAGING_URI') ?? '.local/ingest-staging',
    chunkSize,
    chunkOverlap,
    maxFileBytes: integer(env, 'INGEST_MAX_FILE_BYTES', 2 * 1024 * 1024, 1, 100 * 1024 * 1024),
    maxPdfWordBytes: integer(env, 'INGEST_MAX_PDF_WORD_BYTES', 32 * 1024 * 1024, 1, 200 * 1024 * 1024),
    sourceLinks: sourceLinks(env, 'INGEST_SOURCE_LINKS'),
    batchDocuments: integer(env, 'INGEST_BATCH_DOCUMENTS', 25, 1, 1_000),
    concurrency: integer(env, 'INGEST_CONCURRENCY', 4, 1, MAX_INGEST_CONCURRENCY),
    // DEFAULT_VECTOR_INDEX_MIN_ROWS of vector-store/document-table.ts, not imported: config loads no LanceDB.
    vectorIndexMinRows: integer(env, 'INGEST_VECTOR_INDEX_MIN_ROWS', 256, 1, 1_000_000_000),
    lockTtlSeconds: integer(env, 'INGEST_LOCK_TTL_SECONDS', 7_200, 10, 86_400),
    keepVersionsSeconds: integer(env, 'INGEST_KEEP_VERSIONS_SECONDS', 3_600, 0, 30 * 86_400),
    // Each unindexed row costs every question a flat scan of its vector and text (about 7 KB from S3): capped so
    // that a misconfiguration cannot make warm questions read tens of megabytes.
    indexTailRows: integer(env, 'INGEST_INDEX_TAIL_ROWS', DEFAULT_INDEX_TAIL_ROWS, 0, MAX_INDEX_TAIL_ROWS),
    embedMaxRetries: integer(env, 'INGEST_EMBED_MAX_RETRIES', 5, 0, 10),
    webMaxPages: integer(env, 'INGEST_WEB_MAX_PAGES', 1_000, 1, 100_000),
    webTimeoutMs: integer(env, 'INGEST_WEB_TIMEOUT_MS', 15_000, 100, 120_000),
    webRequestsPerSecond: integer(env, 'INGEST_WEB_REQUESTS_PER_SECOND', 5, 1, 100),
  };
}

/** `LANCEDB_URI=db://name` (LanceDB Cloud) or `db://name/prefix`: the name is the database's, as LanceDB shows it. */
const LANCEDB_CLOUD_URI = /^db:\/\/[A-Za-z0-9][A-Za-z0-9_-]*(\/[^\s]*)?$/;

function lancedbCloud(env: Env, uri: string): LanceDbCloudConfig | undefined {
  if (!uri.startsWith('db://')) return undefined;
  if (!LANCEDB_CLOUD_URI.test(uri)) {
    throw new ConfigError(`LANCEDB_URI must be db://<database name> for LanceDB Cloud; got "${uri}"`);
  }
  const region = text(env, 'LANCEDB_REGION') ?? 'us-east-1';
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw new ConfigError(`LANCEDB_REGION must be a LanceDB Cloud region such as us-east-1; got "${region}"`);
  }
  const hostOverride = url(env, 'LANCEDB_HOST_OVERRIDE');
  return { region, ...(hostOverride === undefined ? {} : { hostOverride }) };
}

/**
 * `LLM_PROVIDER=bedrock`'s own variables. Titan v2 takes only 256, 512 or 1024 dimensions; another embedding model's
 * size is checked by the model itself.
 */
function bedrockConfig(env: Env, region: string, embeddingModel: string): BedrockConfig {
  const embeddingDimensions = integer(env, 'EMBEDDING_DIMENSIONS', 1024, 8, 8192);
  if (embeddingModel.includes('titan-embed-text-v2') && !TITAN_V2_DIMENSIONS.includes(embeddingDimensions)) {
    throw new ConfigError(
      `EMBEDDING_DIMENSIONS must be 256, 512 or 1024 for ${embeddingModel}; got "${embeddingDimensions}"`,
    );
  }
  const guardrailRaw = text(env, 'BEDROCK_GUARDRAIL');
  const guardrail =
    guardrailRaw === undefined ? undefined : /^([a-z0-9]{1,64}):(DRAFT|\d{1,8})$/.exec(guardrailRaw);
  if (guardrail === null) {
    throw new ConfigError(
      `BEDROCK_GUARDRAIL must be <guardrail id>:<version> such as gr1abc2def3:1 (or :DRAFT); got "${guardrailRaw}"`,
    );
  }
  const endpoint = url(env, 'BEDROCK_ENDPOINT');
  return {
    region: text(env, 'BEDROCK_REGION') ?? region,
    ...(endpoint === undefined ? {} : { endpoint }),
    embeddingDimensions,
    ...(guardrail === undefined
      ? {}
      : { guardrail: { id: guardrail[1] ?? '', version: guardrail[2] ?? '' } }),
  };
}

function secret(env: Env, name: string): SecretRef | undefined {
  const arn = text(env, `${name}_ARN`);
  const value = text(env, name);
  if (arn !== undefined && value !== undefined) {
    throw new ConfigError(`set either ${name} or ${name}_ARN, not both`);
  }
  if (arn !== undefined) {
    if (!arn.startsWith('arn:')) throw new ConfigError(`${name}_ARN must be a Secrets Manager ARN`);
    return { arn };
  }
  return value === undefined ? undefined : { value };
}

/** Reads and validates the configuration from `env` (the process environment by default). */
export function loadConfig(env: Env = process.env): AppConfig {
  const openaiApiKey = secret(env, 'OPENAI_API_KEY');
  const provider = oneOf<LlmProvider>(
    env,
    'LLM_PROVIDER',
    ['openai', 'bedrock', 'local'],
    openaiApiKey ? 'openai' : 'local',
  );
  if (provider === 'openai' && !openaiApiKey) {
    throw new ConfigError('LLM_PROVIDER is openai but neither OPENAI_API_KEY nor OPENAI_API_KEY_ARN is set');
  }
  const lancedbUri = text(env, 'LANCEDB_URI') ?? '.local/lancedb';
  const logLevel = oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info');
  const region = text(env, 'AWS_REGION') ?? text(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1';
  const defaultModels = {
    openai: { chat: 'gpt-4.1-mini', embedding: 'text-embedding-3-small' },
    bedrock: { chat: BEDROCK_DEFAULT_CHAT_MODEL, embedding: BEDROCK_DEFAULT_EMBEDDING_MODEL },
    local: { chat: 'local-extractive', embedding: 'local-hash-512' },
  }[provider];
  const embeddingModel = text(env, 'OPENAI_EMBEDDING_MODEL') ?? defaultModels.embedding;
  return {
    region,
    endpoints: {
      dynamodb: url(env, 'DYNAMODB_ENDPOINT'),
      sfn: url(env, 'SFN_ENDPOINT'),
      s3: url(env, 'S3_ENDPOINT'),
      secretsManager: url(env, 'SECRETS_MANAGER_ENDPOINT'),
      slackApi: url(env, 'SLACK_API_URL'),
    },
    conversationTable: text(env, 'CONVERSATION_TABLE'),
    stateMachineArn: text(env, 'CONVERSATION_STATE_MACHINE_ARN'),
    secrets: {
      slackSigningSecret: secret(env, 'SLACK_SIGNING_SECRET'),
      slackBotToken: secret(env, 'SLACK_BOT_TOKEN'),
      openaiApiKey,
      lancedbApiKey: secret(env, 'LANCEDB_API_KEY'),
    },
    slack: {
      streamMode: oneOf<StreamMode>(env, 'SLACK_STREAM_MODE', ['update', 'native'], 'update'),
      maxRetries: integer(env, 'SLACK_MAX_RETRIES', 2, 0, 10),
      botUserId: text(env, 'SLACK_BOT_USER_ID'),
      teamId: slackId(env, 'SLACK_TEAM_ID', '[TE]'),
      appId: slackId(env, 'SLACK_APP_ID', 'A'),
      followUps: oneOf(env, 'FOLLOW_UPS', ['off', 'asker', 'anyone'] as const, 'asker'),
      suggestedPrompts: suggestedPrompts(env, 'SUGGESTED_PROMPTS'),
      dailyQuestionLimit: integer(env, 'DAILY_QUESTION_LIMIT', 0, 0, 100_000) || undefined,
      search: flag(env, 'SLACK_SEARCH', false),
    },
    // The provider is checked where the functions are told it (those that build a model); synth checks it always.
    channelProfiles: channelProfiles(
      env,
      'CHANNEL_PROFILES',
      text(env, 'LLM_PROVIDER') === undefined ? undefined : provider,
    ),
    llm: {
      provider,
      chatModel: text(env, 'OPENAI_MODEL') ?? defaultModels.chat,
      temperature: decimal(env, 'OPENAI_TEMPERATURE', 0, 0, 2),
      maxOutputTokens: integer(env, 'MAX_ANSWER_TOKENS', 1024, 16, 32768),
      embeddingModel,
      baseUrl: url(env, 'OPENAI_BASE_URL'),
      // Time to the response's first byte (the SDK clears it once headers arrive, so a long stream is not cut).
      // Condense question and Retrieve have 13 s Lambdas: their step deadline (step-deadline.ts) ends a try that
      // would outlive the attempt, and the state machine's retry of the step is then the second try.
      timeoutMs: integer(env, 'OPENAI_TIMEOUT_MS', 12_000, 1_000, 600_000),
      maxRetries: integer(env, 'OPENAI_MAX_RETRIES', 1, 0, 10),
      ...(provider === 'bedrock' ? { bedrock: bedrockConfig(env, region, embeddingModel) } : {}),
    },
    vectorStore: {
      uri: lancedbUri,
      cloud: lancedbCloud(env, lancedbUri),
      table: text(env, 'LANCEDB_TABLE') ?? 'documents',
      topK: integer(env, 'RETRIEVE_TOP_K', 6, 1, 50),
      readConsistencySeconds: integer(env, 'LANCEDB_READ_CONSISTENCY_SECONDS', 30, 0, 3_600),
    },
    history: {
      maxTurns: integer(env, 'HISTORY_MAX_TURNS', 10, 0, 100),
      maxChars: integer(env, 'HISTORY_MAX_CHARS', 12_000, 0, 200_000),
      ttlDays: integer(env, 'HISTORY_TTL_DAYS', 30, 1, 3650),
    },
    dedupeTtlSeconds: integer(env, 'DEDUPE_TTL_SECONDS', 86_400, 60, 30 * 86_400),
    maxQuestionChars: integer(env, 'MAX_QUESTION_CHARS', 4_000, 10, 40_000),
    access: {
      allowedChannels: idList(env, 'ALLOWED_CHANNELS'),
      channelCollections: collectionMap(env, 'CHANNEL_COLLECTIONS'),
      collectionAudiences: collectionAudiences(env, 'COLLECTION_AUDIENCES'),
      userGroupsCacheSeconds: integer(env, 'USER_GROUPS_CACHE_SECONDS', 120, 0, 300),
      allowSlackConnect: flag(env, 'ALLOW_SLACK_CONNECT', false),
      allowGuests: flag(env, 'ALLOW_GUESTS', false),
    },
    ingest: ingestConfig(env),
    logLevel: logLevel.toUpperCase() as AppConfig['logLevel'],
  };
}

/** Returns a value a function cannot run without, or fails naming the variable that sets it. */
export function required<T>(value: T | undefined, variable: string): T {
  if (value === undefined) throw new ConfigError(`${variable} is not set`);
  return value;
}
