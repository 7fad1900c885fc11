import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve } from 'node:path';
import { foreignPageWrite, foreignRequest, nonJson, refuse } from '../../../stand-ins/loopback-guard';
import type { FakeMessage } from '../../../stand-ins/slack/fake-slack';
import { signedHeaders } from '../../../stand-ins/slack/slack-request';
import {
  DEFAULT_CHANNEL,
  DEFAULT_USER,
  LOCAL_APP_ID,
  LOCAL_SHARED_CHANNEL,
  LOCAL_SISTER_TEAM_ID,
  LOCAL_SISTER_USER,
  type LocalStack,
} from '../stack';
import {
  appHomeOpened,
  assistantThreadStarted,
  blockActionsPayload,
  type ClickedButton,
  channelTypeOf,
  escapeSlackText,
  eventsForMessage,
  modalStateValues,
  type SlackWorkspace,
  viewSubmissionPayload,
} from './slack-events';

/**
 * The local playground: a web page that looks and behaves like a Slack channel and a DM with the bot. The page
 * never calls the bot's steps: what a person types is added to the fake Slack and delivered to the stack's
 * Request URL as the signed request Slack would send (an `app_mention`, a `message` event, a `block_actions`
 * click), and the page renders what the fake Slack holds, polling its state. The person typing is the local person
 * (DEFAULT_USER) unless the page names another one it may be (`user` in what it posts, `?user=` on `/api/state`):
 * a member of one of the fake Slack's user groups (LOCAL_SLACK_USERGROUPS), each with a DM of their own ({@link dmOf}).
 */

/** Options of {@link startPlayground}. */
export interface PlaygroundOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** When `port` is taken by another program, listen on any free port instead of failing. @default false */
  anyPortIfTaken?: boolean;
  /** The bot's name as the page shows it. @default 'docs-assistant', as in slack/app-manifest.yaml */
  botName?: string;
}

export interface Playground {
  /** The page: `http://127.0.0.1:PORT/`. */
  url: string;
  close(): Promise<void>;
}

/** One request the playground sent to the Request URL, as the page's delivery log shows it. */
export interface Delivery {
  at: number;
  /** `app_mention`, `message` (`channel` or `im`), or `block_actions`. */
  kind: string;
  channel: string;
  status: number;
  /** The ack's answer when it was not a plain 200. */
  body?: string;
}

/** What a `response_url` received that the fake Slack has no place for: an ephemeral reply. */
interface EphemeralMessage {
  /** Who clicked: the one person who sees it. */
  user: string;
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
}

/** Someone the person typing may be: the local person, or a member of a user group (LOCAL_SLACK_USERGROUPS). */
export interface PlaygroundPerson {
  id: string;
  /** The ids of the enabled user groups they are in now. */
  groups: string[];
  /** Their workspace, when the stack plays an Enterprise Grid organisation of two (LOCAL_SLACK_ENTERPRISE). */
  workspace?: string;
}

interface Conversation {
  id: string;
  name: string;
  kind: 'channel' | 'im';
}

const PUBLIC_DIR = resolve(__dirname, 'public');
const STATIC_FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/playground.css': 'playground.css',
  '/playground.js': 'playground.js',
  '/mrkdwn.js': 'mrkdwn.js',
  '/favicon.svg': 'favicon.svg',
  // Browsers ask for it whatever the page links.
  '/favicon.ico': 'favicon.svg',
};
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** The DM between the local person and the bot (a D… id, as Slack gives a direct message channel). */
export const PLAYGROUND_DM = 'D0LOCALDM01';
const MAX_BODY = 64 * 1024;

/**
 * Serves the playground for a running local stack on 127.0.0.1. The page's composer posts to `/api/messages`,
 * its buttons to `/api/actions`; it polls `/api/state` for the fake Slack's messages and thread statuses.
 */
