import type { WebClient } from '@slack/web-api';

/** A reply as `conversations.replies` returns it with `include_all_metadata`: the fields a search looks at. */
export interface ThreadReply {
  ts?: string;
  user?: string;
  bot_id?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

/**
 * The first reply in `threadTs` from `oldest` (to `latest`, when given) that `matches`, read page by page
 * (`conversations.replies` with the messages' metadata, which the history scopes allow): a long thread's first
 * replies may all be older. At most `maxPages` pages of `pageLimit`; undefined when none matched.
 */
export async function findInThread(
  client: WebClient,
  where: { channel: string; threadTs: string; oldest: string; latest?: string },
  matches: (reply: ThreadReply) => boolean,
  pages: { pageLimit: number; maxPages: number },
): Promise<ThreadReply | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < pages.maxPages; page++) {
    const replies = await client.conversations.replies({
      channel: where.channel,
      ts: where.threadTs,
      oldest: where.oldest,
      ...(where.latest === undefined ? {} : { latest: where.latest }),
      inclusive: true,
      include_all_metadata: true,
      limit: pages.pageLimit,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const found = ((replies.messages ?? []) as ThreadReply[]).find(matches);
    if (found !== undefined) return found;
    cursor = replies.response_metadata?.next_cursor || undefined;
    if (replies.has_more !== true || cursor === undefined) return undefined;
  }
  return undefined;
}
