import type { Turn } from '../types';

/**
 * One DynamoDB table holds these kinds of item, each under its own partition-key prefix so IAM can grant a
 * function only the prefixes it needs (`dynamodb:LeadingKeys`):
 *   THREAD#team#channel#thread / TURN#messageTs   one turn of a thread's history
 *   EVENT#eventId / EVENT                          the ack's dedupe record and the answer claim
 *   SYNC#store / SOURCE#source                     the ingest manifest: one indexed document of a vector store
 *   SYNC#store / LOCK                              the ingest sync lock of a vector store
 * Every item but the manifest's carries `expiresAt` (epoch seconds), the table's TTL attribute; a manifest entry
 * lives as long as its document is indexed.
 */
export const THREAD_PREFIX = 'THREAD#';
export const EVENT_PREFIX = 'EVENT#';
export const SYNC_PREFIX = 'SYNC#';

export function threadKey(turn: Pick<Turn, 'teamId' | 'channel' | 'threadTs'>): string {
  return `${THREAD_PREFIX}${turn.teamId}#${turn.channel}#${turn.threadTs}`;
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
