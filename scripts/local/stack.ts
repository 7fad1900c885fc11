import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { AwsEvent } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { createHandler as createAckHandler } from '../../functions/ack';
import { conversationFunctions } from '../../functions/conversation-functions';
import type { AckHandler } from '../../functions/core/ack/ack-app';
import { type Env, loadConfig } from '../../functions/core/config';
import { createRuntime, type Runtime } from '../../functions/core/runtime';
import { ensureConversationTable, startDynalite } from '../../stand-ins/aws/dynamodb-local';
import { type FaultProxy, startFaultProxy } from '../../stand-ins/aws/fault-proxy';
import {
  type ExecutionRecord,
  type LocalInvocationContext,
  type LocalStepFunctions,
  startLocalStepFunctions,
  type TaskHandler,
} from '../../stand-ins/aws/step-functions-local';
import type { FakeBedrock, FakeBedrockOptions } from '../../stand-ins/bedrock/fake-bedrock';
import { foreignRequest, nonJson, refuse } from '../../stand-ins/loopback-guard';
import { type FakeSlack, type FakeSlackOptions, startFakeSlack } from '../../stand-ins/slack/fake-slack';
import {
  commentSubmissionBody,
  FORM_CONTENT_TYPE,
  feedbackClickBody,
  type MentionOptions,
  type MessageOptions,
  mentionPayload,
  messagePayload,
  signedHeaders,
} from '../../stand-ins/slack/slack-request';
import { askOutcome, askThroughSlack, type SentMention } from './ask-client';
import { startLocalBedrock } from './bedrock-stand-in';

/**
 * The whole product on loopback: the fake Slack Web API, dynalite, the local Step Functions endpoint running
 * statemachine/conversation.asl.json, LanceDB in a local directory, and the ack handler behind an HTTP
 * Request URL. Every client is the real one, built from configuration exactly as in Lambda; only endpoints differ.
 */

export const REPO_ROOT = resolve(__dirname, '../..');
export const CONVERSATION_DEFINITION = resolve(REPO_ROOT, 'statemachine/conversation.asl.json');
export const LOCAL_BOT_USER_ID = 'U0LOCALBOT';
export const LOCAL_TEAM_ID = 'T0LOCAL001';
/**
 * A second workspace of the organisation when the stack plays an org-wide install on Enterprise Grid
 * (`slackEnterpriseId`, LOCAL_SLACK_ENTERPRISE): its people are members of the organisation, as LOCAL_TEAM_ID's are.
 */
export const LOCAL_SISTER_TEAM_ID = 'T0LOCAL002';
/** A member of LOCAL_SISTER_TEAM_ID, in the fake Slack when the stack plays an org-wide install. */
export const LOCAL_SISTER_USER = 'W0SISTER001';
/** A channel the organisation's two workspaces share, when the stack plays an org-wide install. */
export const LOCAL_SHARED_CHANNEL = 'C0ORGSHARE1';
/** The app id of the local app, as in stand-ins/slack/fixtures/app-mention.json. */
export const LOCAL_APP_ID = 'A0LOCAL001';
export const DEFAULT_CHANNEL = 'C0GENERAL01';
export const DEFAULT_USER = 'U0HUMAN001';
/** The DM between the default person and the bot (and the agent pane's conversations). */
export const DEFAULT_DM_CHANNEL = 'D0LOCALDM01';
const TABLE_NAME = 'slack-rag-bot-conversations';
const MACHINE_NAME = 'conversation';
/**
 * Where a local command asks a running stack a question (`npm run ask` while `npm run dev` runs): POST
 * `{"text","threadTs"?,"channel"?,"user"?}` with `Authorization: Bearer <signing secret>`; the stack posts the person's
 * message in its fake Slack, delivers the signed `app_mention` to its own Request URL, as `ask` does on a stack of its
 * own, and answers with the outcome (ask-client.ts, AskOutcome) once the execution has ended.
 */
export const LOCAL_ASK_PATH = '/local/ask';

