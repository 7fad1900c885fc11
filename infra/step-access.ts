import { Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ConversationPlaceholder } from '../functions/conversation-functions';
import { needsUserGroups } from '../functions/core/access/reach';
import { uriOf } from '../functions/core/ingest/origin-spec';
import { parseBedrockModelId } from '../functions/core/llm/model-ids';
import {
  EVENT_PREFIX,
  SYNC_PREFIX,
  TABLE_VERSION_PREFIX,
  THREAD_PREFIX,
} from '../functions/core/stores/keys';
import type { IngestPlaceholder } from '../functions/ingest-functions';
import type { BotFunction, PrefixAccess, TableAction } from './bot-function';
import type { BotConfig } from './config';

/** What the functions can be given access to. */
export interface BotResources {
  config: BotConfig;
  /** History, event dedupe, answer claims, the ingest manifest and lock: one table, one prefix per kind. */
  table: ITable;
  /** LanceDB's files under `LANCEDB_PREFIX`, the ingest's staged rows under `STAGING_PREFIX`. */
  dataBucket: IBucket;
  /** Where people upload the documents the bot answers from. */
  documentsBucket: IBucket;
  slackSigningSecret: ISecret;
  slackBotToken: ISecret;
  /** The OpenAI API key: only with `bot:llmProvider=openai`; Bedrock is reached with the functions' roles. */
  openAiApiKey?: ISecret;
  /** LanceDB Cloud's API key: only when `bot:lancedbUri` puts the vectors there. */
  lancedbApiKey?: ISecret;
}

export const LANCEDB_PREFIX = 'lancedb';
export const STAGING_PREFIX = 'ingest-staging';
export const LANCEDB_TABLE = 'documents';

/** Grants one function what its step does, and sets the variables that tell it where those things are. */
export type StepBinder = (fn: BotFunction, resources: BotResources) => void;

const TABLE = 'CONVERSATION_TABLE';

/** The chat model (and, for `embeddings`, the embedding model), and the OpenAI key or the Bedrock grants. */
/** `profiles`: this function also answers with the channel profiles' own chat models (GenerateAnswer). */
type ModelUse = { chat?: boolean; profiles?: boolean; embeddings?: boolean };

function useModels(fn: BotFunction, r: BotResources, use: ModelUse): void {
  const { config } = r;
  fn.setEnvironment('LLM_PROVIDER', config.llmProvider);
  if (config.llmProvider === 'local') return;
  if (config.llmProvider === 'openai' && r.openAiApiKey !== undefined) {
    fn.bindSecret(r.openAiApiKey, 'OPENAI_API_KEY');
  }
  if (use.chat) {
    fn.setEnvironment('OPENAI_MODEL', config.chatModel);
    fn.setEnvironment('OPENAI_TEMPERATURE', String(config.temperature));
  }
  if (use.embeddings) fn.setEnvironment('OPENAI_EMBEDDING_MODEL', config.embeddingModel);
  if (config.llmProvider === 'bedrock') useBedrock(fn, r, use);
}

/**
 * Bedrock: `bedrock:InvokeModel` and `InvokeModelWithResponseStream` (which also authorise Converse and ConverseStream)
 * on exactly the models this function calls. A model id is its foundation-model ARN in the Bedrock region; an
 * inference profile (`us.anthropic.…`) is its profile ARN, plus the profile's foundation model in the Regions it
 * routes to, as https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html documents: those
 * Regions change as AWS adds them, so any Region, but only through that profile (`bedrock:InferenceProfileArn`).
 */
