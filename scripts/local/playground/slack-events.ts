import { randomBytes, randomUUID } from 'node:crypto';
import appHomeOpenedFixture from '../../../stand-ins/slack/fixtures/app-home-opened.json';
import blockActionsFixture from '../../../stand-ins/slack/fixtures/block-actions-feedback.json';
import viewSubmissionFixture from '../../../stand-ins/slack/fixtures/view-submission-comment.json';
import {
  assistantThreadStartedPayload,
  mentionPayload,
  messagePayload,
  nextTs,
} from '../../../stand-ins/slack/slack-request';

/**
 * The deliveries Slack sends when a person writes, clicks or submits in the playground, built from the payloads
 * captured from Slack (stand-ins/slack/fixtures/, through the builders of stand-ins/slack/slack-request.ts where they
 * fit) and completed the way Slack completes them: a mention anywhere in the text, the rich_text block Slack's
 * client attaches, any button of any message, any modal.
 */

/** Who and where: the workspace, the app and its bot user, as Slack fills them in every delivery. */
export interface SlackWorkspace {
  teamId: string;
  /** The organisation of an org-wide install on Enterprise Grid (LOCAL_SLACK_ENTERPRISE); `teamId` is then the person's workspace. */
  enterpriseId?: string;
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

/** An Events API delivery (`event_callback`). */
export interface EventCallback {
  type: string;
  team_id: string;
  api_app_id: string;
  event_id: string;
  event: Record<string, unknown> & { type: string; channel?: string };
  [field: string]: unknown;
}

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
  const channelType = channelTypeOf(message.channel);
  const common = {
    channel: message.channel,
    user: message.user,
    ts: message.ts,
    threadTs: message.threadTs,
    teamId: workspace.teamId,
    botUserId: workspace.botUserId,
    ...(workspace.enterpriseId === undefined ? {} : { enterpriseId: workspace.enterpriseId }),
  };
  // One message, two deliveries: the same client_msg_id and blocks in both, each event its own event_id.
  const clientMsgId = randomUUID();
  const blocks = richTextBlocks(message.text);
  const complete = (payload: EventCallback): EventCallback => {
    payload.api_app_id = workspace.appId;
    Object.assign(payload.event, { text: message.text, blocks, client_msg_id: clientMsgId });
    if (message.threadTs !== undefined && message.parentUserId !== undefined) {
      payload.event.parent_user_id = message.parentUserId;
    }
    return payload;
  };
  const asMessage = complete(messagePayload({ ...common, text: message.text, channelType }) as EventCallback);
  if (channelType === 'channel' && mentions(message.text, workspace.botUserId)) {
    return [complete(mentionPayload({ ...common, text: '' }) as unknown as EventCallback), asMessage];
  }
  return [asMessage];
}

/** The delivery Slack sends when a person opens a new chat with the app in its agent pane. */
export function assistantThreadStarted(
  workspace: SlackWorkspace,
  options: { channel: string; threadTs: string; user: string; contextChannel: string },
): EventCallback {
  const payload = assistantThreadStartedPayload({
    channel: options.channel,
    threadTs: options.threadTs,
    user: options.user,
  }) as unknown as EventCallback;
  payload.team_id = workspace.teamId;
  payload.api_app_id = workspace.appId;
  payload.event_time = Math.floor(Date.now() / 1000);
  const thread = payload.event.assistant_thread as { context: { channel_id: string; team_id: string } };
  thread.context.channel_id = options.contextChannel;
  thread.context.team_id = workspace.teamId;
  payload.event.event_ts = nextTs();
  orgWideEnvelope(payload, workspace);
  return payload;
}

