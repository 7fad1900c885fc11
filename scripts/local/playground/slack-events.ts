import { randomBytes, randomUUID } from 'node:crypto';
import mentionFixture from '../fixtures/app-mention.json';

/**
 * The deliveries Slack sends when a person writes or clicks, built the way Slack builds them: the Events API
 * envelope of scripts/local/fixtures/app-mention.json around an `app_mention` or a `message` event, and the
 * `block_actions` interaction payload of a button click. Shapes follow docs.slack.dev (events `app_mention`,
 * `message.channels`, `message.im`; interaction payload `block_actions`).
 */

/** Who and where: the workspace, the app and its bot user, as Slack fills them in every delivery. */
export interface SlackWorkspace {
  teamId: string;
  appId: string;
  botUserId: string;
  botId: string;
}

/** A message a person posted, as the fake Slack stored it. */
export interface PostedMessage {
  channel: string;
  /** Its ts, given by the fake Slack when the message was added. */
  ts: string;
  /** The text as Slack stores it: `&`, `<`, `>` escaped, mentions as `<@U…>`. */
  text: string;
  user: string;
  /** Set when the message is a reply in a thread. */
  threadTs?: string;
  /** Who started that thread (Slack's `parent_user_id`). */
  parentUserId?: string;
}

export type EventCallback = Omit<typeof mentionFixture, 'event'> & {
  event: Record<string, unknown> & { type: string; ts: string; channel: string; text: string };
};

/** `im` for a D… channel, else `channel` (the playground has no private channels or group DMs). */
export function channelTypeOf(channel: string): 'im' | 'channel' {
  return channel.startsWith('D') ? 'im' : 'channel';
}

/** Escapes text as Slack does in a message's `text`: only `&`, `<` and `>`. */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Whether the stored text mentions this user. */
export function mentions(text: string, userId: string): boolean {
  return text.includes(`<@${userId}>`);
}

/**
 * The events Slack delivers for a person's message to an app subscribed to `app_mention`, `message.channels` and
 * `message.im` (slack/app-manifest.yaml): a channel message that mentions the bot brings both an `app_mention` and a
 * `message` event, each its own delivery; any other channel message a `message` event with `channel_type: "channel"`;
 * a DM a `message` event with `channel_type: "im"` (Slack sends no `app_mention` in a DM).
 */
export function eventsForMessage(workspace: SlackWorkspace, message: PostedMessage): EventCallback[] {
  const type = channelTypeOf(message.channel);
  const event = (kind: 'app_mention' | 'message') =>
    envelope(workspace, {
      user: message.user,
      type: kind,
      ts: message.ts,
      client_msg_id: clientMsgId,
      text: message.text,
      team: workspace.teamId,
      ...(message.threadTs === undefined
        ? {}
        : {
            thread_ts: message.threadTs,
            ...(message.parentUserId === undefined ? {} : { parent_user_id: message.parentUserId }),
          }),
      blocks,
      channel: message.channel,
      event_ts: message.ts,
      ...(kind === 'message' ? { channel_type: type } : {}),
    });
  const clientMsgId = randomUUID();
  const blocks = richTextBlocks(message.text);
  const mentioned = type === 'channel' && mentions(message.text, workspace.botUserId);
  return mentioned ? [event('app_mention'), event('message')] : [event('message')];
}

