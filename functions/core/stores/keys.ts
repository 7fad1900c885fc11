import type { Turn } from '../types';

/**
 * One DynamoDB table holds these kinds of item, each under its own partition-key prefix so IAM can grant a
 * function only the prefixes it needs (`dynamodb:LeadingKeys`):
 *   THREAD#team#channel#thread / TURN#messageTs   one turn of a thread's history (team: see keyScope below)
 *   EVENT#eventId / EVENT                          the ack's dedupe record and the answer claim
 *   SYNC#store / SOURCE#source                     the ingest manifest: one indexed document of a vector store
 *   SYNC#store / LOCK                              the ingest sync lock of a vector store
 *   TABLEVERSION#store / TABLE                     the document table's version the ingest last wrote (Retrieve serves it)
 * Every item but the manifest's carries `expiresAt` (epoch seconds), the table's TTL attribute; a manifest entry
 * lives as long as its document is indexed.
 *
 * Which Slack id scopes a key: on a single-workspace install the workspace (`team_id`), as always, so stored data
 * keeps working. On an org-wide install on Enterprise Grid the organisation (`enterprise_id`): channel and user ids
 * are unique across an organisation, but a channel shared between two of its workspaces delivers its events with
 * the `team_id` of either, so a thread keyed on the workspace would split into two histories (and a person asking
 * from two workspaces would get two daily allowances). Event ids are Slack's and unique: the dedupe key needs
 * neither. Who may read what keys on the user id alone (access/).
 */
export const THREAD_PREFIX = 'THREAD#';
export const EVENT_PREFIX = 'EVENT#';
export const SYNC_PREFIX = 'SYNC#';
/** Its own prefix, apart from SYNC#, so that Load history may read it without reading the manifest. */
export const TABLE_VERSION_PREFIX = 'TABLEVERSION#';

/** The id a thread's or a person's keys are scoped by: the organisation of an org-wide install, else the workspace. */
export function keyScope(ids: { teamId: string; enterpriseId?: string }): string {
  return ids.enterpriseId ?? ids.teamId;
}

export function threadKey(turn: Pick<Turn, 'teamId' | 'enterpriseId' | 'channel' | 'threadTs'>): string {
  return `${THREAD_PREFIX}${keyScope(turn)}#${turn.channel}#${turn.threadTs}`;
}

/** Slack ts values ("1700000000.000100") sort as strings until the year 2286, so the sort key orders turns. */
export function turnSortKey(messageTs: string): string {
  return `TURN#${messageTs}`;
}

export function eventKey(eventId: string): string {
  return `${EVENT_PREFIX}${eventId}`;
}

export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** The partition of one vector store's manifest and lock; `storeId` names the LanceDB database and table. */
export function syncKey(storeId: string): string {
  return `${SYNC_PREFIX}${storeId}`;
}

/** The partition of one vector store's table version (`stores/table-version-store.ts`). */
export function tableVersionKey(storeId: string): string {
  return `${TABLE_VERSION_PREFIX}${storeId}`;
}
