import type { WebClient } from '@slack/web-api';
import type { Passage, SlackSearchScope } from '../types';

/**
 * Slack's own knowledge, the sanctioned way: the Real-time Search API (`assistant.search.context`,
 * https://docs.slack.dev/ai/using-data-access-api/) searches the messages the asking person can see, at the moment
 * they ask, with the short-lived `action_token` Slack put in the event of their message. Nothing it returns is
 * stored: the messages become passages for this one answer (their text goes to the model and nowhere else), and the
 * turn keeps only their titles, authors' names and permalinks, as it keeps a document's section and link. The
 * method's rate limit is special: "for most teams, the limit is 10+ requests per minute while allowing for
 * occasional bursts", up to 180+ for larger teams (the method's reference page, beta version); a rate-limited call
 * falls back to the documents like any other failure.
 */

/** The conversation types searched: each needs its `search:read.*` scope (slack/app-manifest.yaml). */
export const SLACK_SEARCH_CHANNEL_TYPES = ['public_channel', 'private_channel', 'mpim', 'im'] as const;

/**
 * The conversation types searched for a turn of `scope`. Slack returns what the asker can see, but the answer is
 * posted where the question was: in the asker's own DM with the bot only they read it, so all four types; in a
 * channel everyone in it reads it, so public channels only (what anyone in the workspace could find), lest a
 * private channel's or a DM's words reach people who were never in it.
 */
export function slackSearchChannelTypes(scope: SlackSearchScope | undefined): readonly string[] {
  return scope === 'asker' ? SLACK_SEARCH_CHANNEL_TYPES : ['public_channel'];
}

/**
 * Whose eyes an answer to `event` is for, or undefined where Slack must not be searched at all: a channel shared
 * with other organisations (Slack Connect, when allowed), whose outside members must not read even the
 * organisation's public channels. A DM with the bot (the agent pane included) is the asker's alone.
 */
export function slackSearchScopeFor(
  event: { channel: string; channel_type?: string },
  body: { is_ext_shared_channel?: boolean },
): SlackSearchScope | undefined {
  if (body.is_ext_shared_channel === true) return undefined;
  return event.channel_type === 'im' || event.channel.startsWith('D') ? 'asker' : 'public';
}

/** How many messages are asked for: as many as the documents' passages, so that neither swamps the other. */
const DEFAULT_LIMIT = 6;

/** How long the search may take before the answer goes on with the documents alone. */
export const SLACK_SEARCH_TIMEOUT_MS = 3_000;

/** The longest message text passed on to the model (a passage is capped like a document's chunk). */
const MAX_MESSAGE_CHARS = 2_000;

/** The source every Slack passage carries: it marks them (never stored with their text). */
export const SLACK_SOURCE_PREFIX = 'slack:';

/**
 * One message of the answer's `results.messages`: the method reference's example shows `author_user_id`,
 * `team_id`, `channel_id`, `message_ts`, `content`, `is_author_bot` and `permalink`. `author_name` and
 * `channel_name` are read when present (the reference does not promise them): without them the source is named
 * "Slack message" and its permalink says where it is. The node SDK (8.2) has no type for the method.
 */
interface SearchMessage {
  author_name?: string;
  author_user_id?: string;
  channel_id?: string;
  channel_name?: string;
  message_ts?: string;
  content?: string;
  permalink?: string;
}

export type SlackSearchOutcome =
  | { status: 'ok'; passages: Passage[] }
  /** The call failed, was rate limited, timed out, or the workspace has no access: the documents alone answer. */
  | { status: 'unavailable'; reason: string };

/**
 * Asks `assistant.search.context` for the messages `actionToken`'s person can see that match `question`, as
 * passages ranked best first (Slack's order). A Slack passage's `source` is `slack:<channel>/<ts>`, its `url` the
 * message's permalink, its title "Slack message in #channel", its heading the author's name. Never throws: any
 * failure is an outcome, and the reason given is Slack's error code (never the message text, nor the token).
 */
export async function searchSlackMessages(
  client: Pick<WebClient, 'apiCall'>,
  question: string,
  actionToken: string,
  options: { limit?: number; timeoutMs?: number; scope?: SlackSearchScope } = {},
): Promise<SlackSearchOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<SlackSearchOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'unavailable', reason: 'timeout' }),
      options.timeoutMs ?? SLACK_SEARCH_TIMEOUT_MS,
    );
  });
  const search = (async (): Promise<SlackSearchOutcome> => {
    try {
      const answer = (await client.apiCall('assistant.search.context', {
        query: question,
        action_token: actionToken,
        // Comma-separated, as the method's reference describes both lists.
        channel_types: slackSearchChannelTypes(options.scope).join(','),
        content_types: 'messages',
        limit: options.limit ?? DEFAULT_LIMIT,
      })) as { ok?: boolean; error?: string; results?: { messages?: SearchMessage[] } };
      if (answer.ok === false) return { status: 'unavailable', reason: answer.error ?? 'error' };
      return { status: 'ok', passages: (answer.results?.messages ?? []).flatMap(toPassage) };
    } catch (error) {
      return { status: 'unavailable', reason: slackErrorCode(error) };
    }
  })();
  try {
    return await Promise.race([search, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function toPassage(message: SearchMessage, index: number): Passage[] {
  const { channel_id: channel, message_ts: ts, content, permalink } = message;
  if (!channel || !ts || !content || !permalink) return [];
  // A DM's or group DM's (`mpdm-…`) "name" is no channel name (the page read does not say what Slack puts there). Without a
  // name the channel's id is not shown: it means nothing to a reader, and `<#C…>` would not render inside a link.
  const where = channel.startsWith('D')
    ? ' in a direct message'
    : message.channel_name && !message.channel_name.startsWith('mpdm-')
      ? ` in #${message.channel_name}`
      : '';
  return [
    {
      source: `${SLACK_SOURCE_PREFIX}${channel}/${ts}`,
      title: `Slack message${where}`,
      // Who wrote it, as Slack names them (a mention would show escaped in the sources' list).
      heading: message.author_name ?? '',
      text: content.slice(0, MAX_MESSAGE_CHARS),
      // Slack's rank, as a score that falls with it (the fusion reads ranks, not scores).
      score: 1 / (index + 1),
      url: permalink,
    },
  ];
}

/** Whether a passage (or a source) came from Slack's search. */
export function isSlackSource(source: { source: string }): boolean {
  return source.source.startsWith(SLACK_SOURCE_PREFIX);
}

/** Slack's error code (`ratelimited`, `not_allowed_token_type`, …) or the kind of failure: never its text. */
function slackErrorCode(error: unknown): string {
  const e = error as { code?: string; data?: { error?: string } } | undefined;
  return e?.data?.error ?? e?.code ?? 'error';
}

/**
 * The written answer without verbatim quotations of the messages it drew on, for keeping (the thread's history):
 * every sentence of a message (20 characters or more) the answer repeats word for word becomes "[Slack message]".
 * The answer in Slack is untouched; what is kept is the bot's own words, with its citations.
 */
export function withoutQuotedMessages(answer: string, messageTexts: readonly string[]): string {
  let kept = answer;
  const pieces = messageTexts
    .flatMap((text) => [text.trim(), ...text.split(/(?<=[.!?。！？])\s*|\n+/)])
    .map((piece) => piece.trim())
    .filter((piece) => piece.length >= 20)
    .sort((a, b) => b.length - a.length);
  for (const piece of pieces) kept = kept.split(piece).join('[Slack message]');
  return kept;
}