function envelope(workspace: SlackWorkspace, event: EventCallback['event']): EventCallback {
  const payload = structuredClone(mentionFixture) as EventCallback;
  payload.team_id = workspace.teamId;
  payload.context_team_id = workspace.teamId;
  payload.api_app_id = workspace.appId;
  payload.event = event;
  payload.event_id = `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event_time = Math.floor(Date.now() / 1000);
  payload.authorizations = [
    {
      enterprise_id: null,
      team_id: workspace.teamId,
      user_id: workspace.botUserId,
      is_bot: true,
      is_enterprise_install: false,
    },
  ];
  payload.event_context = `4-${Buffer.from(
    JSON.stringify({ et: event.type, tid: workspace.teamId, aid: workspace.appId, cid: event.channel }),
  ).toString('base64url')}`;
  return payload;
}

/** The `rich_text` block Slack's clients attach to a typed message: mentions as user elements, the rest as text. */
function richTextBlocks(text: string): unknown[] {
  const elements: unknown[] = [];
  let last = 0;
  for (const match of text.matchAll(/<@([UW][A-Z0-9]+)>/g)) {
    if (match.index > last)
      elements.push({ type: 'text', text: unescapeSlackText(text.slice(last, match.index)) });
    elements.push({ type: 'user', user_id: match[1] });
    last = match.index + match[0].length;
  }
  if (last < text.length) elements.push({ type: 'text', text: unescapeSlackText(text.slice(last)) });
  return [
    {
      type: 'rich_text',
      block_id: randomBytes(3).toString('base64url'),
      elements: [{ type: 'rich_text_section', elements }],
    },
  ];
}

function unescapeSlackText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A bot message as the interaction payload carries it. */
export interface ClickedMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  user: string;
  botId?: string;
}

/** The button a person clicked: a `button`, or one side of a `feedback_buttons` element. */
export interface ClickedButton {
  /** The element's type: `feedback_buttons` or `button`. */
  type: string;
  actionId: string;
  blockId: string;
  value: string;
  /** The clicked button's label, e.g. 👍. */
  label: string;
}

export interface BlockActionsPayload {
  type: 'block_actions';
  user: { id: string; username: string; name: string; team_id: string };
  api_app_id: string;
  token: string;
  container: Record<string, unknown>;
  trigger_id: string;
  team: { id: string; domain: string };
  enterprise: null;
  is_enterprise_install: false;
  channel: { id: string; name: string };
  message: Record<string, unknown>;
  state: { values: Record<string, unknown> };
  response_url: string;
  actions: Record<string, unknown>[];
}

/** The `block_actions` payload Slack posts (form-encoded as `payload=`) when a person clicks a button in a message. */
export function blockActionsPayload(
  workspace: SlackWorkspace,
  options: {
    user: string;
    channelName: string;
    message: ClickedMessage;
    button: ClickedButton;
    responseUrl: string;
  },
): BlockActionsPayload {
  const { message, button } = options;
  const nowMicros = Date.now() * 1000;
  const actionTs = `${Math.floor(nowMicros / 1e6)}.${String(nowMicros % 1e6).padStart(6, '0')}`;
  return {
    type: 'block_actions',
    user: {
      id: options.user,
      username: options.user.toLowerCase(),
      name: options.user.toLowerCase(),
      team_id: workspace.teamId,
    },
    api_app_id: workspace.appId,
    token: mentionFixture.token,
    container: {
      type: 'message',
      message_ts: message.ts,
      channel_id: message.channel,
      is_ephemeral: false,
      ...(message.threadTs === undefined ? {} : { thread_ts: message.threadTs }),
    },
    trigger_id: `${Math.floor(Date.now() / 1000)}.${workspace.teamId.slice(1)}.${randomBytes(16).toString('hex')}`,
    team: { id: workspace.teamId, domain: 'local-playground' },
    enterprise: null,
    is_enterprise_install: false,
    channel: {
      id: message.channel,
      name: channelTypeOf(message.channel) === 'im' ? 'directmessage' : options.channelName,
    },
    message: {
      user: message.user,
      type: 'message',
      ts: message.ts,
      ...(message.botId === undefined ? {} : { bot_id: message.botId, app_id: workspace.appId }),
      text: message.text,
      team: workspace.teamId,
      ...(message.threadTs === undefined ? {} : { thread_ts: message.threadTs }),
      ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
    },
    state: { values: {} },
    response_url: options.responseUrl,
    actions: [
      {
        type: button.type,
        action_id: button.actionId,
        block_id: button.blockId,
        text: { type: 'plain_text', text: button.label, emoji: true },
        value: button.value,
        action_ts: actionTs,
      },
    ],
  };
}

export interface ViewSubmissionPayload {
  type: 'view_submission';
  team: { id: string; domain: string };
  user: { id: string; username: string; name: string; team_id: string };
  api_app_id: string;
  token: string;
  trigger_id: string;
  view: Record<string, unknown>;
  response_urls: unknown[];
  is_enterprise_install: false;
  enterprise: null;
}

/**
 * The `view_submission` payload Slack posts when a person submits a modal: the view as opened, with what they
 * entered in `state.values[block_id][action_id]` (docs.slack.dev, interaction payloads, view_submission).
 */
export function viewSubmissionPayload(
  workspace: SlackWorkspace,
  options: { user: string; viewId: string; view: Record<string, unknown>; values: Record<string, unknown> },
): ViewSubmissionPayload {
  return {
    type: 'view_submission',
    team: { id: workspace.teamId, domain: 'local-playground' },
    user: {
      id: options.user,
      username: options.user.toLowerCase(),
      name: options.user.toLowerCase(),
      team_id: workspace.teamId,
    },
    api_app_id: workspace.appId,
    token: mentionFixture.token,
    trigger_id: `${Math.floor(Date.now() / 1000)}.${workspace.teamId.slice(1)}.${randomBytes(16).toString('hex')}`,
    view: {
      id: options.viewId,
      team_id: workspace.teamId,
      type: 'modal',
      private_metadata: '',
      callback_id: '',
      external_id: '',
      clear_on_close: false,
      notify_on_close: false,
      ...options.view,
      state: { values: options.values },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      previous_view_id: null,
      root_view_id: options.viewId,
      app_id: workspace.appId,
      app_installed_team_id: workspace.teamId,
      bot_id: workspace.botId,
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/**
 * What a person entered in a modal's input blocks, as Slack reports it in `state.values`: each input element's
 * action_id with its type and value (`null` for an optional field left empty).
 */
export function modalStateValues(
  view: Record<string, unknown>,
  entered: Record<string, string | undefined>,
): Record<string, Record<string, { type: string; value: string | null }>> {
  const values: Record<string, Record<string, { type: string; value: string | null }>> = {};
  for (const block of (view.blocks ?? []) as Array<Record<string, unknown>>) {
    const element = block.element as { type?: string; action_id?: string } | undefined;
    if (block.type !== 'input' || typeof block.block_id !== 'string' || element?.action_id === undefined)
      continue;
    const value = entered[`${block.block_id} ${element.action_id}`];
    values[block.block_id] = {
      [element.action_id]: { type: element.type ?? 'plain_text_input', value: value ? value : null },
    };
  }
  return values;
}