export async function startPlayground(
  stack: LocalStack,
  options: PlaygroundOptions = {},
): Promise<Playground> {
  const botName = options.botName ?? 'docs-assistant';
  const workspace: SlackWorkspace = {
    teamId: stack.slack.teamId,
    appId: LOCAL_APP_ID,
    botUserId: stack.slack.botUserId,
    botId: stack.slack.botId,
  };
  /**
   * On an org-wide install (LOCAL_SLACK_ENTERPRISE) the organisation has two workspaces: the local person's, with
   * #general, and a sister one, whose member LOCAL_SISTER_USER the person typing may also be; both see
   * #org-shared. Each delivery names the organisation and the workspace of the person it is from.
   */
  const enterpriseId = stack.slack.enterpriseId;
  const teamOf = (user: string): string =>
    enterpriseId !== undefined && user === LOCAL_SISTER_USER ? LOCAL_SISTER_TEAM_ID : workspace.teamId;
  const workspaceOf = (user: string): SlackWorkspace =>
    enterpriseId === undefined ? workspace : { ...workspace, teamId: teamOf(user), enterpriseId };
  /**
   * What `user` sees in the sidebar: #general (not in the sister workspace), #org-shared on an org-wide install,
   * and their own DM with the bot (each person has one, as in Slack).
   */
  const conversationsOf = (user: string): Conversation[] => [
    ...(teamOf(user) === workspace.teamId
      ? [{ id: DEFAULT_CHANNEL, name: 'general', kind: 'channel' as const }]
      : []),
    ...(enterpriseId === undefined
      ? []
      : [{ id: LOCAL_SHARED_CHANNEL, name: 'org-shared', kind: 'channel' as const }]),
    { id: dmOf(user), name: botName, kind: 'im' },
  ];
  const deliveries: Delivery[] = [];
  const ephemerals: EphemeralMessage[] = [];
  /** Modals the person submitted or closed: the page shows the latest other one. */
  const doneViews = new Set<string>();
  let base = '';
  /** Everyone a user group has named since the playground started: who the person typing may choose to be. */
  const named = new Set<string>();

  /** The local person first, then every member of a user group, each with the groups they are in now. */
  function people(): PlaygroundPerson[] {
    const groups = Object.entries(stack.slack.userGroups()).filter(([, group]) => !group.disabled);
    for (const [, group] of groups) for (const user of group.users) named.add(user);
    const first = enterpriseId === undefined ? [DEFAULT_USER] : [DEFAULT_USER, LOCAL_SISTER_USER];
    return [...first, ...[...named].filter((id) => !first.includes(id)).sort()].map((id) => ({
      id,
      groups: groups.filter(([, group]) => group.users.includes(id)).map(([groupId]) => groupId),
      ...(enterpriseId === undefined ? {} : { workspace: teamOf(id) }),
    }));
  }

  /** Who the page says is typing: the local person unless it names someone else it may be. */
  function personOf(input: { user?: unknown }): string | undefined {
    if (input.user === undefined || input.user === null || input.user === '') return DEFAULT_USER;
    return people().find((person) => person.id === input.user)?.id;
  }
  /** In every `response_url` handed to the bot, so that only who received one can post to it (as Slack's are secret). */
  const responseUrlToken = randomBytes(16).toString('hex');

  async function deliver(
    kind: string,
    channel: string,
    body: string,
    contentType: string,
  ): Promise<Delivery> {
    let delivery: Delivery;
    try {
      const response = await fetch(stack.eventsUrl, {
        method: 'POST',
        headers: signedHeaders(stack.signingSecret, body, { contentType }),
        body,
      });
      const text = await response.text();
      delivery = {
        at: Date.now(),
        kind,
        channel,
        status: response.status,
        ...(response.status === 200 && text === '' ? {} : { body: text.slice(0, 500) }),
      };
    } catch (error) {
      delivery = { at: Date.now(), kind, channel, status: 0, body: (error as Error).message };
    }
    deliveries.push(delivery);
    if (deliveries.length > 200) deliveries.shift();
    return delivery;
  }

  async function postMessage(input: {
    channel?: unknown;
    text?: unknown;
    threadTs?: unknown;
    user?: unknown;
  }) {
    const user = personOf(input);
    if (user === undefined) return { status: 400, body: { error: 'unknown_user' } };
    const channel = typeof input.channel === 'string' ? input.channel : '';
    const typed = typeof input.text === 'string' ? input.text.trim() : '';
    if (!conversationsOf(user).some((c) => c.id === channel))
      return { status: 400, body: { error: 'unknown_channel' } };
    if (typed === '') return { status: 400, body: { error: 'no_text' } };
    const threadTs = typeof input.threadTs === 'string' && input.threadTs !== '' ? input.threadTs : undefined;
    const parent =
      threadTs === undefined ? undefined : stack.slack.messages(channel).find((m) => m.ts === threadTs);
    if (threadTs !== undefined && parent === undefined)
      return { status: 400, body: { error: 'thread_not_found' } };
    // As Slack stores it: the three characters escaped, then "@name" typed in the composer as a real mention.
    const text = escapeSlackText(typed).replace(
      new RegExp(`(^|\\s)@(${escapeRegExp(botName)}|bot)\\b`, 'gi'),
      (_, space: string) => `${space}<@${workspace.botUserId}>`,
    );
    // The person's message exists in Slack before Slack delivers the event about it.
    const posted = stack.slack.addMessage({ channel, text, user, thread_ts: threadTs });
    const events = eventsForMessage(workspaceOf(user), {
      channel,
      ts: posted.ts,
      text,
      user,
      threadTs,
      parentUserId: parent?.user,
    });
    const sent: Delivery[] = [];
    for (const payload of events) {
      const kind =
        payload.event.type === 'app_mention'
          ? 'app_mention'
          : `message (${String(payload.event.channel_type)})`;
      sent.push(await deliver(kind, channel, JSON.stringify(payload), 'application/json'));
    }
    return { status: 200, body: { ts: posted.ts, deliveries: sent } };
  }

  async function click(input: {
    channel?: unknown;
    ts?: unknown;
    actionId?: unknown;
    value?: unknown;
    user?: unknown;
  }) {
    const user = personOf(input);
    if (user === undefined) return { status: 400, body: { error: 'unknown_user' } };
    const channel = typeof input.channel === 'string' ? input.channel : '';
    const message = stack.slack.messages(channel).find((m) => m.ts === input.ts && !m.deleted);
    if (message === undefined) return { status: 400, body: { error: 'message_not_found' } };
    const button = findButton(message, String(input.actionId ?? ''), String(input.value ?? ''));
    if (button === undefined) return { status: 400, body: { error: 'button_not_found' } };
    const payload = blockActionsPayload(workspaceOf(user), {
      user,
      channelName: conversationsOf(user).find((c) => c.id === channel)?.name ?? channel,
      message: {
        channel,
        ts: message.ts,
        threadTs: message.thread_ts,
        text: message.text,
        blocks: message.blocks,
        user: message.user,
        botId: message.bot_id,
      },
      button,
      responseUrl: `${base}/api/response-url/${responseUrlToken}/${encodeURIComponent(channel)}/${encodeURIComponent(message.ts)}/${encodeURIComponent(user)}`,
    });
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const delivery = await deliver('block_actions', channel, body, 'application/x-www-form-urlencoded');
    return { status: 200, body: { delivery } };
  }

  /** What the bot posts to a click's `response_url`, handled as Slack would (docs.slack.dev, handling interactions). */
  async function respond(channel: string, ts: string, user: string, input: Record<string, unknown>) {
    const message = stack.slack.messages(channel).find((m) => m.ts === ts);
    if (message === undefined) return { status: 404, body: { ok: false, error: 'expired_url' } };
    const threadTs = typeof input.thread_ts === 'string' ? input.thread_ts : message.thread_ts;
    const api = async (method: string, args: Record<string, unknown>) => {
      const response = await fetch(`${stack.slack.apiUrl}${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.slack.token}` },
        body: JSON.stringify(args),
      });
      return (await response.json()) as { ok: boolean; error?: string };
    };
    let result: { ok: boolean; error?: string };
    if (input.delete_original === true) {
      result = await api('chat.delete', { channel, ts });
    } else if (input.replace_original === true) {
      result = await api('chat.update', { channel, ts, text: input.text, blocks: input.blocks });
    } else if (input.response_type === 'in_channel') {
      result = await api('chat.postMessage', {
        channel,
        thread_ts: threadTs,
        text: input.text,
        blocks: input.blocks,
      });
    } else {
      ephemerals.push({
        user,
        channel,
        ts: `${(Date.now() / 1000).toFixed(6)}r${ephemerals.length}`,
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
        text: typeof input.text === 'string' ? input.text : '',
        ...(Array.isArray(input.blocks) ? { blocks: input.blocks } : {}),
      });
      result = { ok: true };
    }
    return { status: 200, body: result };
  }

  /** The person opens the DM with the app (its Messages tab): Slack sends `app_home_opened`. */
  async function openAppHome(input: { channel?: unknown; user?: unknown }) {
    const user = personOf(input);
    if (user === undefined) return { status: 400, body: { error: 'unknown_user' } };
    const channel = typeof input.channel === 'string' ? input.channel : '';
    if (channel !== dmOf(user)) return { status: 400, body: { error: 'not_a_dm' } };
    const payload = appHomeOpened(workspaceOf(user), { channel, user });
    return {
      status: 200,
      body: {
        delivery: await deliver('app_home_opened', channel, JSON.stringify(payload), 'application/json'),
      },
    };
  }

  /**
   * The person starts a new chat in the agent pane: Slack opens a thread in the DM with the app and sends
   * `assistant_thread_started`. The thread's first message stands for the pane's own (Slack shows none there).
   */
  async function startAssistantThread(input: {
    channel?: unknown;
    contextChannel?: unknown;
    user?: unknown;
  }) {
    const user = personOf(input);
    if (user === undefined) return { status: 400, body: { error: 'unknown_user' } };
    const channel = typeof input.channel === 'string' ? input.channel : '';
    if (channel !== dmOf(user)) return { status: 400, body: { error: 'not_a_dm' } };
    const root = stack.slack.addMessage({ channel, text: 'New chat', user: workspace.botUserId });
    const contextChannel =
      typeof input.contextChannel === 'string' && input.contextChannel !== ''
        ? input.contextChannel
        : DEFAULT_CHANNEL;
    const payload = assistantThreadStarted(workspaceOf(user), {
      channel,
      threadTs: root.ts,
      user,
      contextChannel,
    });
    const delivery = await deliver(
      'assistant_thread_started',
      channel,
      JSON.stringify(payload),
      'application/json',
    );
    return { status: 200, body: { threadTs: root.ts, delivery } };
  }

  /** The person submits a modal: Slack posts `view_submission`; a `response_action: errors` answer keeps it open. */
  async function submitView(viewId: string, input: { values?: unknown; user?: unknown }) {
    const user = personOf(input);
    if (user === undefined) return { status: 400, body: { error: 'unknown_user' } };
    const opened = stack.slack.views().find((v) => v.id === viewId);
    if (opened === undefined || doneViews.has(viewId))
      return { status: 400, body: { error: 'view_not_found' } };
    const entered = (typeof input.values === 'object' && input.values !== null ? input.values : {}) as Record<
      string,
      string | undefined
    >;
    const payload = viewSubmissionPayload(workspaceOf(user), {
      user,
      viewId,
      view: opened.view,
      values: modalStateValues(opened.view, entered),
    });
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const delivery = await deliver('view_submission', '', body, 'application/x-www-form-urlencoded');
    const answer = safeJson(delivery.body ?? '') as
      | { response_action?: string; errors?: unknown }
      | undefined;
    if (delivery.status === 200 && answer?.response_action === 'errors') {
      return { status: 200, body: { delivery, errors: answer.errors } };
    }
    if (delivery.status === 200) doneViews.add(viewId);
    return { status: 200, body: { delivery } };
  }

  /** The person closes a modal: Slack tells the app only when the view asked (`notify_on_close`). */
  async function closeView(viewId: string, input: { user?: unknown }) {
    const user = personOf(input);
    if (user === undefined) return { status: 400, body: { error: 'unknown_user' } };
    const opened = stack.slack.views().find((v) => v.id === viewId);
    if (opened === undefined) return { status: 400, body: { error: 'view_not_found' } };
    doneViews.add(viewId);
    if (opened.view.notify_on_close !== true) return { status: 200, body: {} };
    const submission = viewSubmissionPayload(workspaceOf(user), {
      user,
      viewId,
      view: opened.view,
      values: modalStateValues(opened.view, {}),
    });
    const { trigger_id: _, response_urls: __, ...closed } = submission;
    const body = new URLSearchParams({
      payload: JSON.stringify({ ...closed, type: 'view_closed', is_cleared: false }),
    }).toString();
    return {
      status: 200,
      body: { delivery: await deliver('view_closed', '', body, 'application/x-www-form-urlencoded') },
    };
  }

  /** What the page draws for `user` (the local person when it is not someone they may be). */
  function state(asked: string | null) {
    const everyone = people();
    const user = everyone.find((person) => person.id === asked)?.id ?? DEFAULT_USER;
    const conversations = conversationsOf(user);
    // The other people's DMs with the bot are theirs: neither listed nor drawn.
    const othersDms = new Set(everyone.filter((p) => p.id !== user).map((p) => dmOf(p.id)));
    // A sister workspace's member does not see the local person's workspace's own channels.
    const unseen = new Set(teamOf(user) === workspace.teamId ? othersDms : [...othersDms, DEFAULT_CHANNEL]);
    const known = new Set([...conversations.map((c) => c.id), ...unseen]);
    const messages = stack.slack.messages().filter((m) => !m.deleted && !unseen.has(m.channel));
    // A conversation the bot posted in that the page does not list yet (a DM it opened, say) is shown too.
    const extra = [...new Set(messages.map((m) => m.channel))]
      .filter((id) => !known.has(id))
      .map((id): Conversation => ({ id, name: id, kind: channelTypeOf(id) }));
    // What each thread shows now, as the fake Slack rules it: cleared, replaced by a reply, or expired.
    const threads = new Set(stack.slack.statuses().map((st) => `${st.channel} ${st.thread_ts}`));
    const statuses = [...threads].flatMap((key) => {
      const [channel = '', threadTs = ''] = key.split(' ');
      const status = stack.slack.currentStatus(channel, threadTs);
      return status === undefined ? [] : [{ channel, thread_ts: threadTs, status }];
    });
    return {
      workspace: {
        teamId: teamOf(user),
        ...(enterpriseId === undefined ? {} : { enterpriseId }),
        botUserId: workspace.botUserId,
        botName,
        userId: user,
        people: everyone,
      },
      conversations: [...conversations, ...extra],
      messages: messages.map((m) => ({
        channel: m.channel,
        ts: m.ts,
        ...(m.thread_ts === undefined ? {} : { thread_ts: m.thread_ts }),
        user: m.user,
        // The bot's posts, and the first message of an agent-pane chat the playground opened in the bot's name.
        bot: m.bot_id !== undefined || m.user === workspace.botUserId,
        text: m.text,
        ...(m.blocks === undefined ? {} : { blocks: m.blocks }),
        streaming: m.streaming,
        edits: m.updates.length,
        reactions: m.reactions,
        tasks: tasksOf(stack, m),
      })),
      ephemerals: [
        ...ephemerals.filter((e) => e.user === user).map(({ user: _, ...e }) => e),
        ...stack.slack
          .ephemerals()
          .filter((e) => e.user === user)
          .map((e, index) => ({
            channel: e.channel,
            ts: `${(e.at / 1000).toFixed(6)}e${index}`,
            ...(e.thread_ts === undefined ? {} : { thread_ts: e.thread_ts }),
            text: e.text,
          })),
      ],
      suggestedPrompts: latestPrompts(stack),
      titles: stack.slack.titles(),
      modal: stack.slack
        .views()
        .filter((v) => !doneViews.has(v.id))
        .map((v) => ({ id: v.id, view: v.view }))
        .at(-1),
      statuses,
      deliveries: deliveries.slice(-20),
    };
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end((error as Error).message);
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Another site's page, or one rebound to 127.0.0.1, neither reads the conversation nor acts in the person's name
    // (loopback-guard.ts): this server signs what it sends to the Request URL.
    if (refuse(res, foreignRequest(req, { ownPage: true }))) return;
    const responseUrl = /^\/api\/response-url\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && responseUrl) {
      // Posted by the bot (no Origin): the token in the URL it was given stands for the page's Origin.
      if (responseUrl[1] !== responseUrlToken) return json(res, 404, { ok: false, error: 'expired_url' });
      if (refuse(res, nonJson(req))) return;
      const result = await respond(
        decodeURIComponent(responseUrl[2] ?? ''),
        decodeURIComponent(responseUrl[3] ?? ''),
        decodeURIComponent(responseUrl[4] ?? ''),
        await readJson(req),
      );
      return json(res, result.status, result.body);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && refuse(res, foreignPageWrite(req))) return;
    const file = STATIC_FILES[url.pathname];
    if (req.method === 'GET' && file !== undefined) {
      const content = await readFile(resolve(PUBLIC_DIR, file));
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        // Everything is served from here: no script, style or image from anywhere else, no inline script.
        'content-security-policy':
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
        'x-content-type-options': 'nosniff',
      });
      res.end(content);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/state')
      return json(res, 200, state(url.searchParams.get('user')));
    if (req.method === 'POST' && url.pathname === '/api/messages') {
      const result = await postMessage(await readJson(req));
      return json(res, result.status, result.body);
    }
    if (req.method === 'POST' && url.pathname === '/api/actions') {
      const result = await click(await readJson(req));
      return json(res, result.status, result.body);
    }
    if (req.method === 'POST' && url.pathname === '/api/app-home-opened') {
      const result = await openAppHome(await readJson(req));
      return json(res, result.status, result.body);
    }
    if (req.method === 'POST' && url.pathname === '/api/assistant-threads') {
      const result = await startAssistantThread(await readJson(req));
      return json(res, result.status, result.body);
    }
    const viewAction = /^\/api\/views\/([A-Z0-9]+)\/(submit|close)$/.exec(url.pathname);
    if (req.method === 'POST' && viewAction) {
      const [, viewId = '', action] = viewAction;
      const result =
        action === 'submit'
          ? await submitView(viewId, await readJson(req))
          : await closeView(viewId, await readJson(req));
      return json(res, result.status, result.body);
    }
    json(res, 404, { error: 'not_found' });
  }

  const listen = (port: number) =>
    new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', fail);
        done();
      });
    });
  try {
    await listen(options.port ?? 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.anyPortIfTaken !== true)
      throw error;
    await listen(0);
  }
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** The DM between `user` and the bot: the local person's is {@link PLAYGROUND_DM}, another's `D` and their id. */
export function dmOf(user: string): string {
  return user === DEFAULT_USER ? PLAYGROUND_DM : `D${user}`;
}

