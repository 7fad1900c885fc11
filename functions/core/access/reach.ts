import { COLLECTION_NAME } from '../ingest/origin-spec';

/**
 * Who may read what. Two settings decide, and a question is answered only from what both allow:
 *
 * - `CHANNEL_COLLECTIONS` (by place): the collections a channel may read, `*` for every other channel and for
 *   direct messages and the agent pane (whose "channel" is the DM). Not set: places are not limited.
 * - `COLLECTION_AUDIENCES` (by person): a collection named there is open only to its audience: Slack user groups
 *   (`S…`), people (`U…`/`W…`), channels (`C…`/`G…`: whoever asks in that channel) or everyone (`*`). A
 *   collection not named there is open to everyone, so a deployment without the setting behaves as before.
 *
 * The reach of a question is the intersection: a channel never widens a person's reach and a person never widens a
 * channel's. When Slack cannot say which user groups the asker is in, only collections open to everyone (`*`, or
 * not named) are read, never more (fail closed), and the answer says so.
 */

/** Collection name → who may read it (`COLLECTION_AUDIENCES`). */
export type CollectionAudiences = Readonly<Record<string, readonly string[]>>;

/** What the access settings say (a slice of the app's config). */
export interface AccessSettings {
  channelCollections?: Readonly<Record<string, readonly string[]>>;
  collectionAudiences?: CollectionAudiences;
}

/** Who asks, and where. */
export interface Asker {
  user: string;
  channel: string;
}

/** What one question may read; it travels between the states of the conversation as JSON. */
export interface Reach {
  /**
   * Only these collections (the place's `CHANNEL_COLLECTIONS` entry, less what is closed to the asker). Absent:
   * any collection but the closed ones, and documents without a collection. Documents without a collection are
   * outside an allow-list.
   */
  only?: string[];
  /** The collections of `COLLECTION_AUDIENCES` closed to this asker here. */
  closed: string[];
  /**
   * Slack could not say which user groups the asker is in (an error, a rate limit, a missing scope): collections
   * open only to groups, people or channels were closed, whatever the asker's membership.
   */
  groupsUnknown?: boolean;
}

/** Everything: the reach of a deployment without access settings. */
export const UNLIMITED: Reach = { closed: [] };

/** One audience entry: everyone, a user group, a person, or a channel. */
export const AUDIENCE_ENTRY = /^(\*|S[A-Z0-9]{2,}|[UW][A-Z0-9]{2,}|[CG][A-Z0-9]{2,})$/;

/**
 * `COLLECTION_AUDIENCES` (or `bot:collectionAudiences`) checked: a JSON object (or its text) mapping collection names
 * to lists of audience entries. Returns the problem in words, for the setting's error.
 */
export function parseCollectionAudiences(
  raw: unknown,
): { ok: true; value: CollectionAudiences } | { ok: false; problem: string } {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, problem: 'it is not JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: 'it must be an object mapping collection names to lists of audiences' };
  }
  for (const [collection, audience] of Object.entries(value)) {
    if (!COLLECTION_NAME.test(collection)) {
      return {
        ok: false,
        problem: `"${collection}" is not a collection name (letters, digits, ".", "_", "-")`,
      };
    }
    if (!Array.isArray(audience)) {
      return { ok: false, problem: `the audience of "${collection}" must be a list` };
    }
    const bad = audience.find((entry) => typeof entry !== 'string' || !AUDIENCE_ENTRY.test(entry));
    if (bad !== undefined) {
      return {
        ok: false,
        problem: `"${String(bad)}" (in "${collection}") is not "*", a user group (S…), a person (U… or W…) or a channel (C… or G…)`,
      };
    }
  }
  return { ok: true, value: value as CollectionAudiences };
}

/** Whether any audience names a user group: only then must Slack be asked who is in which. */
export function needsUserGroups(settings: AccessSettings): boolean {
  return Object.values(settings.collectionAudiences ?? {}).some((audience) =>
    audience.some((entry) => entry.startsWith('S')),
  );
}