/** The delivery Slack sends when a person opens the app's Messages tab (the DM with it). */
export function appHomeOpened(
  workspace: SlackWorkspace,
  options: { channel: string; user: string },
): EventCallback {
  const payload = structuredClone(appHomeOpenedFixture) as unknown as EventCallback;
  payload.team_id = workspace.teamId;
  payload.context_team_id = workspace.teamId;
  payload.api_app_id = workspace.appId;
  payload.event_id = `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event_time = Math.floor(Date.now() / 1000);
  Object.assign(payload.event, {
    user: options.user,
    channel: options.channel,
    tab: 'messages',
    event_ts: nextTs(),
  });
  orgWideEnvelope(payload, workspace);
  return payload;
}

/** The `rich_text` block Slack's clients attach to a typed message: mentions as user elements, the rest as text. */
function richTextBlocks(text: string): unknown[] {
  const elements: unknown[] = [];
  let last = 0;
  for (const match of text.matchAll(/<@([UW][A-Z0-9]+)>/g)) {
    if (match.index > last) {
      elements.push({ type: 'text', text: unescapeSlackText(text.slice(last, match.index)) });
    }
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

export type BlockActionsPayload = Omit<typeof blockActionsFixture, 'message'> & {
  message: Record<string, unknown>;
};

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
  const payload = structuredClone(blockActionsFixture) as Omit<
    BlockActionsPayload,
    'container' | 'message'
  > & {
    container: Omit<BlockActionsPayload['container'], 'thread_ts'> & { thread_ts?: string };
    message: Record<string, unknown>;
  };
  Object.assign(payload.user, userFields(workspace, options.user));
  payload.api_app_id = workspace.appId;
  payload.team.id = workspace.teamId;
  payload.team.domain = 'local-playground';
  orgWideInteraction(payload, workspace);
  payload.container.message_ts = message.ts;
  payload.container.channel_id = message.channel;
  if (message.threadTs === undefined) delete payload.container.thread_ts;
  else payload.container.thread_ts = message.threadTs;
  payload.trigger_id = triggerId(workspace);
  payload.channel = {
    id: message.channel,
    name: channelTypeOf(message.channel) === 'im' ? 'directmessage' : options.channelName,
  };
  payload.message = {
    user: message.user,
    type: 'message',
    ts: message.ts,
    ...(message.botId === undefined ? {} : { bot_id: message.botId, app_id: workspace.appId }),
    text: message.text,
    team: workspace.teamId,
    ...(message.threadTs === undefined ? {} : { thread_ts: message.threadTs }),
    blocks: message.blocks ?? [],
  };
  payload.response_url = options.responseUrl;
  payload.actions = [
    {
      type: button.type,
      action_id: button.actionId,
      block_id: button.blockId,
      text: { type: 'plain_text', text: button.label, emoji: true },
      value: button.value,
      action_ts: nextTs(),
    },
  ];
  return payload as BlockActionsPayload;
}

export type ViewSubmissionPayload = Omit<typeof viewSubmissionFixture, 'view'> & {
  view: Record<string, unknown>;
};

/**
 * The `view_submission` payload Slack posts when a person submits a modal: the view as opened, with what they
 * entered in `state.values[block_id][action_id]`.
 */
export function viewSubmissionPayload(
  workspace: SlackWorkspace,
  options: { user: string; viewId: string; view: Record<string, unknown>; values: Record<string, unknown> },
): ViewSubmissionPayload {
  const payload = structuredClone(viewSubmissionFixture) as ViewSubmissionPayload;
  Object.assign(payload.user, userFields(workspace, options.user));
  payload.team = { id: workspace.teamId, domain: 'local-playground' };
  orgWideInteraction(payload, workspace);
  payload.api_app_id = workspace.appId;
  payload.trigger_id = triggerId(workspace);
  payload.view = {
    ...payload.view,
    private_metadata: '',
    callback_id: '',
    external_id: '',
    clear_on_close: false,
    notify_on_close: false,
    ...options.view,
    id: options.viewId,
    team_id: workspace.teamId,
    type: 'modal',
    state: { values: options.values },
    hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
    previous_view_id: null,
    root_view_id: options.viewId,
    app_id: workspace.appId,
    app_installed_team_id: workspace.teamId,
    bot_id: workspace.botId,
  };
  return payload;
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

/** An event delivery of an org-wide install names the organisation, as mentionPayload's do (slack-request.ts). */
function orgWideEnvelope(payload: EventCallback, workspace: SlackWorkspace): void {
  if (workspace.enterpriseId === undefined) return;
  payload.enterprise_id = workspace.enterpriseId;
  payload.context_enterprise_id = workspace.enterpriseId;
  for (const authorization of (payload.authorizations ?? []) as Array<Record<string, unknown>>) {
    authorization.enterprise_id = workspace.enterpriseId;
    authorization.is_enterprise_install = true;
  }
}

/** A click or a submission on an org-wide install names the organisation (`enterprise`), the person's workspace `team`. */
function orgWideInteraction(payload: object, workspace: SlackWorkspace): void {
  if (workspace.enterpriseId === undefined) return;
  Object.assign(payload, {
    enterprise: { id: workspace.enterpriseId, name: 'Local Org' },
    is_enterprise_install: true,
  });
}

function userFields(workspace: SlackWorkspace, user: string) {
  return { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: workspace.teamId };
}

/** A trigger id as Slack forms them: seconds, a number, a hex hash. */
function triggerId(workspace: SlackWorkspace): string {
  return `${Math.floor(Date.now() / 1000)}.${workspace.teamId.slice(1)}.${randomBytes(16).toString('hex')}`;
}