/** One request to the Slack Request URL, as `npm run dev` logs it. */
export interface LocalRequestLog {
  method: string;
  path: string;
  /** The HTTP status the ack answered (500 when it threw). */
  status: number;
  ms: number;
  /** What Slack's envelope said, when it could be read. */
  delivery?: SlackDeliverySummary;
  /** The execution the request started, when it started one. */
  execution?: ExecutionRecord;
  /** What the ack threw (it answered 500). */
  error?: Error;
}

/** Who asked what where, read from a delivery's body. */
export interface SlackDeliverySummary {
  /** `app_mention`, `message`, `url_verification`, `block_actions`… */
  type: string;
  user?: string;
  channel?: string;
  threadTs?: string;
  eventId?: string;
  retryNum?: string;
}

export interface LocalStackOptions {
  /** The LanceDB database (a directory, or s3:// URI). */
  lancedbUri: string;
  /** Extra configuration, as environment variables (e.g. LLM_PROVIDER, OPENAI_BASE_URL). */
  env?: Env;
  /** The signing secret the ack verifies with; a random one by default. */
  signingSecret?: string;
  /** Shortens the ASL's Retry pauses (tests); unset, they run as written. */
  retryIntervalMs?: number;
  /** Port of the Slack Request URL server; a free one by default. */
  port?: number;
  /** Shortens chosen states' TimeoutSeconds (tests of the timeout path), in seconds by state name. */
  timeoutOverrides?: Record<string, number>;
  /**
   * Runs the state machine's clock faster (tests of the time budget): its TimeoutSeconds, every Task's and every
   * Retry's pauses times `scale`, a Task's timeout never under `minTaskSeconds` (step-functions-local.ts, `scaleTime`).
   */
  timeScale?: { scale: number; minTaskSeconds?: number };
  /** Keeps DynamoDB's data in this directory; in memory by default. */
  dynamoPath?: string;
  /** What the Bedrock stand-in started for `LLM_PROVIDER=bedrock` allows (enabled models, a guardrail). */
  bedrock?: FakeBedrockOptions;
  /** Slack's rate limits in the fake Slack: on, in real time, by default (fake-slack.ts, `rateLimits`). */
  slackRateLimits?: FakeSlackOptions['rateLimits'];
  /**
   * The user groups the fake Slack answers `usergroups.list` and `usergroups.users.list` from (fake-slack.ts,
   * `usergroups`): `{ S0HRTEAM: ['U0ALICE'] }`. None by default; `npm run dev` reads them from the file
   * LOCAL_SLACK_USERGROUPS names (usergroups-file.ts). `slack.setUserGroups` changes them while the stack runs.
   */
  slackUserGroups?: FakeSlackOptions['usergroups'];
  /**
   * Plays an org-wide install on Enterprise Grid of this organisation (`E…`; `npm run dev` reads it from
   * LOCAL_SLACK_ENTERPRISE): the fake Slack's `auth.test` says so, every delivery the stack sends names it (its
   * `team_id` the person's workspace: LOCAL_TEAM_ID unless told, LOCAL_SISTER_TEAM_ID say), and everyone not added
   * otherwise to the fake Slack is a member of it. Unset: the single workspace LOCAL_TEAM_ID.
   */
  slackEnterpriseId?: string;
  /**
   * Runs a function otherwise than by importing its module into this process: given its entry (`functions/ack.ts`,
   * a step's) and the configuration every function of the stack gets, returns its handler (its production bundle
   * in a child process, say: test/infra/lambda-bundles.test.ts), or undefined for the module here.
   */
  runFunction?: (entry: string, env: Env) => LocalFunction | undefined;
  /** Told of each request to the Slack Request URL once answered (`npm run dev` logs one line for each). */
  onRequest?: (entry: LocalRequestLog) => void;
  /**
   * The Slack Web API the functions call and the bot token they call it with, instead of the stack's fake Slack:
   * a real workspace's (Socket Mode, scripts/local/socket-mode.ts). The fake Slack still runs, unused by them.
   * @default the fake Slack's URL and token
   */
  slackWebApi?: {
    /** A bot token, `xoxb-…`. */
    botToken: string;
    /** @default Slack's own, https://slack.com/api/ */
    apiUrl?: string;
  };
}

