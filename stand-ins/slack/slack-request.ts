import { createHmac, randomBytes } from 'node:crypto';
import type { AwsEvent } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import mentionFixture from './fixtures/app-mention.json';
import assistantThreadStartedFixture from './fixtures/assistant-thread-started.json';
import blockActionsFixture from './fixtures/block-actions-feedback.json';
import dmFixture from './fixtures/message-im.json';
import threadReplyFixture from './fixtures/message-thread-reply.json';
import viewSubmissionFixture from './fixtures/view-submission-comment.json';

/** A Slack `app_mention` delivery, shaped exactly like the fixture captured from Slack. */
export type MentionPayload = typeof mentionFixture;

export interface MentionOptions {
  text: string;
  channel?: string;
  user?: string;
  /** The mention's own ts; a fresh one by default. */
  ts?: string;
  /** Set to post the mention inside an existing thread. */
  threadTs?: string;
  eventId?: string;
  teamId?: string;
  /** An org-wide install on Enterprise Grid of this organisation: `teamId` is the workspace of the person asking. */
  enterpriseId?: string;
  botUserId?: string;
  /**
   * An `action_token` in the event (`event.assistant_thread.action_token`), as in the agent pane's messages. Whether
   * Slack puts one in a channel's mention is not documented in the pages read; this lets a test ask what the bot
   * would do if it did.
   */
  actionToken?: string;
  /** A channel shared with another organisation (Slack Connect): the envelope's `is_ext_shared_channel`. */
  extShared?: boolean;
}

let sequence = 0;

/** A Slack-style message ts: seconds and a six-digit sequence, increasing within a process. */
export function nextTs(nowMs = Date.now()): string {
  sequence += 1;
  return `${Math.floor(nowMs / 1000)}.${String(sequence % 1_000_000).padStart(6, '0')}`;
}

/** Builds an `app_mention` payload from the fixture: `text` is what the person typed after the mention. */
export function mentionPayload(options: MentionOptions): MentionPayload {
  const botUserId = options.botUserId ?? 'U0LOCALBOT';
  const ts = options.ts ?? nextTs();
  const payload = structuredClone(mentionFixture) as MentionPayload & { event: { thread_ts?: string } };
  const teamId = options.teamId ?? payload.team_id;
  payload.team_id = teamId;
  payload.context_team_id = teamId;
  payload.event_id = options.eventId ?? `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event_time = Math.floor(Date.now() / 1000);
  payload.event.text = `<@${botUserId}> ${options.text}`;
  payload.event.ts = ts;
  payload.event.event_ts = ts;
  payload.event.channel = options.channel ?? payload.event.channel;
  payload.event.user = options.user ?? payload.event.user;
  payload.event.team = teamId;
  payload.event.client_msg_id = crypto.randomUUID();
  payload.event.blocks = [
    {
      type: 'rich_text',
      block_id: randomBytes(3).toString('hex'),
      elements: [
        {
          type: 'rich_text_section',
          elements: [
            { type: 'user', user_id: botUserId },
            { type: 'text', text: ` ${options.text}` },
          ] as never,
        },
      ],
    },
  ];
  if (options.threadTs) payload.event.thread_ts = options.threadTs;
  if (options.actionToken !== undefined)
    (payload.event as { assistant_thread?: { action_token: string } }).assistant_thread = {
      action_token: options.actionToken,
    };
  if (options.extShared !== undefined) payload.is_ext_shared_channel = options.extShared;
  const authorization = payload.authorizations[0];
  if (authorization) {
    authorization.user_id = botUserId;
    authorization.team_id = teamId;
  }
  orgWide(payload, options.enterpriseId);
  return payload;
}

/**
 * Makes an envelope one of an org-wide install on Enterprise Grid, as Slack sends it
 * (https://docs.slack.dev/enterprise/developing-for-enterprise-orgs, Bolt's `EnvelopedEvent`): the organisation in
 * `enterprise_id` and `context_enterprise_id`, `team_id` the workspace the event happened in, and the one
 * authorization the org-level install's, with `is_enterprise_install: true`.
 */
function orgWide(
  payload: {
    context_enterprise_id: string | null;
    authorizations: Array<{ enterprise_id: string | null; is_enterprise_install: boolean }>;
  },
  enterpriseId: string | undefined,
): void {
  if (enterpriseId === undefined) return;
  (payload as { enterprise_id?: string }).enterprise_id = enterpriseId;
  payload.context_enterprise_id = enterpriseId;
  for (const authorization of payload.authorizations) {
    authorization.enterprise_id = enterpriseId;
    authorization.is_enterprise_install = true;
  }
}

/** Slack's request signature: `v0=` + HMAC-SHA256 of `v0:timestamp:body` with the signing secret. */
export function signSlackRequest(signingSecret: string, body: string, timestampSeconds: number): string {
  const digest = createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${body}`).digest('hex');
  return `v0=${digest}`;
}

/** The headers Slack sends with a signed delivery. */
export function signedHeaders(
  signingSecret: string,
  body: string,
  options: { timestampSeconds?: number; retryNum?: number; contentType?: string } = {},
): Record<string, string> {
  const timestamp = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'Content-Type': options.contentType ?? 'application/json',
    'X-Slack-Request-Timestamp': String(timestamp),
    'X-Slack-Signature': signSlackRequest(signingSecret, body, timestamp),
    'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
  if (options.retryNum !== undefined) {
    headers['X-Slack-Retry-Num'] = String(options.retryNum);
    headers['X-Slack-Retry-Reason'] = 'http_timeout';
  }
  return headers;
}

