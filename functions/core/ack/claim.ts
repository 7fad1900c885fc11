import type { WebClient } from '@slack/web-api';
import { findInThread, type ThreadReply } from '../slack/find-in-thread';
import { postOnceInThread } from '../slack/post-once';
import type { EventClaim } from '../stores/event-store';
import type { AckDependencies } from './ack-dependencies';

/**
 * The claim protocol: one delivery of an event answers it. A delivery claims the event, records the placeholder
 * it posts, and marks the claim started with the execution; a delivery that fails gives the claim up so Slack's
 * retry answers, and a claim whose holder went silent is taken over after `CLAIM_STALE_MS`.
 */

/** A claim whose ack never started an execution (a crash, a throttled StartExecution) is taken over after this. */
export const CLAIM_STALE_MS = 30_000;
/** How long a retry waits for the delivery holding the claim to start its execution or give the claim up. */
export const CLAIM_WAIT_MS = 1_500;
const CLAIM_POLL_MS = 150;

/** The placeholder's metadata: a delivery that takes a claim over finds a placeholder its holder never recorded. */
export const PLACEHOLDER_EVENT_TYPE = 'answer_placeholder';

/** A delivery found another one holding the event and could not learn its outcome in time: Slack must retry. */
export class ClaimHeldError extends Error {
  constructor(eventId: string) {
    super(`event ${eventId} is held by another delivery that has not started its execution yet`);
    this.name = 'ClaimHeldError';
  }
}

/**
 * Claims the event, or learns that an execution was accepted for it. A delivery that finds another one holding
 * a live claim (Slack's retry arriving while a slow first delivery still works) never tells Slack "done" on the
 * holder's behalf: it waits briefly for the holder's outcome and takes the claim over if the holder gives it up,
 * and otherwise fails, so that Slack retries again rather than stopping with nothing started.
 */
export async function claimOrAwaitHolder(
  deps: Pick<AckDependencies, 'eventStore' | 'now'>,
  eventId: string,
): Promise<Exclude<EventClaim, { status: 'held' }>> {
  const deadline = Date.now() + CLAIM_WAIT_MS;
  for (;;) {
    const claim = await deps.eventStore.claimEvent(eventId, deps.now(), CLAIM_STALE_MS);
    if (claim.status !== 'held') return claim;
    if (Date.now() >= deadline) throw new ClaimHeldError(eventId);
    await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
  }
}

/**
 * After a failure: gives the claim up so Slack's retry of this delivery gets the question answered; keeps the
 * placeholder, unless another delivery overtook this one with its own.
 */
export async function giveUpClaim(
  deps: Pick<AckDependencies, 'eventStore' | 'logger'>,
  client: WebClient,
  channel: string,
  eventId: string,
  placeholderTs: string | undefined,
  /** A placeholder this delivery posted (not one it reused). */
  postedHere: string | undefined,
): Promise<void> {
  const { logger } = deps;
  const release = await deps.eventStore
    .releaseClaim(eventId, placeholderTs)
    .catch((releaseError: unknown) => {
      logger.error('could not release the event claim; it goes stale on its own', {
        eventId,
        releaseError,
      });
      return { released: true as const };
    });
  if (!release.released && postedHere !== undefined && release.startedPlaceholderTs !== postedHere) {
    // A delivery that took this claim over (this one was slow) started the execution with its own placeholder:
    // the one posted here would be left saying "Searching…".
    await client.chat.delete({ channel, ts: postedHere }).catch((deleteError: unknown) => {
      logger.warn('could not delete the placeholder of a delivery overtaken by another', {
        eventId,
        error: String(deleteError),
      });
    });
  }
}

/** How far after the event's ts a killed delivery's placeholder can be: Slack's last retry comes ~5 min later. */
const PLACEHOLDER_WINDOW_SECONDS = 10 * 60;
/** Messages per `conversations.replies` page, and pages read at most, within the ack's 3 s. */
const PLACEHOLDER_PAGE_LIMIT = 50;
const PLACEHOLDER_MAX_PAGES = 4;

