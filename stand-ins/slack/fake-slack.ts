import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { refuseForeignRequest } from '../loopback-guard';

/**
 * A loopback stand-in for the Slack Web API: the real `WebClient` talks to it through `slackApiUrl`, and it keeps
 * a transcript (messages with their edit history, every call) for tests and local runs to read. It enforces the
 * limits the bot can run into (40,000 characters of text, 3,000 per section, 50 blocks, streaming states), Slack's
 * rate limits per method (429 with Retry-After, on by default: see {@link SLACK_RATE_LIMITS}), and
 * can inject faults (429 with Retry-After, 5xx, `ok: false` errors). Only what the bot uses is implemented.
 */

/** Options of {@link startFakeSlack}. */
export interface FakeSlackOptions {
  /** @default 'U0FAKEBOT' */
  botUserId?: string;
  /** @default 'B0FAKEBOT' */
  botId?: string;
  /** @default 'T0FAKE' */
  teamId?: string;
  /**
   * Plays an org-wide install on Enterprise Grid of this organisation (`E…`): `auth.test` says
   * `is_enterprise_install: true` and names it (its `team_id` is the organisation's id, no workspace), and
   * `users.info` describes everyone not added otherwise as a member of it (`enterprise_user`). `teamId` is then
   * one of its workspaces, the one the bot's own messages say they come from. Unset: a single workspace.
   */
  enterpriseId?: string;
  /** The app id `auth.test` reports. @default 'A0LOCAL001', the app of stand-ins/slack/fixtures/app-mention.json */
  appId?: string;
  /** @default 0 (any free port) */
  port?: number;
  /**
   * Slack's rate limits ({@link SLACK_RATE_LIMITS}): on by default, as in production. `false` turns them off, for a
   * test that bursts past them on purpose (and says so); `timeScale` runs their clock faster.
   */
  rateLimits?: false | RateLimitOptions;
  /**
   * The workspace's user groups (`usergroups.list`, `usergroups.users.list`), by group id (`S…`): the ids of their
   * members (`U…` or `W…`), or a group described more fully. None by default. {@link FakeSlack.setUserGroups} and
   * {@link FakeSlack.setUserGroupMembers} change them while the fake runs.
   */
  usergroups?: FakeUserGroups;
  /**
   * What `assistant.search.context` (Slack's Real-time Search API) searches: conversations with their members, and
   * the messages in them. None by default. {@link FakeSlack.setSearchable} replaces it while the fake runs.
   */
  searchable?: FakeSearchable;
  /**
   * Whether the workspace has the Real-time Search API (`assistant.search.info`'s `is_ai_search_enabled`). Without
   * it `assistant.search.context` answers `ok: false` with `ai_search_not_enabled` (the fake's name). @default true
   */
  aiSearchEnabled?: boolean;
}

/** A conversation the Real-time Search fake knows, with who is in it. */
export interface FakeSearchChannel {
  /** `C…` (public or private), `G…` (private), `D…` (a DM) or an mpim's id. */
  id: string;
  /** The channel's name (`general`), or for a DM the other person's id. */
  name: string;
  type: 'public_channel' | 'private_channel' | 'mpim' | 'im';
  /** Who is in it. A public channel's messages are found by anyone in the workspace (search:read.public). */
  members: readonly string[];
}

/** The conversations and messages `assistant.search.context` searches. */
export interface FakeSearchable {
  channels: readonly FakeSearchChannel[];
  messages: readonly { channel: string; ts: string; user: string; text: string }[];
}

/** A user group described more fully than by its members: its name, handle, and whether it is disabled. */
export interface FakeUserGroup {
  /** Member user ids, `U…` or `W…`. */
  users: readonly string[];
  /** @default the group id, e.g. `S0HRTEAM` */
  name?: string;
  /** The mention handle (`@handle`). @default the group id in lower case, e.g. `s0hrteam` */
  handle?: string;
  /** @default '' */
  description?: string;
  /** A disabled group (`date_delete` > 0): left out unless asked for with `include_disabled`. @default false */
  disabled?: boolean;
}

/** User groups by id (`S…`): each its members' ids, or a {@link FakeUserGroup}. */
export type FakeUserGroups = Readonly<Record<string, readonly string[] | FakeUserGroup>>;

/** How the fake counts Slack's rate limits. */
export interface RateLimitOptions {
  /**
   * Real time per unit of Slack time: 0.05 makes a minute of Slack's limits last 3 s (Tier 3's 50 calls then come
   * back over 3 s), with the same counts and bursts. Retry-After is in real seconds, at least 1 (Slack sends whole
   * seconds). @default 1
   */
  timeScale?: number;
}

/** One edit of a message: a `chat.update`, or text streamed into it. */
export interface FakeMessageUpdate {
  /** When the server applied it, in epoch milliseconds. */
  at: number;
  text: string;
  blocks?: unknown[];
}

/** The current state of one message, with its history of edits. */
export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  user: string;
  /** Set on the bot's own messages. */
  bot_id?: string;
  deleted: boolean;
  /** True between `chat.startStream` and `chat.stopStream`. */
  streaming: boolean;
  /** When it was posted, in epoch milliseconds. */
  postedAt: number;
  updates: FakeMessageUpdate[];
  reactions: string[];
  /** Message metadata posted with it (`metadata`: event_type and event_payload). */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** The task cards of a native stream (`task_update` chunks), latest state of each by id. */
  tasks?: FakeTask[];
  /** `chat.startStream`'s `task_display_mode`. */
  taskDisplayMode?: 'timeline' | 'plan';
}

/** One task card of a natively streamed message. */
export interface FakeTask {
  id: string;
  title: string;
  status: 'pending' | 'in_progress' | 'complete' | 'error';
  details?: string;
  output?: string;
  sources?: Array<{ type: string; url: string; text: string }>;
}

/** A message only one person sees (`chat.postEphemeral`). */
export interface FakeEphemeral {
  channel: string;
  user: string;
  thread_ts?: string;
  text: string;
  at: number;
}

/** A modal opened with `views.open`. */
export interface FakeView {
  id: string;
  trigger_id: string;
  view: Record<string, unknown>;
  at: number;
}

/** Suggested prompts set with `assistant.threads.setSuggestedPrompts`. */
export interface FakeSuggestedPrompts {
  channel_id: string;
  thread_ts?: string;
  title?: string;
  prompts: Array<{ title: string; message: string }>;
}

/** One request the server answered. */
export interface FakeCall {
  method: string;
  /** The arguments, decoded (JSON-encoded fields such as `blocks` parsed), without the token. */
  args: Record<string, unknown>;
  /** When it arrived, in epoch milliseconds. */
  at: number;
  /** The HTTP status answered. */
  status: number;
  ok: boolean;
  error?: string;
  /** Set when a rate limit refused it (429): which one, e.g. `chat.update per workspace (Tier 3)`. */
  rateLimit?: string;
}

