import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SocketModeClient } from '@slack/socket-mode';
import { ErrorCode, type Logger, LogLevel, WebClient } from '@slack/web-api';
import { isMap, isScalar, parseDocument } from 'yaml';
import type { Env } from '../../functions/core/config';
import { signedHeaders } from '../../stand-ins/slack/slack-request';
import type { LocalRequestLog, LocalStack } from './stack';

/**
 * Socket Mode for the local stack: the same local workflow answering in a real Slack workspace, with no public URL
 * and no AWS account. Slack delivers events and interactions over a WebSocket that this process opens with an
 * app-level token (SLACK_APP_TOKEN, `xapp-…`); the bridge hands each envelope to the local ack exactly as Slack
 * would have sent it to the Request URL (the same body, signed with the stack's signing secret, Slack's retry
 * headers included) and acknowledges the envelope once the ack answered 2xx. The functions post to the real Slack
 * Web API with the bot token (SLACK_BOT_TOKEN, `xoxb-…`); DynamoDB, Step Functions and LanceDB stay local.
 *
 * An envelope left unacknowledged (the ack answered 5xx, or took longer than 3 seconds) is redelivered by Slack,
 * as an HTTP delivery without a 2xx would be: Events API envelopes again with `retry_attempt` 1, 2 and 3 (the first
 * retry at once, then after about a minute and five minutes), which the bridge passes on as `X-Slack-Retry-Num`,
 * so the ack's claim on the `event_id` keeps a retry from answering twice. Interactive payloads and slash commands
 * are not redelivered; the person sees Slack's own error on the button or command.
 */

/** Slack's Web API; Socket Mode's `apps.connections.open` is one of its methods. */
export const SLACK_API_URL = 'https://slack.com/api/';

/** A setup problem (a token missing, of the wrong kind, or refused): one line to show, never a token in it. */
export class SocketModeSetupError extends Error {
  override name = 'SocketModeSetupError';
}

export interface SocketModeTokens {
  /** App-level token with `connections:write`, `xapp-…`: opens the WebSocket. */
  appToken: string;
  /** The bot token of the app's installation, `xoxb-…`: what the bot posts with. */
  botToken: string;
}

/** Reads SLACK_APP_TOKEN and SLACK_BOT_TOKEN, refusing a missing one or one of the wrong kind by its name alone. */
export function socketModeTokens(env: Record<string, string | undefined> = process.env): SocketModeTokens {
  const appToken = env.SLACK_APP_TOKEN?.trim() ?? '';
  const botToken = env.SLACK_BOT_TOKEN?.trim() ?? '';
  const where = 'README, "Try it in your own Slack workspace (Socket Mode)"';
  if (appToken === '') {
    throw new SocketModeSetupError(
      `SLACK_APP_TOKEN is not set: export the app-level token (xapp-…, scope connections:write) from your app's Basic Information page (${where})`,
    );
  }
  if (!appToken.startsWith('xapp-')) {
    throw new SocketModeSetupError(
      `SLACK_APP_TOKEN must be an app-level token starting with xapp- (it starts with ${tokenKind(appToken)}); create one with connections:write under Basic Information > App-Level Tokens (${where})`,
    );
  }
  if (botToken === '') {
    throw new SocketModeSetupError(
      `SLACK_BOT_TOKEN is not set: export the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page after installing it (${where})`,
    );
  }
  if (!botToken.startsWith('xoxb-')) {
    throw new SocketModeSetupError(
      `SLACK_BOT_TOKEN must be a bot token starting with xoxb- (it starts with ${tokenKind(botToken)}); copy the Bot User OAuth Token from OAuth & Permissions (${where})`,
    );
  }
  return { appToken, botToken };
}

/** A token's prefix and nothing more, to say which kind was given without showing it. */
function tokenKind(token: string): string {
  const prefix = /^(xox[a-z]|xapp)-/.exec(token)?.[0];
  return prefix ?? 'something else';
}

