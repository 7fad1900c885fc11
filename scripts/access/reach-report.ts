import {
  type AccessSettings,
  AUDIENCE_ENTRY,
  audienceMatch,
  channelAllowList,
} from '../../functions/core/access/reach';

/**
 * What `npm run access` reports, as data: who may read which collection where, and why (explain), and what is wrong
 * with the settings (check). Pure: the command gathers the settings, the user groups and the documents per
 * collection, and prints these.
 */

/** Every user group of the workspace Slack (or the local file) lists, with its members. */
export interface UserGroupListing {
  /** Where the groups were read: `Slack (usergroups.list)`, `the running npm run dev's fake Slack`, a file. */
  source: string;
  groups: { id: string; name?: string; users: string[]; disabled?: boolean }[];
}

/** Documents per collection in the table (`null`: documents without a collection). */
export type DocumentCounts = ReadonlyMap<string | null, number>;

export interface CollectionVerdict {
  /** `null`: documents without a collection. */
  collection: string | null;
  documents: number;
  open: boolean;
  /** Why, in words: the audience that matched, or what kept it closed. */
  why: string;
}

export interface Explanation {
  user: string;
  /** The channel, or undefined for a DM or the agent pane. */
  channel?: string;
  /** The person's user groups; undefined when no source could say. */
  groups?: string[];
  collections: CollectionVerdict[];
}

/** Every collection the settings or the table name, sorted, with documents without a collection last. */
function collectionsOf(settings: AccessSettings, documents: DocumentCounts): (string | null)[] {
  const named = new Set<string>();
  for (const collection of Object.keys(settings.collectionAudiences ?? {})) named.add(collection);
  for (const list of Object.values(settings.channelCollections ?? {})) for (const c of list) named.add(c);
  for (const collection of documents.keys()) if (collection !== null) named.add(collection);
  return [...[...named].sort(), ...(documents.has(null) ? [null] : [])];
}

/** Which collections `user` may read in `channel` (a DM when undefined), and why, with documents per collection. */
export function explainReach(
  settings: AccessSettings,
  documents: DocumentCounts,
  user: string,
  channel: string | undefined,
  groups: ReadonlySet<string> | undefined,
): Explanation {
  // A DM's (and the agent pane's) channel id starts with D; none is listed in the settings.
  const place = channel ?? 'D';
  const allowed = channelAllowList(settings, place);
  const where = channel === undefined ? 'direct messages and the agent pane' : channel;
  const verdicts = collectionsOf(settings, documents).map((collection): CollectionVerdict => {
    const count = documents.get(collection) ?? 0;
    if (allowed !== undefined && (collection === null || !allowed.includes(collection))) {
      const entry = settings.channelCollections?.[place] !== undefined ? place : '*';
      return {
        collection,
        documents: count,
        open: false,
        why:
          collection === null
            ? `documents without a collection are outside CHANNEL_COLLECTIONS' lists`
            : allowed.length === 0 && settings.channelCollections?.['*'] === undefined && entry === '*'
              ? `CHANNEL_COLLECTIONS has no entry for ${where} (nor "*")`
              : `not in CHANNEL_COLLECTIONS' entry for ${entry === '*' ? `"*" (${where})` : where}`,
      };
    }
    if (collection === null) {
      return {
        collection,
        documents: count,
        open: true,
        why: 'documents without a collection are open to everyone',
      };
    }
    const match = audienceMatch(settings, collection, { user, channel: place }, groups);
    const audience = settings.collectionAudiences?.[collection] ?? [];
    const why = match.open
      ? match.by === 'not named'
        ? 'not named in COLLECTION_AUDIENCES: open to everyone'
        : match.by === 'everyone'
          ? 'open to everyone ("*")'
          : `${match.by} ${match.entry}`
      : match.by === 'user groups unknown'
        ? `user groups unknown: only collections open to everyone are read (audience: ${audience.join(', ') || 'no one'})`
        : audience.length === 0
          ? 'open to no one (an empty audience)'
          : `no audience matched (audience: ${audience.join(', ')})`;
    return { collection, documents: count, open: match.open, why };
  });
  return {
    user,
    ...(channel === undefined ? {} : { channel }),
    ...(groups === undefined ? {} : { groups: [...groups].sort() }),
    collections: verdicts,
  };
}

export interface Problem {
  /** `error`: the setting is wrong or leaves something unreadable; `warning`: likely a mistake. */
  severity: 'error' | 'warning';
  message: string;
}

/**
 * What is wrong with the settings: a collection open to no one, a user group that does not exist (or is disabled),
 * a collection named that holds no document (a typo, or not synced yet), an audience entry that cannot match.
 * `groups` undefined: the groups could not be listed (said by the caller).
 */
export function checkSettings(
  settings: AccessSettings,
  documents: DocumentCounts,
  groups: UserGroupListing | undefined,
): Problem[] {
  const problems: Problem[] = [];
  const audiences = settings.collectionAudiences ?? {};
  const known = new Map(groups?.groups.map((g) => [g.id, g]) ?? []);
  for (const [collection, audience] of Object.entries(audiences)) {
    if (audience.length === 0) {
      problems.push({
        severity: 'error',
        message: `collection "${collection}" is open to no one (an empty audience)`,
      });
    }
    for (const entry of audience) {
      if (!AUDIENCE_ENTRY.test(entry)) {
        problems.push({
          severity: 'error',
          message: `"${entry}" in "${collection}"'s audience matches no one`,
        });
      } else if (entry.startsWith('S') && groups !== undefined) {
        const group = known.get(entry);
        if (group === undefined) {
          problems.push({
            severity: 'error',
            message: `user group ${entry} (in "${collection}"'s audience) does not exist in ${groups.source}`,
          });
        } else if (group.disabled) {
          problems.push({
            severity: 'error',
            message: `user group ${entry} (in "${collection}"'s audience) is disabled: it matches no one`,
          });
        } else if (group.users.length === 0) {
          problems.push({
            severity: 'warning',
            message: `user group ${entry} (in "${collection}"'s audience) has no members`,
          });
        }
      }
    }
  }
  const named = new Set([
    ...Object.keys(audiences),
    ...Object.values(settings.channelCollections ?? {}).flat(),
  ]);
  for (const collection of [...named].sort()) {
    if ((documents.get(collection) ?? 0) === 0) {
      problems.push({
        severity: 'warning',
        message: `collection "${collection}" is named in the settings but holds no document (a typo, or not synced yet?)`,
      });
    }
  }
  for (const [channel, list] of Object.entries(settings.channelCollections ?? {})) {
    if (list.length === 0) {
      problems.push({
        severity: 'warning',
        message: `CHANNEL_COLLECTIONS gives ${channel === '*' ? '"*"' : channel} no collection: questions there are answered from nothing`,
      });
    }
  }
  return problems;
}