/** A fault the next call(s) of one method get instead of being handled. */
export interface FaultOptions {
  /** Answer with this HTTP status; 429 also sends `Retry-After`. */
  status?: 429 | 500 | 503;
  /** The `Retry-After` of a 429, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /** Answer HTTP 200 `{ ok: false, error }` with this error, e.g. `ratelimited`. */
  error?: string;
  /** How many calls in a row fail. @default 1 */
  times?: number;
  /** How many calls of the method succeed first (a fault in the middle of a sequence of posts). @default 0 */
  after?: number;
  /**
   * The call is made (a message posted, say) but its answer is sent only this long after: an answer lost or late on
   * the way back, after which a caller's timeout fires though the call took effect. Without `status` or `error`.
   */
  answerAfterMs?: number;
  /**
   * The call is made, then its connection is closed without an answer: the caller sees a network error at once (a
   * connection reset on the way back), though the call took effect. Without `status` or `error`.
   */
  dropAnswer?: boolean;
}

/** How often one message was edited. */
export interface UpdateStats {
  count: number;
  /** The shortest time between two consecutive edits, in ms (Infinity with fewer than two). */
  minGapMs: number;
  /** The most edits within any one-second window. */
  maxPerSecond: number;
}

/** A person as `users.info` describes them (the fields the bot reads; Slack sends many more). */
export interface FakeUser {
  id: string;
  /** The person's home workspace: another one for a Slack Connect user. @default the fake's team */
  team_id?: string;
  /**
   * The person's Enterprise Grid organisation (`users.info`'s `enterprise_user.enterprise_id`); null for a person
   * of no organisation, or of a workspace outside Grid. @default the fake's `enterpriseId`
   */
  enterprise_id?: string | null;
  /** A multi-channel guest. @default false */
  is_restricted?: boolean;
  /** A single-channel guest. @default false */
  is_ultra_restricted?: boolean;
}

/** A status set with `assistant.threads.setStatus`. */
export interface FakeThreadStatus {
  channel: string;
  thread_ts: string;
  status: string;
  loading_messages?: string[];
  at: number;
}