/** Who the bot is in the workspace, from `auth.test` with the bot token. */
export interface SlackInstallation {
  team: string;
  teamId: string;
  botUserId: string;
  botName: string;
}

/**
 * Checks both tokens against Slack before anything starts: `apps.connections.open` with the app token (the URL it
 * returns is left unused and expires) and `auth.test` with the bot token. Throws SocketModeSetupError with Slack's
 * error code and what to do about it.
 */
export async function checkSlackTokens(
  tokens: SocketModeTokens,
  options: { slackApiUrl?: string; botApiUrl?: string } = {},
): Promise<SlackInstallation> {
  const slackApiUrl = options.slackApiUrl ?? SLACK_API_URL;
  const client = (token: string, url: string) =>
    new WebClient(token, {
      slackApiUrl: url,
      logLevel: LogLevel.ERROR,
      retryConfig: { retries: 1 },
      timeout: 10_000,
    });
  try {
    await client(tokens.appToken, slackApiUrl).apps.connections.open();
  } catch (error) {
    throw setupError('SLACK_APP_TOKEN', 'apps.connections.open', slackApiUrl, error, APP_TOKEN_ADVICE);
  }
  const botApiUrl = options.botApiUrl ?? slackApiUrl;
  try {
    const auth = await client(tokens.botToken, botApiUrl).auth.test();
    return {
      team: auth.team ?? '(unknown workspace)',
      teamId: auth.team_id ?? '',
      botUserId: auth.user_id ?? '',
      botName: auth.user ?? '(unknown bot)',
    };
  } catch (error) {
    throw setupError('SLACK_BOT_TOKEN', 'auth.test', botApiUrl, error, {
      invalid_auth: 'Slack does not know it; reinstall the app and copy the Bot User OAuth Token again',
      token_revoked: 'it was revoked; reinstall the app and copy the new Bot User OAuth Token',
      account_inactive: 'the app was uninstalled or its workspace disabled; reinstall it',
      not_allowed_token_type: 'it is not a bot token; use the xoxb- Bot User OAuth Token',
    });
  }
}

/** What to do about each error `apps.connections.open` answers an app token with. */
const APP_TOKEN_ADVICE: Record<string, string> = {
  not_allowed_token_type:
    'it is not an app-level token; use the xapp- token from Basic Information > App-Level Tokens',
  invalid_auth: 'Slack does not know it (revoked, or from another app); generate a new app-level token',
  missing_scope: 'the app-level token lacks connections:write; generate one with that scope',
  not_authed: 'no token reached Slack',
};

function setupError(
  variable: string,
  method: string,
  url: string,
  error: unknown,
  advice: Record<string, string>,
): SocketModeSetupError {
  const failure = error as {
    code?: string;
    data?: { error?: string };
    original?: Error;
    statusCode?: number;
  };
  if (failure.code === ErrorCode.PlatformError) {
    const code = failure.data?.error ?? 'unknown_error';
    return new SocketModeSetupError(
      `Slack refused ${variable}: ${method} answered ${code}${Object.hasOwn(advice, code) ? `: ${advice[code]}` : ''}`,
    );
  }
  if (failure.code === ErrorCode.HTTPError) {
    return new SocketModeSetupError(
      `${method} at ${url} answered HTTP ${failure.statusCode ?? '?'}; try again later`,
    );
  }
  const cause = failure.original?.message ?? (error as Error).message;
  return new SocketModeSetupError(`could not reach Slack at ${url} (${method}): ${cause}`);
}

export interface SocketModeBridgeOptions {
  appToken: string;
  /** The local ack's Request URL (`LocalStack.eventsUrl`). */
  eventsUrl: string;
  /** The secret the local ack verifies with (`LocalStack.signingSecret`). */
  signingSecret: string;
  /** Where `apps.connections.open` is called. @default https://slack.com/api/ */
  slackApiUrl?: string;
  /** One line per envelope and per connection change. @default console.log */
  log?: (line: string) => void;
  /**
   * The client's ping timeout, which also paces its reconnection: it waits this long (times the failures in a row)
   * before it reconnects. @default 5000, the library's
   */
  clientPingTimeoutMs?: number;
  /** How long to wait for Slack's `hello` on the first connection. @default 30000 */
  connectTimeoutMs?: number;
}