function useBedrock(fn: BotFunction, r: BotResources, use: ModelUse): void {
  const { config } = r;
  const stack = Stack.of(fn);
  const region = config.bedrockRegion ?? stack.region;
  fn.setEnvironment('BEDROCK_REGION', region);
  if (use.embeddings) fn.setEnvironment('EMBEDDING_DIMENSIONS', String(config.embeddingDimensions));
  const guardrail = use.chat ? config.bedrockGuardrail : undefined;
  if (guardrail !== undefined) fn.setEnvironment('BEDROCK_GUARDRAIL', `${guardrail.id}:${guardrail.version}`);
  // A channel profile's own model (`bot:channelProfiles`) is granted like the default, to the step that answers.
  const profileModels = use.profiles
    ? Object.values(config.channelProfiles ?? {}).flatMap((p) => (p.model === undefined ? [] : [p.model]))
    : [];
  const models = new Set([
    ...(use.chat ? [config.chatModel, ...profileModels] : []),
    ...(use.embeddings ? [config.embeddingModel] : []),
  ]);
  const actions = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];
  const arn = (resource: string, account: string = stack.account, inRegion: string = region) =>
    `arn:${stack.partition}:bedrock:${inRegion}:${account}:${resource}`;
  for (const model of models) {
    const parsed = parseBedrockModelId(model);
    if (parsed === undefined) continue;
    if (parsed.kind === 'arn') {
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [parsed.arn] }));
    } else if (parsed.kind === 'foundation-model') {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions, resources: [arn(`foundation-model/${parsed.modelId}`, '')] }),
      );
    } else {
      const profileArn = arn(`inference-profile/${parsed.profileId}`);
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [profileArn] }));
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions,
          resources: [arn(`foundation-model/${parsed.modelId}`, '', '*')],
          conditions: { StringEquals: { 'bedrock:InferenceProfileArn': profileArn } },
        }),
      );
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${parsed.modelId}]`,
        reason:
          `${parsed.profileId} is a cross-Region inference profile: Bedrock runs it in any Region of its geography, ` +
          'a list AWS extends. The grant holds only through that profile (condition bedrock:InferenceProfileArn).',
      });
    }
  }
  // A guardrail's policies are evaluated with the caller's permission to apply it.
  if (guardrail !== undefined) {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['bedrock:ApplyGuardrail'],
        resources: [arn(`guardrail/${guardrail.id}`)],
      }),
    );
  }
}

/**
 * Where the vectors are: the data bucket's LanceDB prefix (read, or read-write), or, with `bot:lancedbUri`, LanceDB
 * Cloud, which this function then reaches with the API key's secret and no S3 grant at all.
 */
function useVectorStore(fn: BotFunction, r: BotResources, access: PrefixAccess): void {
  const { lancedbUri } = r.config;
  if (lancedbUri !== undefined && r.lancedbApiKey !== undefined) {
    fn.setEnvironment('LANCEDB_URI', lancedbUri);
    fn.setEnvironment('LANCEDB_REGION', r.config.lancedbRegion);
    fn.bindSecret(r.lancedbApiKey, 'LANCEDB_API_KEY');
  } else {
    fn.bindBucketPrefix(r.dataBucket, LANCEDB_PREFIX, access, 'LANCEDB_URI');
  }
  fn.setEnvironment('LANCEDB_TABLE', LANCEDB_TABLE);
}

function useHistory(
  fn: BotFunction,
  r: BotResources,
  actions: Parameters<BotFunction['bindTable']>[2]['actions'],
) {
  fn.bindTable(r.table, TABLE, { actions, keyPrefixes: [THREAD_PREFIX] });
  fn.setEnvironment('HISTORY_TTL_DAYS', String(r.config.historyTtlDays));
}

function useSlack(fn: BotFunction, r: BotResources): void {
  fn.bindSecret(r.slackBotToken, 'SLACK_BOT_TOKEN');
}

/**
 * Who may read what (`CHANNEL_COLLECTIONS`, `COLLECTION_AUDIENCES`): the steps that work out a question's reach,
 * search within it and record what a turn drew on. Load history asks Slack for the asker's user groups (the bot
 * token) only when an audience names a group.
 */
function useAccess(fn: BotFunction, r: BotResources, options: { groups?: boolean } = {}): void {
  const { channelCollections, collectionAudiences } = r.config;
  if (channelCollections) fn.setEnvironment('CHANNEL_COLLECTIONS', JSON.stringify(channelCollections));
  if (collectionAudiences) fn.setEnvironment('COLLECTION_AUDIENCES', JSON.stringify(collectionAudiences));
  if (options.groups && needsUserGroups({ collectionAudiences })) useSlack(fn, r);
}

/**
 * Assistants per channel (`CHANNEL_PROFILES`): Load history resolves a question's profile (the states after it read
 * `$.history.profile`), and the ack the follow-up policy of a thread's channel.
 */
function useProfiles(fn: BotFunction, r: BotResources): void {
  if (r.config.channelProfiles)
    fn.setEnvironment('CHANNEL_PROFILES', JSON.stringify(r.config.channelProfiles));
}

/** The ack, behind the Request URL: dedupe records, the two Slack secrets, and StartExecution (bound by the stack). */
export const bindAck: StepBinder = (fn, r) => {
  fn.bindTable(r.table, TABLE, {
    // GetItem: a delivery that finds the event claimed reads whether an execution was accepted.
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    keyPrefixes: [EVENT_PREFIX],
  });
  // The thread's first asker (Query: follow-ups without a mention, a DM thread's title) and votes stored with the
  // turn they are about (UpdateItem, and GetItem to tell a forgotten turn from one not persisted yet).
  useHistory(fn, r, ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem']);
  fn.bindSecret(r.slackSigningSecret, 'SLACK_SIGNING_SECRET');
  useSlack(fn, r);
  if (r.config.followUps !== 'asker') fn.setEnvironment('FOLLOW_UPS', r.config.followUps);
  useProfiles(fn, r);
  if (r.config.suggestedPrompts !== undefined)
    fn.setEnvironment('SUGGESTED_PROMPTS', r.config.suggestedPrompts);
  if (r.config.dailyQuestionLimit > 0)
    fn.setEnvironment('DAILY_QUESTION_LIMIT', String(r.config.dailyQuestionLimit));
  if (r.config.allowedChannels.length > 0) {
    fn.setEnvironment('ALLOWED_CHANNELS', r.config.allowedChannels.join(','));
  }
  if (r.config.slackBotUserId) fn.setEnvironment('SLACK_BOT_USER_ID', r.config.slackBotUserId);
  if (r.config.slackTeamId) fn.setEnvironment('SLACK_TEAM_ID', r.config.slackTeamId);
  if (r.config.slackAppId) fn.setEnvironment('SLACK_APP_ID', r.config.slackAppId);
  if (r.config.allowSlackConnect) fn.setEnvironment('ALLOW_SLACK_CONNECT', 'true');
  if (r.config.allowGuests) fn.setEnvironment('ALLOW_GUESTS', 'true');
  // The ack carries the event's action_token into the execution only when Retrieve searches Slack.
  if (r.config.slackSearch) fn.setEnvironment('SLACK_SEARCH', 'true');
};

/**
 * Each step of statemachine/conversation.asl.json and what it may touch. Keyed by the registry's placeholders,
 * so a new step does not compile until its access is declared here.
 */
export const conversationStepAccess: Record<ConversationPlaceholder, StepBinder> = {
  LoadHistoryFunctionArn: (fn, r) => {
    useHistory(fn, r, ['dynamodb:Query']);
    useAccess(fn, r, { groups: true });
    useProfiles(fn, r);
    // The table version the ingest recorded, passed on to Retrieve (LanceDB Cloud serves its latest itself).
    if (r.config.lancedbUri === undefined) useTableVersion(fn, r, ['dynamodb:GetItem']);
  },
  CondenseQuestionFunctionArn: (fn, r) => useModels(fn, r, { chat: true }),
  RetrieveFunctionArn: (fn, r) => {
    useModels(fn, r, { embeddings: true });
    useVectorStore(fn, r, 'read');
    useAccess(fn, r);
    // Slack's Real-time Search (bot:slackSearch): the bot token, with the asker's action_token, and nothing else.
    if (r.config.slackSearch) {
      useSlack(fn, r);
      fn.setEnvironment('SLACK_SEARCH', 'true');
    }
  },
  GenerateAnswerFunctionArn: (fn, r) => {
    useModels(fn, r, { chat: true, profiles: true });
    useSlack(fn, r);
    fn.setEnvironment('SLACK_STREAM_MODE', r.config.slackStreamMode);
    // The answer claim (EVENT#), a workspace's native-streaming fallback (EVENT#workspace#…: GetItem, PutItem), and
    // the check that a redelivered mention was not answered before (THREAD#).
    fn.bindTable(r.table, TABLE, {
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      keyPrefixes: [EVENT_PREFIX],
    });
    fn.bindTable(r.table, TABLE, { actions: ['dynamodb:GetItem'], keyPrefixes: [THREAD_PREFIX] });
  },
  // The turn, and its registration on the thread's forget marker (UpdateItem).
  PersistTurnFunctionArn: (fn, r) => {
    useHistory(fn, r, ['dynamodb:PutItem', 'dynamodb:UpdateItem']);
    useAccess(fn, r);
  },
  ForgetThreadFunctionArn: (fn, r) => {
    // The forget marker (UpdateItem, GetItem) and the tombstones of turns in flight (PutItem).
    useHistory(fn, r, [
      'dynamodb:Query',
      'dynamodb:BatchWriteItem',
      'dynamodb:UpdateItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
    ]);
    useSlack(fn, r);
  },
  // The answer claim: no apology over another run's answer, or over a finished one.
  ReportFailureFunctionArn: (fn, r) => {
    useSlack(fn, r);
    fn.bindTable(r.table, TABLE, {
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      keyPrefixes: [EVENT_PREFIX],
    });
  },
};

/** Every ingest step: the staged rows, and where the vector store is. */
function useIngest(fn: BotFunction, r: BotResources): void {
  fn.bindBucketPrefix(r.dataBucket, STAGING_PREFIX, 'read-write', 'INGEST_STAGING_URI');
  fn.setEnvironment('LANCEDB_URI', r.config.lancedbUri ?? r.dataBucket.s3UrlForObject(LANCEDB_PREFIX));
  fn.setEnvironment('LANCEDB_TABLE', LANCEDB_TABLE);
}

/**
 * The document table's version as the ingest records it (the TABLEVERSION# item, stores/table-version-store.ts):
 * its key names the store, so the function is told where the store is (LANCEDB_URI, LANCEDB_TABLE); a reader of
 * the item is given no access to the store itself.
 */
function useTableVersion(fn: BotFunction, r: BotResources, actions: TableAction[]): void {
  fn.bindTable(r.table, TABLE, { actions, keyPrefixes: [TABLE_VERSION_PREFIX] });
  fn.setEnvironment('LANCEDB_URI', r.config.lancedbUri ?? r.dataBucket.s3UrlForObject(LANCEDB_PREFIX));
  fn.setEnvironment('LANCEDB_TABLE', LANCEDB_TABLE);
}

/**
 * The manifest and the sync lock (SYNC# items), with exactly the calls the step makes (the lock in
 * dynamodb-sync-lock.ts, the manifest in dynamodb-manifest-store.ts).
 */
function useSyncItems(fn: BotFunction, r: BotResources, actions: TableAction[]): void {
  fn.bindTable(r.table, TABLE, { actions, keyPrefixes: [SYNC_PREFIX] });
}

/**
 * Read access to the S3 prefixes of `bot:ingestOrigins` (web sites need no grant: they are read over HTTP, and a
 * site on an intranet needs the functions in a VPC that reaches it).
 */
function useExtraOrigins(fn: BotFunction, r: BotResources): void {
  r.config.ingestOrigins
    .map(uriOf)
    .filter((origin) => origin.startsWith('s3://'))
    .forEach((origin, index) => {
      const [bucketName = '', ...key] = origin.slice('s3://'.length).split('/');
      const prefix = key.join('/').replace(/\/+$/, '');
      fn.bindBucketPrefix(Bucket.fromBucketName(fn, `IngestOrigin${index}`, bucketName), prefix, 'read');
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucketName}/${prefix === '' ? '' : `${prefix}/`}*]`,
        reason:
          `Object-level read access to ${origin}, an origin named in bot:ingestOrigins: the object keys are only ` +
          'known at run time. Listing is limited to the same prefix.',
      });
    });
}