/** A running fake Slack Web API. */
export interface FakeSlack {
  /** The base URL to pass as `WebClient`'s `slackApiUrl`, e.g. `http://127.0.0.1:PORT/api/`. */
  readonly apiUrl: string;
  /** A token it accepts (any `xoxb-` token is accepted). */
  readonly token: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  /** The organisation of an org-wide install it plays (`enterpriseId`), if any. */
  readonly enterpriseId?: string;
  /** Every call answered, in order. */
  readonly calls: readonly FakeCall[];
  /** Snapshots of the messages (deleted ones included, flagged), in order of ts; of one channel if given. */
  messages(channel?: string): FakeMessage[];
  /** The thread's parent (when known) and replies that are not deleted, in order of ts. */
  threadReplies(channel: string, threadTs: string): FakeMessage[];
  /** Statuses set with `assistant.threads.setStatus`, in order. */
  statuses(): FakeThreadStatus[];
  /**
   * The status a thread shows now: the last one set, unless it was cleared (an empty status) or the bot posted
   * in the thread since (Slack removes the status when the app replies), or it is older than Slack's 2 minutes.
   */
  currentStatus(channel: string, threadTs: string): string | undefined;
  /** Titles set with `assistant.threads.setTitle`, by `channel thread_ts`. */
  titles(): Record<string, string>;
  /** Suggested prompts set, in order. */
  suggestedPrompts(): FakeSuggestedPrompts[];
  /** Ephemeral messages posted, in order. */
  ephemerals(): FakeEphemeral[];
  /** Modals opened, in order. */
  views(): FakeView[];
  /** Adds a message as if a person posted it, e.g. the mention that starts a thread. */
  addMessage(message: { channel: string; text: string; user?: string; thread_ts?: string }): FakeMessage;
  /**
   * Adds or replaces a person `users.info` describes. Anyone not added is a full member of the fake's workspace
   * (real Slack would answer `user_not_found`; the fake stands in for a workspace whose people all exist).
   */
  addUser(user: FakeUser): void;
  /** Replaces every user group (`usergroups.list` and `usergroups.users.list` answer from them from the next call). */
  setUserGroups(groups: FakeUserGroups): void;
  /**
   * Sets one group's members (an empty list empties it), creating the group when it does not exist; its name, handle
   * and whether it is disabled are kept. The next call sees the change, as Slack's would.
   */
  setUserGroupMembers(groupId: string, users: readonly string[]): void;
  /** The user groups as they are now, disabled ones included, by id. */
  userGroups(): Record<string, Required<FakeUserGroup>>;
  /** Replaces what `assistant.search.context` searches. */
  setSearchable(searchable: FakeSearchable): void;
  /**
   * An `action_token` as Slack would put in the event of `user`'s message: `assistant.search.context` called with
   * it searches what that person can see. Tokens the fake did not issue are refused.
   */
  actionTokenFor(user: string): string;
  /** Makes the next call(s) of `method` fail as described. */
  failNext(method: string, fault: FaultOptions): void;
  /** Drops the faults still queued for `method`: Slack has recovered. */
  clearFaults(method: string): void;
  /** The calls Slack's rate limits refused (429 with Retry-After), in order; injected faults are not among them. */
  rateLimited(): FakeCall[];
  /** How often one message was edited (posting it is not an edit). */
  updateStats(channel: string, ts: string): UpdateStats;
  /** The most edits any one message had within one second. */
  maxUpdatesPerSecond(): number;
  /** Polls `predicate` until it returns a truthy value, which it resolves with; rejects after `timeoutMs`. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** Form fields WebClient sends JSON-encoded. */
const JSON_FIELDS = ['blocks', 'chunks', 'attachments', 'metadata', 'prompts', 'loading_messages', 'view'];
const MAX_TEXT = 40_000;
const MAX_STREAM_CHUNK = 12_000;
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;

class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

type Args = Record<string, unknown>;
type Handler = (args: Args) => Record<string, unknown>;

/** Starts the fake on 127.0.0.1. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botUserId = options.botUserId ?? 'U0FAKEBOT';
  const botId = options.botId ?? 'B0FAKEBOT';
  const teamId = options.teamId ?? 'T0FAKE';
  const enterpriseId = options.enterpriseId;
  const appId = options.appId ?? 'A0LOCAL001';
  const users = new Map<string, FakeUser>();
  const startedAt = Math.floor(Date.now() / 1000);
  const groups = new Map<string, StoredUserGroup>();
  const setUserGroups = (given: FakeUserGroups): void => {
    const problem = userGroupsProblem(given);
    if (problem !== undefined) throw new Error(`user groups: ${problem}`);
    groups.clear();
    const now = Math.max(startedAt, Math.floor(Date.now() / 1000));
    for (const [id, group] of Object.entries(given)) groups.set(id, storedUserGroup(id, group, now));
  };
  setUserGroups(options.usergroups ?? {});
  let searchable: FakeSearchable = options.searchable ?? { channels: [], messages: [] };
  const actionTokens = new Map<string, string>();
  const messages: FakeMessage[] = [];
  const calls: FakeCall[] = [];
  const statuses: FakeThreadStatus[] = [];
  const titles: Record<string, string> = {};
  const suggested: FakeSuggestedPrompts[] = [];
  const ephemerals: FakeEphemeral[] = [];
  const views: FakeView[] = [];
  const faults = new Map<string, Array<FaultOptions & { remaining: number }>>();
  const limiter = options.rateLimits === false ? undefined : createRateLimiter(options.rateLimits);
  let lastMicros = 0;

  const nextTs = (): string => {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, '0')}`;
  };

  const find = (args: Args, tsField = 'ts'): FakeMessage => {
    const channel = requireString(args, 'channel', 'channel_not_found');
    const ts = requireString(args, tsField, 'message_not_found');
    const message = messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
    if (message === undefined) throw new SlackApiError('message_not_found');
    return message;
  };

  const ownMessage = (args: Args): FakeMessage => {
    const message = find(args);
    if (message.user !== botUserId) throw new SlackApiError('cant_update_message');
    return message;
  };

  const post = (
    fields: Partial<FakeMessage> & { channel: string; text: string; user: string },
  ): FakeMessage => {
    const message: FakeMessage = {
      ts: nextTs(),
      deleted: false,
      streaming: false,
      postedAt: Date.now(),
      updates: [],
      reactions: [],
      ...fields,
    };
    messages.push(message);
    return message;
  };

  const edit = (message: FakeMessage, text: string, blocks: unknown[] | undefined): void => {
    message.text = text;
    message.blocks = blocks;
    message.updates.push({ at: Date.now(), text, ...(blocks === undefined ? {} : { blocks }) });
  };

  const view = (message: FakeMessage, withMetadata = false): Record<string, unknown> => ({
    type: 'message',
    ts: message.ts,
    ...(message.thread_ts === undefined ? {} : { thread_ts: message.thread_ts }),
    text: message.text,
    user: message.user,
    ...(message.bot_id === undefined ? {} : { bot_id: message.bot_id, team: teamId }),
    ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
    ...(withMetadata && message.metadata !== undefined ? { metadata: message.metadata } : {}),
  });

  const replies = (channel: string, threadTs: string): FakeMessage[] =>
    messages
      .filter((m) => m.channel === channel && !m.deleted && (m.ts === threadTs || m.thread_ts === threadTs))
      .sort((a, b) => compareTs(a.ts, b.ts));

  const handlers: Record<string, Handler> = {
    'auth.test': () => ({
      url: 'https://fake-slack.local/',
      team: 'Fake Workspace',
      user: 'bot',
      // An org-level token (https://docs.slack.dev/enterprise/developing-for-enterprise-orgs): the organisation,
      // no workspace.
      team_id: enterpriseId ?? teamId,
      user_id: botUserId,
      bot_id: botId,
      app_id: appId,
      app_name: 'Docs Assistant',
      ...(enterpriseId === undefined
        ? { is_enterprise_install: false }
        : { enterprise_id: enterpriseId, is_enterprise_install: true }),
    }),
    // Shaped as Slack's users.info answer (https://docs.slack.dev/reference/methods/users.info), trimmed to
    // the fields that say who a person is; needs the users:read scope.
    'users.info': (args) => {
      const id = requireString(args, 'user', 'user_not_found');
      const user = users.get(id) ?? { id };
      const restricted = user.is_restricted === true || user.is_ultra_restricted === true;
      const organisation = user.enterprise_id === undefined ? enterpriseId : user.enterprise_id;
      return {
        user: {
          id,
          team_id: user.team_id ?? teamId,
          // On Grid: the person's organisation and the workspaces of it they are in.
          ...(organisation == null
            ? {}
            : { enterprise_user: { id, enterprise_id: organisation, teams: [user.team_id ?? teamId] } }),
          name: id.toLowerCase(),
          deleted: false,
          real_name: `Person ${id}`,
          is_admin: false,
          is_owner: false,
          is_primary_owner: false,
          is_restricted: restricted,
          is_ultra_restricted: user.is_ultra_restricted === true,
          is_bot: false,
          is_app_user: false,
          updated: 1_700_000_000,
          profile: {
            real_name: `Person ${id}`,
            display_name: id.toLowerCase(),
            team: user.team_id ?? teamId,
          },
        },
      };
    },
    // https://docs.slack.dev/reference/methods/usergroups.list (usergroups:read): every group in no particular
    // order, disabled ones only with include_disabled, members only with include_users. team_id only matters with
    // an org-level token: ignored for a workspace token, as Slack ignores it; "required if org token is used", so
    // the fake playing an org-wide install refuses a call without it (the error name is the fake's own: the
    // documentation names none for it). Its groups are the same whichever workspace is named.
    'usergroups.list': (args) => {
      if (enterpriseId !== undefined) requireString(args, 'team_id', 'invalid_arguments');
      const withUsers = flag(args, 'include_users');
      const withDisabled = flag(args, 'include_disabled');
      return {
        usergroups: [...groups.values()]
          .filter((group) => withDisabled || group.date_delete === 0)
          .map(({ users: members, ...group }) => ({
            ...group,
            team_id: teamId,
            prefs: { channels: [], groups: [] },
            user_count: members.length,
            ...(withUsers ? { users: [...members] } : {}),
          })),
      };
    },
    // https://docs.slack.dev/reference/methods/usergroups.users.list (usergroups:read): the members' ids;
    // no_such_subteam for an unknown group, and (the fake's reading of "allow results that involve disabled User
    // Groups") for a disabled one unless include_disabled.
    'usergroups.users.list': (args) => {
      const id = requireString(args, 'usergroup', 'invalid_arguments');
      const group = groups.get(id);
      if (group === undefined || (group.date_delete !== 0 && !flag(args, 'include_disabled')))
        throw new SlackApiError('no_such_subteam');
      return { users: [...group.users] };
    },
    // https://docs.slack.dev/reference/methods/assistant.search.context (the Real-time Search API): messages the
    // person whose action_token it is can see, best match first, each with its permalink. The fake's model: a
    // public channel is found by anyone in the workspace (the search:read.public scope's page: "The searching user
    // need not be a member of the public channels"); a private channel, mpim or DM only by its members. Only the
    // channel types asked for (`channel_types`, default public_channel) and content type `messages`. Matching is
    // the fake's own: messages sharing the most words (of 3+ letters) with the query. With a bot token the real
    // API needs the action_token; the fake refuses a call without one, or with one it did not issue, as
    // `invalid_action_token` (a name of the fake's: the pages read did not list the method's errors).
    'assistant.search.context': (args) => {
      if (options.aiSearchEnabled === false) throw new SlackApiError('ai_search_not_enabled');
      const query = requireString(args, 'query', 'invalid_arguments');
      const token = requireString(args, 'action_token', 'invalid_action_token');
      const asker = actionTokens.get(token);
      if (asker === undefined) throw new SlackApiError('invalid_action_token');
      const types = new Set(
        (optionalString(args, 'channel_types') ?? 'public_channel').split(',').map((t) => t.trim()),
      );
      const limit = Math.min(Math.max(Number(optionalString(args, 'limit') ?? 20) || 20, 1), 20);
      const visible = new Map(
        searchable.channels
          .filter((c) => types.has(c.type) && (c.type === 'public_channel' || c.members.includes(asker)))
          .map((c) => [c.id, c]),
      );
      const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? []);
      const wanted = words(query);
      const found = searchable.messages
        .filter((m) => visible.has(m.channel))
        .map((m) => ({ m, hits: [...words(m.text)].filter((w) => wanted.has(w)).length }))
        .filter(({ hits }) => hits > 0)
        .sort((a, b) => b.hits - a.hits || compareTs(b.m.ts, a.m.ts))
        .slice(0, limit);
      return {
        results: {
          messages: found.map(({ m }) => {
            return {
              // The fields of the method reference's example, no more (no author or channel name).
              author_user_id: m.user,
              team_id: teamId,
              channel_id: m.channel,
              message_ts: m.ts,
              content: m.text,
              is_author_bot: false,
              permalink: `https://fake-slack.local/archives/${m.channel}/p${m.ts.replace('.', '')}`,
            };
          }),
        },
      };
    },
    // https://docs.slack.dev/reference/methods/assistant.search.info ("Returns search capabilities on a given
    // team", search:read.public, Tier 2): the node SDK's AssistantSearchInfoResponse has `is_ai_search_enabled`.
    'assistant.search.info': () => ({ is_ai_search_enabled: options.aiSearchEnabled !== false }),
    'chat.postMessage': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const { text, blocks } = content(args, true);
      const threadTs = optionalString(args, 'thread_ts');
      const metadata = messageMetadata(args.metadata);
      const message = post({
        channel,
        text: text ?? '',
        user: botUserId,
        bot_id: botId,
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
        ...(blocks === undefined || blocks.length === 0 ? {} : { blocks }),
        ...(metadata === undefined ? {} : { metadata }),
      });
      return { channel, ts: message.ts, message: view(message) };
    },
    // https://docs.slack.dev/reference/methods/chat.postEphemeral: channel, user and text or blocks required.
    'chat.postEphemeral': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const user = requireString(args, 'user', 'user_not_in_channel');
      const { text } = content(args, true);
      const threadTs = optionalString(args, 'thread_ts');
      ephemerals.push({
        channel,
        user,
        text: text ?? '',
        at: Date.now(),
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
      });
      return { message_ts: nextTs() };
    },
    // https://docs.slack.dev/reference/methods/views.open: a trigger_id (valid 3 s) and a view.
    'views.open': (args) => {
      const triggerId = requireString(args, 'trigger_id', 'invalid_trigger_id');
      const modal = parseJson(args.view, 'invalid_arguments') as Record<string, unknown> | undefined;
      const problem = modalProblem(modal);
      if (problem !== undefined) throw new SlackApiError('invalid_arguments', { errors: [problem] });
      const id = `V${String(views.length + 1).padStart(8, '0')}`;
      views.push({ id, trigger_id: triggerId, view: modal as Record<string, unknown>, at: Date.now() });
      return { view: { id, ...(modal as Record<string, unknown>) } };
    },
    'chat.update': (args) => {
      const message = ownMessage(args);
      const { text, blocks } = content(args, true);
      // As in Slack: omitted blocks are kept, an empty array removes them; omitted text is kept.
      const nextBlocks = blocks === undefined ? message.blocks : blocks.length === 0 ? undefined : blocks;
      edit(message, text ?? message.text, nextBlocks);
      return { channel: message.channel, ts: message.ts, text: message.text, message: view(message) };
    },
    'chat.delete': (args) => {
      const message = find(args);
      if (message.user !== botUserId) throw new SlackApiError('cant_delete_message');
      message.deleted = true;
      return { channel: message.channel, ts: message.ts };
    },
    // https://docs.slack.dev/reference/methods/chat.startStream: recipient_user_id and recipient_team_id are
    // required outside a DM; task_display_mode is timeline (default) or plan.
    'chat.startStream': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const threadTs = requireString(args, 'thread_ts', 'invalid_arguments');
      if (
        !channel.startsWith('D') &&
        (optionalString(args, 'recipient_user_id') === undefined ||
          optionalString(args, 'recipient_team_id') === undefined)
      )
        throw new SlackApiError('invalid_arguments', {
          errors: ['recipient_user_id and recipient_team_id are required outside a DM'],
        });
      const mode = optionalString(args, 'task_display_mode');
      if (mode !== undefined && mode !== 'timeline' && mode !== 'plan')
        throw new SlackApiError('invalid_arguments', {
          errors: ['task_display_mode must be timeline or plan'],
        });
      const text = streamText(args, false);
      const tasks = streamTasks(args);
      const message = post({
        channel,
        thread_ts: threadTs,
        text,
        user: botUserId,
        bot_id: botId,
        streaming: true,
        ...(tasks.length === 0 ? {} : { tasks }),
        ...(mode === undefined ? {} : { taskDisplayMode: mode }),
      });
      return { channel, ts: message.ts };
    },
    'chat.appendStream': (args) => {
      const message = streamingMessage(args);
      const updates = streamTasks(args);
      applyTasks(message, updates);
      const text = streamText(args, updates.length === 0);
      if (message.text.length + text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
      edit(message, message.text + text, message.blocks);
      return { channel: message.channel, ts: message.ts };
    },
    'chat.stopStream': (args) => {
      const message = streamingMessage(args);
      applyTasks(message, streamTasks(args));
      const text = message.text + streamText(args, false);
      if (text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
      const blocks = parseBlocks(args.blocks);
      message.streaming = false;
      edit(message, text, blocks === undefined || blocks.length === 0 ? message.blocks : blocks);
      return { channel: message.channel, ts: message.ts, message: view(message) };
    },
    'reactions.add': (args) => {
      const message = find(args, 'timestamp');
      const name = requireString(args, 'name', 'invalid_name');
      if (message.reactions.includes(name)) throw new SlackApiError('already_reacted');
      message.reactions.push(name);
      return {};
    },
    // https://docs.slack.dev/reference/methods/assistant.threads.setStatus: status required (empty clears it),
    // at most 10 loading_messages; chat:write is enough, in channels too.
    'assistant.threads.setStatus': (args) => {
      if (typeof args.status !== 'string') throw new SlackApiError('invalid_arguments');
      const loading = parseJson(args.loading_messages, 'invalid_arguments');
      if (loading !== undefined && (!Array.isArray(loading) || loading.length > 10))
        throw new SlackApiError('invalid_arguments', { errors: ['loading_messages: at most 10'] });
      statuses.push({
        channel: requireString(args, 'channel_id', 'channel_not_found'),
        thread_ts: requireString(args, 'thread_ts', 'invalid_thread_ts'),
        status: args.status,
        ...(Array.isArray(loading) ? { loading_messages: loading as string[] } : {}),
        at: Date.now(),
      });
      return {};
    },
    // https://docs.slack.dev/reference/methods/assistant.threads.setTitle (assistant:write).
    'assistant.threads.setTitle': (args) => {
      const channel = requireString(args, 'channel_id', 'channel_not_found');
      const threadTs = requireString(args, 'thread_ts', 'invalid_thread_ts');
      titles[`${channel} ${threadTs}`] = requireString(args, 'title', 'invalid_arguments');
      return {};
    },
    // https://docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts: 1 to 4 prompts, each with
    // a title and a message (assistant:write).
    'assistant.threads.setSuggestedPrompts': (args) => {
      const channel = requireString(args, 'channel_id', 'channel_not_found');
      const prompts = parseJson(args.prompts, 'invalid_arguments');
      if (
        !Array.isArray(prompts) ||
        prompts.length === 0 ||
        prompts.length > 4 ||
        prompts.some(
          (p: { title?: unknown; message?: unknown }) =>
            typeof p?.title !== 'string' || typeof p.message !== 'string' || p.title === '',
        )
      )
        throw new SlackApiError('invalid_arguments', { errors: ['prompts: 1 to 4 of {title, message}'] });
      const threadTs = optionalString(args, 'thread_ts');
      const title = optionalString(args, 'title');
      suggested.push({
        channel_id: channel,
        prompts: prompts as FakeSuggestedPrompts['prompts'],
        ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
        ...(title === undefined ? {} : { title }),
      });
      return {};
    },
    'conversations.replies': (args) => {
      const channel = requireString(args, 'channel', 'channel_not_found');
      const ts = requireString(args, 'ts', 'thread_not_found');
      const thread = replies(channel, ts);
      if (thread.length === 0) throw new SlackApiError('thread_not_found');
      const withMetadata = args.include_all_metadata === true || args.include_all_metadata === 'true';
      const { page, nextCursor } = pageOfReplies(thread, args);
      return {
        messages: page.map((m) => view(m, withMetadata)),
        has_more: nextCursor !== '',
        response_metadata: { next_cursor: nextCursor },
      };
    },
  };

  function streamingMessage(args: Args): FakeMessage {
    const message = ownMessage(args);
    if (!message.streaming) throw new SlackApiError('message_not_in_streaming_state');
    return message;
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (refuseForeignRequest(request, response)) return; // no browser page, no DNS rebinding (issue 18, point 17)
    const at = Date.now();
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = url.pathname.replace(/^\/api\//, '');
    const raw = await readBody(request);
    let args: Args;
    try {
      args = { ...Object.fromEntries(url.searchParams), ...decodeBody(raw, request.headers['content-type']) };
    } catch {
      return answer(200, { ok: false, error: 'invalid_json' });
    }
    const token = bearer(request.headers.authorization) ?? optionalString(args, 'token');
    delete args.token;
    let refusedBy: string | undefined;
    const record = (status: number, body: Record<string, unknown>): void => {
      const error = typeof body.error === 'string' ? body.error : undefined;
      calls.push({
        method,
        args,
        at,
        status,
        ok: body.ok === true,
        ...(error === undefined ? {} : { error }),
        ...(refusedBy === undefined ? {} : { rateLimit: refusedBy }),
      });
    };
    function answer(
      status: number,
      body: Record<string, unknown>,
      headers: Record<string, string> = {},
    ): void {
      record(status, body);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      response.end(JSON.stringify(body));
    }

    const fault = takeFault(method);
    const late = fault?.answerAfterMs;
    const dropped = fault?.dropAnswer === true;
    if (fault !== undefined && late === undefined && !dropped) {
      if (fault.status === 429) {
        const retryAfter = String(fault.retryAfterSeconds ?? 1);
        return answer(429, { ok: false, error: fault.error ?? 'ratelimited' }, { 'retry-after': retryAfter });
      }
      if (fault.status !== undefined)
        return answer(fault.status, { ok: false, error: fault.error ?? 'fatal_error' });
      return answer(200, { ok: false, error: fault.error ?? 'fatal_error' });
    }
    if (token === undefined) return answer(200, { ok: false, error: 'not_authed' });
    if (!token.startsWith('xoxb-')) return answer(200, { ok: false, error: 'invalid_auth' });
    const handler = handlers[method];
    if (handler === undefined) return answer(200, { ok: false, error: 'unknown_method' });
    const refusal = limiter?.take(method, args);
    if (refusal !== undefined) {
      refusedBy = refusal.limit;
      return answer(
        429,
        { ok: false, error: 'ratelimited' },
        { 'retry-after': String(refusal.retryAfterSeconds) },
      );
    }
    try {
      const body = { ok: true, ...handler(args) };
      if (dropped) {
        record(200, body);
        response.destroy();
        return;
      }
      if (late === undefined) return answer(200, body);
      // Made now, answered later (to a caller that may have given up by then).
      setTimeout(() => {
        if (!response.destroyed) answer(200, body);
      }, late);
      return;
    } catch (error) {
      if (error instanceof SlackApiError)
        return answer(200, { ok: false, error: error.error, ...error.extra });
      throw error;
    }
  }

  function takeFault(method: string): FaultOptions | undefined {
    const queue = faults.get(method);
    const fault = queue?.[0];
    if (queue === undefined || fault === undefined) return undefined;
    if (fault.after !== undefined && fault.after > 0) {
      fault.after--;
      return undefined;
    }
    fault.remaining--;
    if (fault.remaining <= 0) queue.shift();
    return fault;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    token: 'xoxb-fake-slack-token',
    botUserId,
    botId,
    teamId,
    enterpriseId,
    calls,
    messages: (channel) =>
      structuredClone(messages.filter((m) => channel === undefined || m.channel === channel)).sort((a, b) =>
        compareTs(a.ts, b.ts),
      ),
    threadReplies: (channel, threadTs) => structuredClone(replies(channel, threadTs)),
    statuses: () => structuredClone(statuses),
    currentStatus: (channel, threadTs) => {
      const last = statuses.filter((st) => st.channel === channel && st.thread_ts === threadTs).at(-1);
      if (last === undefined || last.status === '' || Date.now() - last.at > 120_000) return undefined;
      const postedSince = messages.some(
        (m) =>
          m.channel === channel &&
          m.user === botUserId &&
          !m.deleted &&
          (m.thread_ts === threadTs || m.ts === threadTs) &&
          m.postedAt > last.at,
      );
      return postedSince ? undefined : last.status;
    },
    titles: () => ({ ...titles }),
    suggestedPrompts: () => structuredClone(suggested),
    ephemerals: () => structuredClone(ephemerals),
    views: () => structuredClone(views),
    addMessage: ({ channel, text, user, thread_ts }) =>
      structuredClone(
        post({ channel, text, user: user ?? 'U0HUMAN', ...(thread_ts === undefined ? {} : { thread_ts }) }),
      ),
    addUser: (user) => {
      users.set(user.id, { ...user });
    },
    setUserGroups,
    setSearchable: (given) => {
      searchable = structuredClone(given);
    },
    actionTokenFor: (user) => {
      const token = `${startedAt}.${actionTokens.size + 1}.${user.toLowerCase()}`;
      actionTokens.set(token, user);
      return token;
    },
    setUserGroupMembers: (groupId, members) => {
      const problem = userGroupsProblem({ [groupId]: members });
      if (problem !== undefined) throw new Error(`user groups: ${problem}`);
      const now = Math.floor(Date.now() / 1000);
      const group = groups.get(groupId) ?? storedUserGroup(groupId, [], now);
      groups.set(groupId, { ...group, users: [...members], date_update: now, updated_by: 'USLACKBOT' });
    },
    userGroups: () =>
      Object.fromEntries(
        [...groups.values()].map((group) => [
          group.id,
          {
            users: [...group.users],
            name: group.name,
            handle: group.handle,
            description: group.description,
            disabled: group.date_delete !== 0,
          },
        ]),
      ),
    rateLimited: () => structuredClone(calls.filter((call) => call.rateLimit !== undefined)),
    failNext: (method, fault) => {
      const queue = faults.get(method) ?? [];
      queue.push({ ...fault, remaining: Math.max(1, fault.times ?? 1) });
      faults.set(method, queue);
    },
    clearFaults: (method) => {
      faults.delete(method);
    },
    updateStats: (channel, ts) => {
      const message = messages.find((m) => m.channel === channel && m.ts === ts);
      return statsOf(message?.updates.map((u) => u.at) ?? []);
    },
    maxUpdatesPerSecond: () =>
      Math.max(0, ...messages.map((m) => statsOf(m.updates.map((u) => u.at)).maxPerSecond)),
    waitFor: (predicate, timeoutMs = 2000) => waitFor(predicate, timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---- Slack's rate limits -------------------------------------------------------------------------------------------

/**
 * How Slack limits one method: a number of calls per minute, counted for the whole workspace (per method, per app,
 * per workspace: https://docs.slack.dev/apis/web-api/rate-limits) or, for posting, per channel too.
 */
export interface SlackRateLimit {
  per: 'workspace' | 'channel';
  perMinute: number;
  /** Calls allowed at once before the rate applies. @default perMinute (a minute's allowance) */
  burst?: number;
  /** The tier, as the method's documentation names it. */
  tier: string;
}

/** Slack's Web API tiers: Tier 1 1+ a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+ (the documented floor is used). */
const TIER: Record<1 | 2 | 3 | 4, Omit<SlackRateLimit, 'per'>> = {
  1: { perMinute: 1, tier: 'Tier 1' },
  2: { perMinute: 20, tier: 'Tier 2' },
  3: { perMinute: 50, tier: 'Tier 3' },
  4: { perMinute: 100, tier: 'Tier 4' },
};
const workspaceTier = (tier: 1 | 2 | 3 | 4): SlackRateLimit[] => [{ per: 'workspace', ...TIER[tier] }];

/**
 * The documented limits of the methods the bot calls (each method's reference page on docs.slack.dev, "Rate
 * Limits"). chat.postMessage is a special tier: "1 message per second per channel", short bursts allowed, and a
 * workspace-wide limit of "several hundred messages per minute"; the fake allows a burst of 30 in a channel and
 * 300 a minute in the workspace. assistant.threads.* and auth.test have special limits Slack does not quantify:
 * not enforced. Each limit is a token bucket holding `burst` calls, refilled at `perMinute` a minute.
 */
export const SLACK_RATE_LIMITS: Readonly<Record<string, readonly SlackRateLimit[]>> = {
  'chat.postMessage': [
    { per: 'channel', perMinute: 60, burst: 30, tier: 'special: 1 a second per channel' },
    { per: 'workspace', perMinute: 300, tier: 'special: several hundred a minute per workspace' },
  ],
  'chat.update': workspaceTier(3),
  'chat.delete': workspaceTier(3),
  'chat.startStream': workspaceTier(2),
  'chat.appendStream': workspaceTier(4),
  'chat.stopStream': workspaceTier(2),
  'chat.postEphemeral': workspaceTier(4),
  'reactions.add': workspaceTier(3),
  'users.info': workspaceTier(4),
  'usergroups.list': workspaceTier(2),
  'usergroups.users.list': workspaceTier(2),
  'conversations.replies': workspaceTier(3),
  // assistant.search.context (beta reference page): "for most teams, the limit is 10+ requests per minute while
  // allowing for occasional bursts of more requests"; up to 180+ a minute for larger teams. The fake takes the
  // smaller, with a burst of 20 (the method's page caps a call's results at 20; the burst size is not stated).
  'assistant.search.context': [
    { per: 'workspace', perMinute: 10, burst: 20, tier: 'special: 10+ a minute for most teams, with bursts' },
  ],
  'assistant.search.info': workspaceTier(2),
  'views.open': workspaceTier(4),
};

interface RateLimiter {
  /** Counts a call; returns the limit that refuses it and when to retry, or undefined when it may go. */
  take(method: string, args: Args): { limit: string; retryAfterSeconds: number } | undefined;
}

function createRateLimiter(options: RateLimitOptions = {}): RateLimiter {
  const minuteMs = 60_000 * Math.max(0.001, options.timeScale ?? 1);
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(method, args) {
      const limits = SLACK_RATE_LIMITS[method];
      if (limits === undefined) return undefined;
      const now = Date.now();
      const states = limits.map((limit) => {
        const capacity = limit.burst ?? limit.perMinute;
        const key = `${method} ${limit.per === 'channel' ? String(args.channel ?? '') : ''}`;
        const bucket = buckets.get(key) ?? { tokens: capacity, at: now };
        const perMs = limit.perMinute / minuteMs;
        bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * perMs);
        bucket.at = now;
        buckets.set(key, bucket);
        return { limit, bucket, perMs };
      });
      const short = states.find((state) => state.bucket.tokens < 1);
      if (short !== undefined) {
        const waitMs = (1 - short.bucket.tokens) / short.perMs;
        return {
          limit: `${method} per ${short.limit.per} (${short.limit.tier})`,
          retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
        };
      }
      for (const state of states) state.bucket.tokens -= 1;
      return undefined;
    },
  };
}