/** The suggested prompts each DM (no thread_ts) or assistant thread shows: the last ones set for it. */
function latestPrompts(stack: LocalStack) {
  const latest = new Map<
    string,
    { channel: string; thread_ts?: string; title?: string; prompts: unknown[] }
  >();
  for (const set of stack.slack.suggestedPrompts()) {
    latest.set(`${set.channel_id} ${set.thread_ts ?? ''}`, {
      channel: set.channel_id,
      ...(set.thread_ts === undefined ? {} : { thread_ts: set.thread_ts }),
      ...(set.title === undefined ? {} : { title: set.title }),
      prompts: set.prompts,
    });
  }
  return [...latest.values()];
}

/** The button with this action_id and value in the message's `actions` or `context_actions` blocks. */
function findButton(message: FakeMessage, actionId: string, value: string): ClickedButton | undefined {
  for (const [index, block] of (message.blocks ?? []).entries()) {
    const { type, block_id, elements } = block as { type?: string; block_id?: string; elements?: unknown[] };
    if ((type !== 'actions' && type !== 'context_actions') || !Array.isArray(elements)) continue;
    // Slack gives a block without one an id of its own; the same one every time for the same message here.
    const blockId = block_id ?? `${message.ts}-${index}`;
    for (const element of elements as Record<string, unknown>[]) {
      if (element.action_id !== actionId) continue;
      if (element.type === 'feedback_buttons') {
        for (const side of ['positive_button', 'negative_button']) {
          const button = element[side] as { value?: string; text?: { text?: string } } | undefined;
          if (button?.value === value) {
            return { type: 'feedback_buttons', actionId, blockId, value, label: button.text?.text ?? '' };
          }
        }
      } else if (element.value === value || (element.value === undefined && value === '')) {
        const label = (element.text as { text?: string } | undefined)?.text ?? '';
        return { type: String(element.type), actionId, blockId, value, label };
      }
    }
  }
  return undefined;
}