/** A function as the stack calls it: an Express Task's input, or the ack's Function URL event. */
export type LocalFunction = (event: unknown, context?: LocalInvocationContext) => Promise<unknown>;

/** The ack's entry, as infra/slack-rag-bot-stack.ts deploys it. */
export const ACK_ENTRY = 'functions/ack.ts';

export type { SentMention };

export interface LocalStack {
  /** The Slack Request URL: `http://127.0.0.1:PORT/slack/events`. */
  eventsUrl: string;
  /** Where the fake Slack's transcript can be read: `http://127.0.0.1:PORT/transcript`. */
  transcriptUrl: string;
  signingSecret: string;
  slack: FakeSlack;
  /** The Bedrock stand-in, when `LLM_PROVIDER=bedrock` started one. */
  bedrock?: FakeBedrock;
  stepFunctions: LocalStepFunctions;
  /** Injects DynamoDB errors (throttling, say) in front of dynalite. */
  dynamoFaults: FaultProxy;
  runtime: Runtime;
  /** The configuration environment every function of this stack runs with. */
  env: Env;
  /**
   * The error a failed step was caught with (what Report failure was given), by execution name: the execution's own
   * error only says `AnswerFailed`.
   */
  caughtError(executionName: string): { error: string; cause: string } | undefined;
  /** Sends a signed `app_mention` delivery, as Slack would, and returns the ack's response. */
  mention(options: MentionOptions & { retryNum?: number; body?: string }): Promise<SentMention>;
  /**
   * Sends a signed `message` delivery: a direct message (`channelType: 'im'`, channel `D…`) or a reply in a
   * channel thread without a mention, after adding the person's message to the fake Slack.
   */
  message(
    options: Omit<MessageOptions, 'botUserId' | 'enterpriseId'> & { retryNum?: number },
  ): Promise<SentMention>;
  /** Sends any signed body to the Request URL (JSON, or a form `payload=` with `contentType`). */
  deliver(
    body: string,
    options?: { contentType?: string; retryNum?: number },
  ): Promise<{ status: number; body: string }>;
  /**
   * Clicks 👍 or 👎 under the answer message `answerTs` (its feedback buttons must be there, as a person sees
   * them), as `user`; returns the ack's response.
   */
  clickFeedback(options: {
    channel: string;
    answerTs: string;
    vote: 'positive' | 'negative';
    user?: string;
    actionTs?: string;
    /** The clicker's workspace (on an org-wide install, one of the organisation's). @default LOCAL_TEAM_ID */
    teamId?: string;
  }): Promise<{ status: number; body: string }>;
  /** Submits the comment modal the latest 👎 opened, with `comment`. */
  submitComment(options: { comment: string; user?: string }): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

function toFunctionUrlEvent(req: IncomingMessage, body: string): AwsEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: { http: { method: req.method, path: url.pathname, sourceIp: '127.0.0.1' } },
    body,
    isBase64Encoded: false,
  };
}