export interface SocketModeBridge {
  close(): Promise<void>;
}

/** What the SocketModeClient emits for every envelope (`slack_event`). */
interface SlackEventArgs {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id: string;
  type: string;
  body: unknown;
  retry_num?: number;
  retry_reason?: string;
  accepts_response_payload?: boolean;
}

/** The HTTP request Slack would have sent to the Request URL for an envelope, before signing. */
export function requestFor(
  type: string,
  payload: unknown,
): { body: string; contentType: string } | undefined {
  switch (type) {
    case 'events_api':
      return { body: JSON.stringify(payload), contentType: 'application/json' };
    case 'interactive':
      // Block actions, shortcuts, view submissions: a form with one field, the JSON payload.
      return {
        body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
        contentType: 'application/x-www-form-urlencoded',
      };
    case 'slash_commands':
      // A slash command's fields, each a form field.
      return {
        body: new URLSearchParams(payload as Record<string, string>).toString(),
        contentType: 'application/x-www-form-urlencoded',
      };
    default:
      return undefined;
  }
}

/**
 * Connects to Slack's Socket Mode with the app token and bridges every envelope to the local ack. Resolves once
 * Slack said `hello`; the client reconnects by itself when Slack asks it to (`disconnect`) or the link drops.
 */
export async function startSocketModeBridge(options: SocketModeBridgeOptions): Promise<SocketModeBridge> {
  const log = options.log ?? ((line: string) => console.log(line));
  const client = new SocketModeClient({
    appToken: options.appToken,
    logger: quietLogger(log),
    clientPingTimeout: options.clientPingTimeoutMs,
    clientOptions: { slackApiUrl: options.slackApiUrl ?? SLACK_API_URL },
  });
  let connectedOnce = false;
  client.on('connected', () => {
    log(connectedOnce ? 'socket mode: reconnected' : 'socket mode: connected');
    connectedOnce = true;
  });
  client.on('reconnecting', () => log('socket mode: reconnecting'));

  client.on('slack_event', (event: SlackEventArgs) => {
    void forward(event).catch((error: unknown) => {
      log(`socket mode: ${event.type} ${event.envelope_id} not acknowledged: ${(error as Error).message}`);
    });
  });

  const forward = async (event: SlackEventArgs) => {
    const label = describeEnvelope(event);
    const request = requestFor(event.type, event.body);
    if (request === undefined) {
      // Nothing the Request URL would have been sent; acknowledged so that Slack does not resend it.
      await event.ack();
      log(`socket mode: ${label}: not a delivery the ack takes; acknowledged`);
      return;
    }
    const headers = signedHeaders(options.signingSecret, request.body, {
      contentType: request.contentType,
      retryNum: event.retry_num ? event.retry_num : undefined,
    });
    if (event.retry_num && event.retry_reason) headers['X-Slack-Retry-Reason'] = event.retry_reason;
    const started = Date.now();
    const response = await fetch(options.eventsUrl, {
      method: 'POST',
      headers,
      body: request.body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    const ms = Date.now() - started;
    if (!response.ok) {
      // Like an HTTP delivery answered with an error: no ack, so Slack redelivers an Events API envelope, and
      // shows the person an error for a button or a command.
      const then =
        event.type === 'events_api' ? 'Slack will redeliver it' : 'Slack shows the person an error';
      log(`socket mode: ${label} -> ${response.status} in ${ms} ms; not acknowledged, ${then}`);
      return;
    }
    await event.ack(event.accepts_response_payload ? responsePayload(text) : undefined);
    log(`socket mode: ${label} -> ${response.status} in ${ms} ms; acknowledged`);
  };

  let timer: NodeJS.Timeout | undefined;
  const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  try {
    await Promise.race([
      client.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new SocketModeSetupError(
                `Slack's Socket Mode did not say hello within ${connectTimeoutMs} ms: the token was accepted, but the WebSocket did not open (does a proxy or firewall block outgoing wss:// connections?)`,
              ),
            ),
          connectTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await client.disconnect().catch(() => undefined);
    throw error instanceof SocketModeSetupError
      ? error
      : setupError(
          'SLACK_APP_TOKEN',
          'apps.connections.open',
          options.slackApiUrl ?? SLACK_API_URL,
          error,
          APP_TOKEN_ADVICE,
        );
  } finally {
    clearTimeout(timer);
  }
  return {
    async close() {
      await client.disconnect();
    },
  };
}

/** The ack's JSON answer (a slash command's reply, a view's `response_action`) as the envelope's response. */
function responsePayload(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { text };
  } catch {
    return { text };
  }
}

function describeEnvelope(event: SlackEventArgs): string {
  const body = (event.body ?? {}) as {
    event?: { type?: string };
    event_id?: string;
    type?: string;
    command?: string;
  };
  const what =
    event.type === 'events_api'
      ? `${body.event?.type ?? 'event'} ${body.event_id ?? ''}`.trim()
      : event.type === 'slash_commands'
        ? `command ${body.command ?? ''}`.trim()
        : `${event.type} ${body.type ?? ''}`.trim();
  return event.retry_num ? `${what} (retry ${event.retry_num})` : what;
}

/**
 * The client's own log, reduced to its warnings and errors. Its debug lines carry whole payloads and the WebSocket
 * URL (a connection ticket), so they are never printed.
 */
function quietLogger(log: (line: string) => void): Logger {
  let level = LogLevel.WARN;
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...messages: unknown[]) => log(`socket mode: ${messages.join(' ')}`),
    error: (...messages: unknown[]) => log(`socket mode: ${messages.join(' ')}`),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

export interface SocketModeDevOptions {
  /** The shell's environment: SLACK_APP_TOKEN, SLACK_BOT_TOKEN and, for GovSlack say, SLACK_API_URL. */
  shell: Env;
  /** The settings the functions get from the shell (cli-env.ts `shellSettings`). */
  settings: Env;
  lancedbUri: string;
  dynamoPath?: string;
  log?: (line: string) => void;
  /** Told of every request the local ack answered (and, through it, of the execution it started). */
  onRequest?: (entry: LocalRequestLog, stack: LocalStack) => void;
}

/**
 * `npm run dev -- --socket`: checks the tokens with Slack, starts the local stack with the functions pointed at the
 * real Slack Web API and the bot token, and bridges Socket Mode to its ack. Tokens are never printed.
 */
export async function startSocketModeDev(options: SocketModeDevOptions): Promise<{ close(): Promise<void> }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tokens = socketModeTokens(options.shell);
  const slackApiUrl = options.shell.SLACK_API_URL?.trim() || SLACK_API_URL;
  const installation = await checkSlackTokens(tokens, { slackApiUrl });
  // Loaded only here: writing the manifest (below) needs none of the stack.
  const { startLocalStack } = await import('./stack');
  const onRequest = options.onRequest;
  let started: LocalStack | undefined;
  const stack: LocalStack = await startLocalStack({
    lancedbUri: options.lancedbUri,
    dynamoPath: options.dynamoPath,
    env: options.settings,
    slackWebApi: { botToken: tokens.botToken, apiUrl: slackApiUrl },
    onRequest: onRequest && ((entry) => started && onRequest(entry, started)),
  });
  started = stack;
  let bridge: SocketModeBridge;
  try {
    bridge = await startSocketModeBridge({
      appToken: tokens.appToken,
      eventsUrl: stack.eventsUrl,
      signingSecret: stack.signingSecret,
      slackApiUrl,
      log,
    });
  } catch (error) {
    await stack.close();
    throw error;
  }
  // The client reconnects by itself, and a reconnection Slack refuses for good (the app token revoked, the app
  // deleted) ends in a promise of the library's that nobody awaits. This is a command of its own process: say why in
  // one line and exit 1, as at start. Any other unhandled rejection stays the crash it would have been.
  process.on('unhandledRejection', (reason) => {
    if (!String((reason as { code?: unknown })?.code ?? '').startsWith('slack_webapi_')) throw reason;
    const error = setupError(
      'SLACK_APP_TOKEN',
      'apps.connections.open',
      slackApiUrl,
      reason,
      APP_TOKEN_ADVICE,
    );
    console.error(`Socket Mode could not reconnect. ${error.message}`);
    process.exit(1);
  });
  log(`Slack workspace:       ${installation.team} (${installation.teamId}), as @${installation.botName}`);
  log(`Vector store:          ${options.lancedbUri}`);
  log(`Mention @${installation.botName} in a channel it is in (/invite @${installation.botName}), or DM it.`);
  return {
    async close() {
      await bridge.close();
      await stack.close();
    },
  };
}

/** The manifest of the Request URL app, and the Socket Mode variant derived from it. */
export const HTTP_MANIFEST = resolve(__dirname, '../../slack/app-manifest.yaml');
export const SOCKET_MANIFEST = resolve(__dirname, '../../slack/app-manifest.socket.yaml');

/**
 * The Socket Mode manifest for the app described by `httpManifest` (YAML text): the same name, scopes, events and
 * interactivity, with Socket Mode on and no Request URLs (Slack refuses a manifest with both). Comments are kept.
 */
export function socketModeManifest(httpManifest: string): string {
  const doc = parseDocument(httpManifest);
  if (doc.errors.length > 0) throw new Error(`slack/app-manifest.yaml: ${doc.errors[0]?.message}`);
  const remove = (...path: (string | number)[]) => {
    if (!doc.hasIn(path)) return;
    // The comment above a collection's first key is the collection's own in this library: it goes with that key.
    const parent = doc.getIn(path.slice(0, -1), true);
    if (
      isMap(parent) &&
      parent.items[0] !== undefined &&
      String(parent.items[0].key) === String(path.at(-1))
    ) {
      parent.commentBefore = undefined;
    }
    doc.deleteIn(path);
  };
  remove('settings', 'event_subscriptions', 'request_url');
  remove('settings', 'interactivity', 'request_url');
  remove('settings', 'interactivity', 'message_menu_options_url');
  const commands = doc.getIn(['features', 'slash_commands']) as { items?: unknown[] } | undefined;
  for (let i = 0; i < (commands?.items?.length ?? 0); i += 1) remove('features', 'slash_commands', i, 'url');
  doc.setIn(['settings', 'socket_mode_enabled'], true);
  // The HTTP manifest's header (how to set its Request URL) gives way to this one.
  if (isMap(doc.contents)) {
    doc.contents.commentBefore = undefined;
    const firstKey = doc.contents.items[0]?.key;
    if (isScalar(firstKey)) firstKey.commentBefore = undefined;
  }
  doc.commentBefore = [
    ' GENERATED from slack/app-manifest.yaml by `npx tsx scripts/local/socket-mode.ts --write-manifest`; do not edit.',
    ' The same app for Socket Mode (`npm run dev -- --socket`): events and interactions arrive over a WebSocket that',
    ' the local stack opens, so there is no Request URL. https://api.slack.com/apps > Create New App > From an app',
    ' manifest; README, "Try it in your own Slack workspace (Socket Mode)", walks through it.',
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}

if (require.main === module && process.argv.includes('--write-manifest')) {
  writeFileSync(SOCKET_MANIFEST, socketModeManifest(readFileSync(HTTP_MANIFEST, 'utf8')));
  console.log(`wrote ${SOCKET_MANIFEST}`);
}