/** Why an asker may read a collection here: the audience entry that matched, or why none did. */
export type AudienceMatch =
  | { open: true; by: 'not named' | 'everyone' | 'person' | 'user group' | 'channel'; entry?: string }
  | { open: false; by: 'no audience matched' | 'user groups unknown' };

/**
 * Whether `collection` is open to `asker` by `COLLECTION_AUDIENCES`, and by which entry. `groups` are the asker's
 * user groups, undefined when Slack could not say: then only collections open to everyone are.
 */
export function audienceMatch(
  settings: AccessSettings,
  collection: string,
  asker: Asker,
  groups: ReadonlySet<string> | undefined,
): AudienceMatch {
  const audience = settings.collectionAudiences?.[collection];
  if (audience === undefined) return { open: true, by: 'not named' };
  if (audience.includes('*')) return { open: true, by: 'everyone', entry: '*' };
  if (groups === undefined) return { open: false, by: 'user groups unknown' };
  if (audience.includes(asker.user)) return { open: true, by: 'person', entry: asker.user };
  const group = audience.find((entry) => entry.startsWith('S') && groups.has(entry));
  if (group !== undefined) return { open: true, by: 'user group', entry: group };
  if (audience.includes(asker.channel)) return { open: true, by: 'channel', entry: asker.channel };
  return { open: false, by: 'no audience matched' };
}

/** The place's `CHANNEL_COLLECTIONS` entry (its own, else `*`, else none), undefined when places are not limited. */
export function channelAllowList(settings: AccessSettings, channel: string): readonly string[] | undefined {
  const map = settings.channelCollections;
  if (map === undefined) return undefined;
  return map[channel] ?? map['*'] ?? [];
}

/** The reach of a question: what the place allows, less what is closed to the person. */
export function reachFor(
  settings: AccessSettings,
  asker: Asker,
  groups: ReadonlySet<string> | undefined,
): Reach {
  const closed = Object.keys(settings.collectionAudiences ?? {})
    .filter((collection) => !audienceMatch(settings, collection, asker, groups).open)
    .sort();
  const allowed = channelAllowList(settings, asker.channel);
  return {
    ...(allowed === undefined
      ? {}
      : { only: [...new Set(allowed)].filter((c) => !closed.includes(c)).sort() }),
    closed,
    ...(groups === undefined && needsUserGroups(settings) ? { groupsUnknown: true } : {}),
  };
}

/** Whether a question of this reach may read a document of `collection` (null: a document without one). */
export function mayRead(reach: Reach, collection: string | null): boolean {
  if (reach.only !== undefined) return collection !== null && reach.only.includes(collection);
  return collection === null || !reach.closed.includes(collection);
}

/**
 * The reach as a search filter: its allow-list when it has one, else its closed collections (a deny-list that
 * keeps documents without a collection); nothing for no reach.
 */
export function searchFilter(
  reach: Reach | undefined,
): { collections: readonly string[] } | { excludedCollections: readonly string[] } {
  return reach?.only !== undefined
    ? { collections: reach.only }
    : { excludedCollections: reach?.closed ?? [] };
}

/** Whether nothing is kept from this reach: no place limit and no collection closed. */
export function isUnlimited(reach: Reach): boolean {
  return reach.only === undefined && reach.closed.length === 0;
}

/**
 * How collections are recorded on a stored turn: the collections of the passages the answer was drawn from and of
 * the earlier turns it was given, with `''` for documents without a collection.
 */
export const NO_COLLECTION = '';

/**
 * Whether a stored turn may be shown to (put in the history of) a question of this reach: every collection its
 * answer drew on must be readable. A turn stored before collections were recorded (`undefined` or `null`) is given
 * only to a question from which no collection is closed: it was answered in the same thread, so in the same place,
 * under the same `CHANNEL_COLLECTIONS`.
 */
export function mayReadTurn(reach: Reach, collections: readonly string[] | null | undefined): boolean {
  if (collections === undefined || collections === null) return reach.closed.length === 0;
  return collections.every((c) => mayRead(reach, c === NO_COLLECTION ? null : c));
}