/**
 * The placeholder a killed delivery posted for this event but never recorded on the claim: this bot's message in
 * the thread whose metadata names the event (`conversations.replies`, which the history scopes allow). It was
 * posted after the event, so only a window from the event's ts is read, page by page (a long thread's first 200
 * replies may all be older); a message of another app or person carrying the same metadata is not ours. Found, it
 * is reused, so the takeover leaves no second placeholder behind. A failure to read the thread is thrown, not taken
 * for "not there": the caller then posts a new placeholder and marks the turn (`strayPlaceholder`).
 */
export async function findUnrecordedPlaceholder(
  deps: Pick<AckDependencies, 'logger'>,
  client: WebClient,
  event: { channel: string; ts: string },
  threadTs: string,
  eventId: string,
  bot: { botUserId?: string; botId?: string },
  /** What the log says when the message is found. */
  found = 'reusing the placeholder of a delivery that was killed',
): Promise<string | undefined> {
  const [seconds = '0', micros = '000000'] = event.ts.split('.');
  const latest = `${Number(seconds) + PLACEHOLDER_WINDOW_SECONDS}.${micros}`;
  const isOurs = (m: ThreadReply): boolean =>
    (bot.botUserId !== undefined && m.user === bot.botUserId) ||
    (bot.botId !== undefined && m.bot_id === bot.botId);
  const mine = await findInThread(
    client,
    { channel: event.channel, threadTs, oldest: event.ts, latest },
    (m) =>
      isOurs(m) &&
      m.metadata?.event_type === PLACEHOLDER_EVENT_TYPE &&
      m.metadata.event_payload?.event_id === eventId,
    { pageLimit: PLACEHOLDER_PAGE_LIMIT, maxPages: PLACEHOLDER_MAX_PAGES },
  );
  if (mine?.ts === undefined) return undefined;
  deps.logger.info(found, { eventId });
  return mine.ts;
}

/**
 * Posts the placeholder or an immediate reply in the thread, or updates the placeholder already there. A new
 * message names the event in its metadata.
 */
export async function postOrUpdate(
  client: WebClient,
  channel: string,
  threadTs: string,
  existingTs: string | undefined,
  text: string,
  eventId: string,
): Promise<string> {
  if (existingTs) {
    await client.chat.update({ channel, ts: existingTs, text });
    return existingTs;
  }
  const posted = await client.chat.postMessage({
    channel,
    thread_ts: threadTs,
    text,
    // Names the event, so that a delivery taking the claim over finds this message if it was never recorded.
    metadata: { event_type: PLACEHOLDER_EVENT_TYPE, event_payload: { event_id: eventId } },
  });
  if (!posted.ts) throw new Error('chat.postMessage returned no ts');
  return posted.ts;
}

/**
 * Posts a message that must exist once in the thread (the placeholder, an immediate reply) with `poster`, a client
 * that never retries by itself (`postOnceInThread`): WebClient's own retry of a post whose answer was lost would leave
 * the first one saying "Searching…" for good. The thread is read for the message by the event it names in its
 * metadata. When the thread cannot be read either (Slack slow or refusing, within the ack's 3 s), `unsure` says a
 * first post may be in the thread too: the execution removes it (stray-placeholder.ts).
 */
export async function postOnce(
  deps: Pick<AckDependencies, 'logger'>,
  poster: WebClient,
  reader: WebClient,
  event: { channel: string; ts: string },
  threadTs: string,
  text: string,
  eventId: string,
  bot: { botUserId?: string; botId?: string },
): Promise<{ ts: string; unsure: boolean }> {
  const { posted, unsure } = await postOnceInThread(
    () => postOrUpdate(poster, event.channel, threadTs, undefined, text, eventId),
    () =>
      findUnrecordedPlaceholder(
        deps,
        reader,
        event,
        threadTs,
        eventId,
        bot,
        'the post went through though its answer did not arrive: using it',
      ),
    (error) =>
      deps.logger.warn(
        'could not tell whether the post was made; posting again, to be tidied by the execution',
        {
          eventId,
          error: String(error),
        },
      ),
  );
  return { ts: posted, unsure };
}