/** Who, where and what a Slack delivery is about: an Events API envelope (JSON) or an interaction (`payload=`). */
export function summarizeDelivery(
  body: string,
  headers: IncomingMessage['headers'],
): SlackDeliverySummary | undefined {
  const retryNum = headers['x-slack-retry-num'];
  const retry = typeof retryNum === 'string' ? { retryNum } : {};
  try {
    const json = (
      body.startsWith('payload=')
        ? JSON.parse(new URLSearchParams(body).get('payload') ?? '{}')
        : JSON.parse(body)
    ) as Record<string, unknown>;
    const event = (json.event ?? {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const id = (value: unknown) => text((value as { id?: unknown } | undefined)?.id);
    const type = text(event.type) ?? text(json.type) ?? 'unknown';
    const threadTs =
      text(event.thread_ts) ?? text(event.ts) ?? text((json.message as { thread_ts?: unknown })?.thread_ts);
    return {
      type,
      ...defined({
        user: text(event.user) ?? id(json.user),
        channel: text(event.channel) ?? id(json.channel),
        threadTs,
        eventId: text(json.event_id),
      }),
      ...retry,
    };
  } catch {
    return undefined;
  }
}

function rememberCaughtError(errors: Map<string, { error: string; cause: string }>, input: unknown): void {
  const { executionName, error } = input as {
    executionName?: string;
    error?: { Error?: string; Cause?: string };
  };
  if (executionName === undefined || error === undefined) return;
  errors.set(executionName, { error: error.Error ?? 'unknown', cause: error.Cause ?? '' });
}

function defined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const signingSecret = options.signingSecret ?? crypto.randomUUID().replace(/-/g, '');
  const slackEnterpriseId = options.slackEnterpriseId;
  const slack = await startFakeSlack({
    botUserId: LOCAL_BOT_USER_ID,
    teamId: LOCAL_TEAM_ID,
    appId: LOCAL_APP_ID,
    ...(slackEnterpriseId === undefined ? {} : { enterpriseId: slackEnterpriseId }),
    ...(options.slackRateLimits === undefined ? {} : { rateLimits: options.slackRateLimits }),
    ...(options.slackUserGroups === undefined ? {} : { usergroups: options.slackUserGroups }),
  });
  if (slackEnterpriseId !== undefined)
    slack.addUser({ id: LOCAL_SISTER_USER, team_id: LOCAL_SISTER_TEAM_ID });
  const dynamo = await startDynalite({ path: options.dynamoPath });
  await ensureConversationTable(dynamo.endpoint, TABLE_NAME);
  const dynamoFaults = await startFaultProxy(dynamo.endpoint);

  // The steps' handlers are bound once the runtime exists, which needs the Step Functions endpoint first.
  const stepHandlers: Partial<Record<string, TaskHandler>> = {};
  const caughtErrors = new Map<string, { error: string; cause: string }>();
  const taskHandlers = Object.fromEntries(
    Object.keys(conversationFunctions).map((placeholder) => [
      placeholder,
      (input: unknown, context?: LocalInvocationContext) => {
        if (placeholder === 'ReportFailureFunctionArn') rememberCaughtError(caughtErrors, input);
        const handler = stepHandlers[placeholder];
        if (!handler) throw new Error(`${placeholder} is not bound`);
        // The context's remaining time counts down from the function's Lambda timeout, as in AWS.
        return handler(input, context);
      },
    ]),
  );
  const stepFunctions = await startLocalStepFunctions({
    machines: [
      {
        name: MACHINE_NAME,
        definitionFile: CONVERSATION_DEFINITION,
        handlers: taskHandlers,
        lambdaTimeoutSeconds: Object.fromEntries(
          Object.entries(conversationFunctions).map(([placeholder, spec]) => [
            placeholder,
            spec.timeoutSeconds,
          ]),
        ),
      },
    ],
    retryIntervalMs: options.retryIntervalMs,
    timeoutOverrides: options.timeoutOverrides,
    ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
  });

  const bedrock = await startLocalBedrock(options.env ?? {}, options.bedrock);
  // Settings from the caller (model, provider, limits) first; the stack's own wiring always wins.
  const env: Env = {
    LOG_LEVEL: 'silent',
    // A question here often follows a sync at once (a test, `npm run ingest` then a question): Retrieve's open table
    // checks for a new version on every read, which costs nothing on a local directory.
    LANCEDB_READ_CONSISTENCY_SECONDS: '0',
    ...options.env,
    AWS_REGION: 'us-east-1',
    CONVERSATION_TABLE: TABLE_NAME,
    CONVERSATION_STATE_MACHINE_ARN: stepFunctions.arnOf(MACHINE_NAME),
    DYNAMODB_ENDPOINT: dynamoFaults.endpoint,
    SFN_ENDPOINT: stepFunctions.endpoint,
    SLACK_API_URL: options.slackWebApi ? options.slackWebApi.apiUrl : slack.apiUrl,
    SLACK_BOT_TOKEN: options.slackWebApi?.botToken ?? slack.token,
    SLACK_SIGNING_SECRET: signingSecret,
    LANCEDB_URI: options.lancedbUri,
    ...bedrock.env,
  };
  const runtime = createRuntime(loadConfig(env));
  for (const [placeholder, spec] of Object.entries(conversationFunctions)) {
    const elsewhere = options.runFunction?.(spec.entry, env);
    if (elsewhere !== undefined) {
      stepHandlers[placeholder] = elsewhere;
      continue;
    }
    // The module CDK bundles for this placeholder: one list, so both runtimes run the same code.
    const module = require(resolve(REPO_ROOT, spec.entry)) as { createHandler(rt: Runtime): TaskHandler };
    stepHandlers[placeholder] = module.createHandler(runtime);
  }
  const ackElsewhere = options.runFunction?.(ACK_ENTRY, env);
  const ack: AckHandler =
    ackElsewhere === undefined
      ? await createAckHandler(runtime)
      : async (event) => (await ackElsewhere(event)) as Awaited<ReturnType<AckHandler>>;

  let local: LocalStack | undefined;
  const server: Server = createServer(async (req, res) => {
    const started = Date.now();
    let delivery: SlackDeliverySummary | undefined;
    try {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      if (req.method === 'POST' && path === '/slack/events') {
        const body = await readBody(req);
        delivery = summarizeDelivery(body, req.headers);
        const response = await ack(toFunctionUrlEvent(req, body));
        res.writeHead(response.statusCode, response.headers as Record<string, string>);
        res.end(response.body);
        const eventId = delivery?.eventId;
        options.onRequest?.({
          method: 'POST',
          path,
          status: response.statusCode,
          ms: Date.now() - started,
          ...(delivery !== undefined ? { delivery } : {}),
          execution:
            eventId === undefined
              ? undefined
              : stepFunctions.executions.find(
                  (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === eventId,
                ),
        });
        return;
      }
      // Everything but the Request URL (whose deliveries Slack signs, and may reach it through a tunnel under another
      // name) is for programs on this machine: no other site's page, no page rebound to 127.0.0.1 (loopback-guard.ts).
      if (refuse(res, foreignRequest(req))) return;
      if (req.method === 'POST' && path === LOCAL_ASK_PATH && local !== undefined) {
        if (refuse(res, nonJson(req))) return;
        if (req.headers.authorization !== `Bearer ${signingSecret}`) {
          res.writeHead(401, { 'Content-Type': 'text/plain' }).end('the local signing secret is required');
          return;
        }
        const asked = JSON.parse(await readBody(req)) as {
          text: string;
          threadTs?: string;
          channel?: string;
          user?: string;
        };
        const { text, ...where } = asked;
        if (typeof text !== 'string' || text.trim() === '') {
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end('a question ("text") is required');
          return;
        }
        const outcome = askOutcome(await askThroughSlack(local, text, where));
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(outcome));
        return;
      }
      if (req.method === 'GET' && path === '/transcript') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(slack.messages(), null, 2));
        return;
      }
      res.writeHead(404).end();
    } catch (error) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end((error as Error).message);
      if (delivery !== undefined) {
        options.onRequest?.({
          method: req.method ?? 'POST',
          path: '/slack/events',
          status: 500,
          ms: Date.now() - started,
          delivery,
          error: error as Error,
        });
      }
    }
  });
  await new Promise<void>((done, fail) => {
    // A port in use rejects here, rather than crashing the process with an unhandled 'error' event.
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  }).catch(async (error: unknown) => {
    await stepFunctions.close();
    runtime.documentClient().destroy();
    runtime.sfnClient().destroy();
    await dynamoFaults.close();
    await dynamo.close();
    await slack.close();
    await bedrock.close();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  local = {
    eventsUrl: `${base}/slack/events`,
    transcriptUrl: `${base}/transcript`,
    signingSecret,
    slack,
    ...(bedrock.fake === undefined ? {} : { bedrock: bedrock.fake }),
    stepFunctions,
    dynamoFaults,
    runtime,
    env,
    caughtError: (executionName) => caughtErrors.get(executionName),
    async mention(mention) {
      const channel = mention.channel ?? DEFAULT_CHANNEL;
      // The person's message exists in Slack before Slack delivers the event about it.
      const posted = slack.addMessage({
        channel,
        text: `<@${LOCAL_BOT_USER_ID}> ${mention.text}`,
        user: mention.user ?? DEFAULT_USER,
        thread_ts: mention.threadTs,
      });
      const payload = mentionPayload({
        botUserId: LOCAL_BOT_USER_ID,
        teamId: LOCAL_TEAM_ID,
        channel,
        ts: posted.ts,
        ...(slackEnterpriseId === undefined ? {} : { enterpriseId: slackEnterpriseId }),
        ...mention,
      });
      const body = mention.body ?? JSON.stringify(payload);
      const response = await fetch(`${base}/slack/events`, {
        method: 'POST',
        headers: signedHeaders(signingSecret, body, { retryNum: mention.retryNum }),
        body,
      });
      return {
        status: response.status,
        body: await response.text(),
        eventId: payload.event_id,
        ts: payload.event.ts,
        threadTs: mention.threadTs ?? payload.event.ts,
        channel: payload.event.channel,
      };
    },
    async message(options) {
      const channel =
        options.channel ?? (options.channelType === 'im' ? DEFAULT_DM_CHANNEL : DEFAULT_CHANNEL);
      const posted = slack.addMessage({
        channel,
        text: options.text,
        user: options.user ?? DEFAULT_USER,
        thread_ts: options.threadTs,
      });
      const payload = messagePayload({
        ...options,
        channel,
        ts: posted.ts,
        botUserId: LOCAL_BOT_USER_ID,
        teamId: options.teamId ?? LOCAL_TEAM_ID,
        ...(slackEnterpriseId === undefined ? {} : { enterpriseId: slackEnterpriseId }),
      });
      const sent = await (local as LocalStack).deliver(JSON.stringify(payload), {
        retryNum: options.retryNum,
      });
      return {
        ...sent,
        eventId: payload.event_id,
        ts: payload.event.ts,
        threadTs: options.threadTs ?? payload.event.ts,
        channel,
      };
    },
    async deliver(body, deliverOptions = {}) {
      const response = await fetch(`${base}/slack/events`, {
        method: 'POST',
        headers: signedHeaders(signingSecret, body, {
          retryNum: deliverOptions.retryNum,
          ...(deliverOptions.contentType === undefined ? {} : { contentType: deliverOptions.contentType }),
        }),
        body,
      });
      return { status: response.status, body: await response.text() };
    },
    async clickFeedback(click) {
      const answer = slack.messages(click.channel).find((m) => m.ts === click.answerTs);
      const buttons = (answer?.blocks ?? [])
        .filter((b) => (b as { type?: string }).type === 'context_actions')
        .flatMap((b) => (b as { elements: Array<Record<string, { value?: string } | undefined>> }).elements);
      const value = buttons[0]?.[click.vote === 'positive' ? 'positive_button' : 'negative_button']?.value;
      if (answer === undefined || value === undefined)
        throw new Error(`no feedback buttons under message ${click.answerTs} in ${click.channel}`);
      const body = feedbackClickBody({
        value,
        channel: click.channel,
        messageTs: answer.ts,
        threadTs: answer.thread_ts ?? answer.ts,
        ...(click.user === undefined ? {} : { user: click.user }),
        ...(click.actionTs === undefined ? {} : { actionTs: click.actionTs }),
        ...(click.teamId === undefined ? {} : { teamId: click.teamId }),
        ...(slackEnterpriseId === undefined ? {} : { enterpriseId: slackEnterpriseId }),
      });
      return (local as LocalStack).deliver(body, { contentType: FORM_CONTENT_TYPE });
    },
    async submitComment(submission) {
      const opened = slack.views().at(-1);
      if (opened === undefined) throw new Error('no modal was opened');
      const body = commentSubmissionBody({
        privateMetadata: String(opened.view.private_metadata ?? ''),
        comment: submission.comment,
        ...(submission.user === undefined ? {} : { user: submission.user }),
      });
      return (local as LocalStack).deliver(body, { contentType: FORM_CONTENT_TYPE });
    },
    async close() {
      await new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      });
      await stepFunctions.close();
      runtime.documentClient().destroy();
      runtime.sfnClient().destroy();
      await dynamoFaults.close();
      await dynamo.close();
      await slack.close();
      await bedrock.close();
    },
  };
  return local;
}