/** Each step of statemachine/ingest.asl.json and what it may touch (see functions/ingest-functions.ts). */
export const ingestStepAccess: Record<IngestPlaceholder, StepBinder> = {
  // Takes the lock (conditional PutItem; GetItem names the holder) and reads the manifest (Query).
  IngestPlanFunctionArn: (fn, r) => {
    useIngest(fn, r);
    useSyncItems(fn, r, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    useModels(fn, r, { embeddings: true });
    fn.bindBucketPrefix(r.documentsBucket, '', 'read');
    useExtraOrigins(fn, r);
    // Comma-separated, unless an origin declares a collection: then a JSON array (functions/core/config.ts).
    const origins = [r.documentsBucket.s3UrlForObject(), ...r.config.ingestOrigins];
    fn.setEnvironment(
      'INGEST_ORIGINS',
      origins.every((origin) => typeof origin === 'string') ? origins.join(',') : JSON.stringify(origins),
    );
    // The Distributed Map's MaxConcurrency, which Plan hands it (MaxConcurrencyPath).
    fn.setEnvironment('INGEST_CONCURRENCY', String(r.config.ingestMaxConcurrency));
    if (Object.keys(r.config.sourceLinks).length > 0) {
      fn.setEnvironment('INGEST_SOURCE_LINKS', JSON.stringify(r.config.sourceLinks));
    }
    useVectorStore(fn, r, 'read');
  },
  // No DynamoDB call: documents in, staged rows out.
  IngestBatchFunctionArn: (fn, r) => {
    useIngest(fn, r);
    useModels(fn, r, { embeddings: true });
    fn.bindBucketPrefix(r.documentsBucket, '', 'read');
    useExtraOrigins(fn, r);
  },
  // No DynamoDB call: staging only.
  IngestBatchFailedFunctionArn: (fn, r) => useIngest(fn, r),
  // Renews the lock (UpdateItem; GetItem names who took it), reads and writes the manifest (Query, BatchWriteItem).
  IngestCommitFunctionArn: (fn, r) => {
    useIngest(fn, r);
    useSyncItems(fn, r, [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
      'dynamodb:BatchWriteItem',
    ]);
    useVectorStore(fn, r, 'read-write');
    // Records the version it committed, for Retrieve.
    if (r.config.lancedbUri === undefined) useTableVersion(fn, r, ['dynamodb:PutItem']);
  },
  // Renews the lock.
  IngestOptimizeFunctionArn: (fn, r) => {
    useIngest(fn, r);
    useSyncItems(fn, r, ['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    useVectorStore(fn, r, 'read-write');
    // Records the version it optimised, for Retrieve.
    if (r.config.lancedbUri === undefined) useTableVersion(fn, r, ['dynamodb:PutItem']);
    fn.setEnvironment('INGEST_INDEX_TAIL_ROWS', String(r.config.ingestIndexTailRows));
  },
  // Releases the lock (conditional DeleteItem).
  IngestReportFunctionArn: (fn, r) => {
    useIngest(fn, r);
    useSyncItems(fn, r, ['dynamodb:DeleteItem']);
  },
};