function statsOf(times: number[]): UpdateStats {
  let minGapMs = Number.POSITIVE_INFINITY;
  let maxPerSecond = 0;
  for (let i = 0; i < times.length; i++) {
    const at = times[i] ?? 0;
    if (i > 0) minGapMs = Math.min(minGapMs, at - (times[i - 1] ?? 0));
    let inWindow = 0;
    for (let j = i; j < times.length && (times[j] ?? 0) - at < 1000; j++) inWindow++;
    maxPerSecond = Math.max(maxPerSecond, inWindow);
  }
  return { count: times.length, minGapMs, maxPerSecond };
}

async function waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function compareTs(a: string, b: string): number {
  return Number(a) - Number(b) || a.localeCompare(b);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Form bodies (WebClient's default, with objects JSON-encoded) or JSON bodies. */
function decodeBody(raw: string, contentType: string | undefined): Args {
  if (raw.trim() === '') return {};
  if (contentType?.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Args) : {};
  }
  const args: Args = Object.fromEntries(new URLSearchParams(raw));
  for (const field of JSON_FIELDS) {
    const value = args[field];
    if (typeof value !== 'string') continue;
    try {
      args[field] = JSON.parse(value);
    } catch {
      // Left as sent: the method answers with Slack's error for malformed JSON.
    }
  }
  return args;
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

function optionalString(args: Args, name: string): string | undefined {
  const value = args[name];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A boolean argument: `true` in JSON, `true` or `1` form-encoded (WebClient sends `true`). */
function flag(args: Args, name: string): boolean {
  const value = args[name];
  return value === true || value === 'true' || value === '1' || value === 1;
}

function requireString(args: Args, name: string, error: string): string {
  const value = optionalString(args, name);
  if (value === undefined) throw new SlackApiError(error);
  return value;
}

/** The text and blocks of a post or update, checked against Slack's limits. */
function content(args: Args, requireOne = true): { text?: string; blocks?: unknown[] } {
  const text = typeof args.text === 'string' ? args.text : undefined;
  const blocks = parseBlocks(args.blocks);
  if (requireOne && (text === undefined || text === '') && (blocks === undefined || blocks.length === 0)) {
    throw new SlackApiError('no_text');
  }
  if (text !== undefined && text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
  return { ...(text === undefined ? {} : { text }), ...(blocks === undefined ? {} : { blocks }) };
}

/** `markdown_text` and the text of `markdown_text` chunks of a streaming call. */
function streamText(args: Args, required: boolean): string {
  let text = typeof args.markdown_text === 'string' ? args.markdown_text : '';
  const chunks = parseJson(args.chunks, 'invalid_chunks');
  if (chunks !== undefined) {
    if (!Array.isArray(chunks)) throw new SlackApiError('invalid_chunks');
    for (const chunk of chunks as Array<{ type?: unknown; text?: unknown }>) {
      if (chunk?.type === 'markdown_text' && typeof chunk.text === 'string') text += chunk.text;
    }
  }
  if (required && text === '') throw new SlackApiError('invalid_arguments');
  if (text.length > MAX_STREAM_CHUNK) throw new SlackApiError('msg_too_long');
  return text;
}

function parseJson(value: unknown, error: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new SlackApiError(error);
  }
}

function parseBlocks(value: unknown): unknown[] | undefined {
  if (value === undefined || value === '') return undefined;
  const blocks = parseJson(value, 'invalid_blocks_format');
  if (!Array.isArray(blocks)) throw new SlackApiError('invalid_blocks_format');
  const errors: string[] = [];
  if (blocks.length > MAX_BLOCKS) errors.push(`must contain at most ${MAX_BLOCKS} blocks`);
  blocks.forEach((block, index) => {
    const problem = blockProblem(block);
    if (problem !== undefined) errors.push(`${problem} [json-pointer:/blocks/${index}]`);
  });
  if (errors.length > 0) throw new SlackApiError('invalid_blocks', { errors });
  return blocks;
}

function blockProblem(block: unknown): string | undefined {
  if (typeof block !== 'object' || block === null) return 'must be an object';
  const { type, text, fields, elements } = block as {
    type?: unknown;
    text?: unknown;
    fields?: unknown;
    elements?: unknown;
  };
  if (typeof type !== 'string') return 'missing type';
  if (type === 'section') {
    const body = (text as { text?: unknown } | undefined)?.text;
    if (body === undefined && fields === undefined) return 'section needs text or fields';
    if (
      body !== undefined &&
      (typeof body !== 'string' || body.length === 0 || body.length > MAX_SECTION_TEXT)
    ) {
      return `section text must be 1 to ${MAX_SECTION_TEXT} characters`;
    }
  }
  if (type === 'context' && (!Array.isArray(elements) || elements.length === 0 || elements.length > 10)) {
    return 'context needs 1 to 10 elements';
  }
  if (type === 'context_actions') {
    // https://docs.slack.dev/reference/block-kit/blocks/context-actions-block: 1 to 5 feedback or icon buttons.
    if (!Array.isArray(elements) || elements.length === 0 || elements.length > 5)
      return 'context_actions needs 1 to 5 elements';
    for (const element of elements as Array<Record<string, unknown>>) {
      if (element?.type === 'icon_button') continue;
      if (element?.type !== 'feedback_buttons')
        return 'context_actions holds feedback_buttons or icon_button';
      for (const side of ['positive_button', 'negative_button']) {
        const button = element[side] as
          | { text?: { type?: unknown; text?: unknown }; value?: unknown }
          | undefined;
        if (
          button?.text?.type !== 'plain_text' ||
          typeof button.text.text !== 'string' ||
          button.text.text.length > 75 ||
          typeof button.value !== 'string' ||
          button.value.length > 2000
        )
          return `feedback_buttons.${side} needs plain_text text (at most 75) and a value (at most 2000)`;
      }
    }
  }
  const header = (text as { text?: unknown } | undefined)?.text;
  if (type === 'header' && (typeof header !== 'string' || header.length > 150)) {
    return 'header text must be a string of at most 150 characters';
  }
  return undefined;
}

/** `metadata` of a post: `{ event_type, event_payload }` (https://docs.slack.dev/messaging/message-metadata). */
function messageMetadata(value: unknown): FakeMessage['metadata'] {
  if (value === undefined || value === '') return undefined;
  const parsed = parseJson(value, 'invalid_metadata_format') as {
    event_type?: unknown;
    event_payload?: unknown;
  };
  if (
    typeof parsed?.event_type !== 'string' ||
    !/^[a-z0-9_]+$/i.test(parsed.event_type) ||
    typeof parsed.event_payload !== 'object' ||
    parsed.event_payload === null
  )
    throw new SlackApiError('invalid_metadata_format');
  return { event_type: parsed.event_type, event_payload: parsed.event_payload as Record<string, unknown> };
}

const TASK_STATUSES = new Set(['pending', 'in_progress', 'complete', 'error']);
const CHUNK_TYPES = new Set(['markdown_text', 'task_update', 'plan_update', 'blocks']);

/** The `task_update` chunks of a streaming call, checked as Slack documents them. */
function streamTasks(args: Args): FakeTask[] {
  const chunks = parseJson(args.chunks, 'invalid_chunks');
  if (chunks === undefined) return [];
  if (!Array.isArray(chunks)) throw new SlackApiError('invalid_chunks');
  const tasks: FakeTask[] = [];
  for (const chunk of chunks as Array<Record<string, unknown>>) {
    if (typeof chunk?.type !== 'string' || !CHUNK_TYPES.has(chunk.type))
      throw new SlackApiError('invalid_chunks');
    if (chunk.type !== 'task_update') continue;
    const { id, title, status, details, output, sources } = chunk;
    if (typeof id !== 'string' || typeof title !== 'string' || !TASK_STATUSES.has(String(status)))
      throw new SlackApiError('invalid_chunks', { errors: ['task_update needs id, title and a status'] });
    for (const text of [details, output])
      if (text !== undefined && (typeof text !== 'string' || text.length > 256))
        throw new SlackApiError('invalid_chunks', {
          errors: ['task details and output: at most 256 characters'],
        });
    if (
      sources !== undefined &&
      (!Array.isArray(sources) ||
        sources.some(
          (s: { type?: unknown; url?: unknown }) => s?.type !== 'url' || typeof s.url !== 'string',
        ))
    )
      throw new SlackApiError('invalid_chunks', { errors: ['task sources are {type: "url", url, text}'] });
    tasks.push(structuredClone(chunk) as unknown as FakeTask);
  }
  return tasks;
}

/** Applies task updates: a task keeps its place, its fields replaced by the latest update. */
function applyTasks(message: FakeMessage, updates: FakeTask[]): void {
  if (updates.length === 0) return;
  const tasks = message.tasks ?? [];
  for (const update of updates) {
    const index = tasks.findIndex((t) => t.id === update.id);
    if (index === -1) tasks.push(update);
    else tasks[index] = { ...tasks[index], ...update };
  }
  message.tasks = tasks;
}

/** What is wrong with a modal view, or undefined (https://docs.slack.dev/reference/views/modal-views). */
function modalProblem(view: Record<string, unknown> | undefined): string | undefined {
  if (view === undefined || view.type !== 'modal') return 'view.type must be modal';
  const title = (view.title as { text?: unknown } | undefined)?.text;
  if (typeof title !== 'string' || title.length === 0 || title.length > 24)
    return 'view.title must be 1 to 24 characters';
  if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000)
    return 'private_metadata: at most 3000 characters';
  if (!Array.isArray(view.blocks) || view.blocks.length === 0 || view.blocks.length > 100)
    return 'view.blocks: 1 to 100 blocks';
  return undefined;
}

// ---- conversations.replies paging (issue 18, point 19: added with the ack's placeholder lookup) -------------------

/**
 * One page of a thread as `conversations.replies` returns it (https://docs.slack.dev/reference/methods/conversations.replies):
 * the messages after `oldest` and before `latest` (each one included with `inclusive`), oldest first, at most `limit`
 * (1000 by default and at most, Slack's figure for internal apps), continued from a `cursor`.
 */
function pageOfReplies<T extends { ts: string }>(thread: T[], args: Args): { page: T[]; nextCursor: string } {
  const inclusive = args.inclusive === true || args.inclusive === 'true' || args.inclusive === '1';
  const oldest = typeof args.oldest === 'string' ? args.oldest : undefined;
  const latest = typeof args.latest === 'string' ? args.latest : undefined;
  const inWindow = thread.filter((m) => {
    const afterOldest = oldest === undefined || compareTs(m.ts, oldest) > 0 || (inclusive && m.ts === oldest);
    const beforeLatest =
      latest === undefined || compareTs(m.ts, latest) < 0 || (inclusive && m.ts === latest);
    return afterOldest && beforeLatest;
  });
  const limit = Math.min(1000, Math.max(1, Number(args.limit) || 1000));
  const cursor = typeof args.cursor === 'string' ? args.cursor : '';
  const start =
    cursor === ''
      ? 0
      : Number(
          Buffer.from(cursor, 'base64')
            .toString('utf8')
            .replace(/^offset:/, ''),
        ) || 0;
  const end = start + limit;
  return {
    page: inWindow.slice(start, end),
    nextCursor: end < inWindow.length ? Buffer.from(`offset:${end}`).toString('base64') : '',
  };
}

// ---- user groups (issue 21, point 6) ----------------------------------------------------------------------------------

/** A user group as `usergroups.list` describes it (less the fields the fake fills in per call), with its members. */
interface StoredUserGroup {
  id: string;
  is_usergroup: true;
  name: string;
  description: string;
  handle: string;
  is_external: false;
  date_create: number;
  date_update: number;
  date_delete: number;
  auto_type: null;
  created_by: string;
  updated_by: string;
  deleted_by: string | null;
  users: string[];
}

const USER_GROUP_ID = /^S[A-Z0-9]+$/;
const USER_ID = /^[UW][A-Z0-9]+$/;

function storedUserGroup(id: string, given: readonly string[] | FakeUserGroup, now: number): StoredUserGroup {
  const group: FakeUserGroup = isMemberList(given) ? { users: given } : given;
  return {
    id,
    is_usergroup: true,
    name: group.name ?? id,
    description: group.description ?? '',
    handle: group.handle ?? id.toLowerCase(),
    is_external: false,
    date_create: now,
    date_update: now,
    date_delete: group.disabled === true ? now : 0,
    auto_type: null,
    created_by: 'USLACKBOT',
    updated_by: 'USLACKBOT',
    deleted_by: group.disabled === true ? 'USLACKBOT' : null,
    users: [...group.users],
  };
}

function isMemberList(value: readonly string[] | FakeUserGroup): value is readonly string[] {
  return Array.isArray(value);
}

/**
 * What is wrong with a map of user groups, in a few words naming the first bad entry, or undefined when it is good: an
 * object whose keys are group ids (`S…`), each a list of user ids (`U…` or `W…`) or an object with such a `users`
 * list and optionally a string `name`, `handle`, `description` and a boolean `disabled`.
 */
export function userGroupsProblem(value: unknown): string | undefined {
  const expected = 'a JSON object mapping user group ids (S…) to lists of user ids (U… or W…)';
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `expected ${expected}, not ${Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value}`;
  for (const [id, group] of Object.entries(value)) {
    if (!USER_GROUP_ID.test(id))
      return `${JSON.stringify(id)} is not a user group id (S followed by capital letters and digits, e.g. S0HRTEAM)`;
    const members: unknown = Array.isArray(group) ? group : (group as { users?: unknown } | null)?.users;
    if (!Array.isArray(members))
      return `${id}: expected a list of user ids (U… or W…), or {"users": [...]} with a name, handle or description`;
    const bad = members.find((member) => typeof member !== 'string' || !USER_ID.test(member));
    if (bad !== undefined)
      return `${id}: ${JSON.stringify(bad)} is not a user id (U or W followed by capital letters and digits, e.g. U0ALICE)`;
    if (!Array.isArray(group)) {
      const { name, handle, description, disabled } = group as Record<string, unknown>;
      for (const [field, text] of Object.entries({ name, handle, description }))
        if (text !== undefined && typeof text !== 'string') return `${id}: ${field} must be a string`;
      if (disabled !== undefined && typeof disabled !== 'boolean')
        return `${id}: disabled must be true or false`;
    }
  }
  return undefined;
}