/** A Lambda Function URL event (payload format 2.0) carrying a delivery, as the ack receives it behind its Request URL. */
export function functionUrlEvent(body: string, headers: Record<string, string>): AwsEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/slack/events',
    rawQueryString: '',
    // Function URLs deliver header names in lower case.
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    requestContext: { http: { method: 'POST', path: '/slack/events', sourceIp: '127.0.0.1' } },
    body,
    isBase64Encoded: false,
  } as unknown as AwsEvent;
}

/** A `message` delivery: a direct message (`channel_type: im`) or a reply in a channel thread. */
export interface MessageOptions {
  text: string;
  /** `im` for a DM (or the agent pane), `channel` for a reply in a channel thread. */
  channelType: 'im' | 'channel';
  channel?: string;
  user?: string;
  ts?: string;
  threadTs?: string;
  eventId?: string;
  teamId?: string;
  /** An org-wide install on Enterprise Grid of this organisation: `teamId` is the workspace of the person asking. */
  enterpriseId?: string;
  botUserId?: string;
  /**
   * The Real-time Search token Slack adds to the event (`event.assistant_thread.action_token`, as in an agent
   * pane's message); none by default.
   */
  actionToken?: string;
}

/** Builds a `message` event delivery from the captured fixtures. */
export function messagePayload(options: MessageOptions): typeof dmFixture {
  const fixture = options.channelType === 'im' ? dmFixture : threadReplyFixture;
  const payload = structuredClone(fixture) as typeof dmFixture & {
    event: typeof dmFixture.event & { thread_ts?: string; parent_user_id?: string };
  };
  const ts = options.ts ?? nextTs();
  const teamId = options.teamId ?? payload.team_id;
  payload.team_id = teamId;
  payload.context_team_id = teamId;
  payload.event_id = options.eventId ?? `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event_time = Math.floor(Date.now() / 1000);
  payload.event.text = options.text;
  payload.event.ts = ts;
  payload.event.event_ts = ts;
  payload.event.channel = options.channel ?? payload.event.channel;
  payload.event.user = options.user ?? payload.event.user;
  payload.event.team = teamId;
  payload.event.client_msg_id = crypto.randomUUID();
  payload.event.blocks[0]?.elements[0]?.elements.splice(0, 1, { type: 'text', text: options.text });
  if (options.threadTs === undefined) {
    delete payload.event.thread_ts;
    delete payload.event.parent_user_id;
  } else payload.event.thread_ts = options.threadTs;
  if (options.actionToken !== undefined)
    (payload.event as { assistant_thread?: { action_token: string } }).assistant_thread = {
      action_token: options.actionToken,
    };
  const authorization = payload.authorizations[0];
  if (authorization) {
    authorization.user_id = options.botUserId ?? authorization.user_id;
    authorization.team_id = teamId;
  }
  orgWide(payload, options.enterpriseId);
  return payload;
}

/** An `assistant_thread_started` delivery: someone opened the agent pane. */
export function assistantThreadStartedPayload(options: {
  channel: string;
  threadTs: string;
  user?: string;
}): typeof assistantThreadStartedFixture {
  const payload = structuredClone(assistantThreadStartedFixture);
  payload.event_id = `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
  payload.event.assistant_thread.channel_id = options.channel;
  payload.event.assistant_thread.thread_ts = options.threadTs;
  payload.event.assistant_thread.user_id = options.user ?? payload.event.assistant_thread.user_id;
  return payload;
}

/** A click on a feedback button under an answer, as the form body Slack posts (`payload=`). */
export function feedbackClickBody(options: {
  /** The button's `value`, read from the answer's blocks. */
  value: string;
  channel: string;
  messageTs: string;
  threadTs: string;
  user?: string;
  actionTs?: string;
  /** The clicker's workspace. @default the fixture's */
  teamId?: string;
  /** An org-wide install on Enterprise Grid of this organisation. */
  enterpriseId?: string;
}): string {
  const payload = structuredClone(blockActionsFixture) as Omit<typeof blockActionsFixture, 'enterprise'> & {
    enterprise: { id: string; name: string } | null;
  };
  payload.user.id = options.user ?? payload.user.id;
  if (options.teamId !== undefined) {
    payload.team.id = options.teamId;
    payload.user.team_id = options.teamId;
  }
  if (options.enterpriseId !== undefined) {
    payload.enterprise = { id: options.enterpriseId, name: 'Local Org' };
    payload.is_enterprise_install = true;
  }
  payload.channel.id = options.channel;
  payload.container.channel_id = options.channel;
  payload.container.message_ts = options.messageTs;
  payload.container.thread_ts = options.threadTs;
  payload.message.ts = options.messageTs;
  payload.message.thread_ts = options.threadTs;
  payload.trigger_id = `${nextTs()}.${randomBytes(16).toString('hex')}`;
  const action = payload.actions[0];
  if (action) {
    action.value = options.value;
    action.action_ts = options.actionTs ?? nextTs();
    action.text.text = options.value.includes('|negative|') ? '👎' : '👍';
  }
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** The submission of the comment modal, as the form body Slack posts. */
export function commentSubmissionBody(options: {
  privateMetadata: string;
  comment: string;
  user?: string;
}): string {
  const payload = structuredClone(viewSubmissionFixture);
  payload.user.id = options.user ?? payload.user.id;
  payload.view.private_metadata = options.privateMetadata;
  payload.view.state.values.comment.text.value = options.comment;
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