/**
 * The `task_update` chunks the bot streamed into a message (Slack shows them as a plan above the text), read from
 * the calls the fake Slack answered: the fake keeps only the text chunks on the message itself.
 */
function tasksOf(stack: LocalStack, message: FakeMessage): { id: string; title: string; status: string }[] {
  if (message.bot_id === undefined) return [];
  const tasks = new Map<string, { id: string; title: string; status: string }>();
  for (const call of stack.slack.calls) {
    if (!call.ok || !call.method.endsWith('Stream') || call.args.channel !== message.channel) continue;
    const own =
      call.args.ts === message.ts ||
      (call.method === 'chat.startStream' &&
        call.args.thread_ts === message.thread_ts &&
        Math.abs(call.at - message.postedAt) < 50);
    if (!own) continue;
    const chunks = typeof call.args.chunks === 'string' ? safeJson(call.args.chunks) : call.args.chunks;
    if (!Array.isArray(chunks)) continue;
    for (const chunk of chunks as Record<string, unknown>[]) {
      if (chunk?.type !== 'task_update' || typeof chunk.id !== 'string') continue;
      const before = tasks.get(chunk.id);
      tasks.set(chunk.id, {
        id: chunk.id,
        title: typeof chunk.title === 'string' ? chunk.title : (before?.title ?? chunk.id),
        status: typeof chunk.status === 'string' ? chunk.status : (before?.status ?? 'pending'),
      });
    }
  }
  return [...tasks.values()];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
