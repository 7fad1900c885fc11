import { createHmac, randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { isUnlimited, mayReadTurn, type Reach } from '../../functions/core/access/reach';
import { DynamoDbHistoryStore } from '../../functions/core/stores/dynamodb-history-store';
import type { Feedback, HistoryBudget, TurnRecord } from '../../functions/core/stores/history-store';
import { THREAD_PREFIX } from '../../functions/core/stores/keys';
import type { SourceRef, StoredMessage, Turn } from '../../functions/core/types';
import { redactIdentifiers } from './redact';

/**
 * Feedback export (issue 13): the turns people voted on, read from the conversation table, as lines of the eval set
 * `npm run eval` reads (scripts/eval/dataset.ts), so that real questions, above all the ones marked wrong, become
 * regression cases.
 *
 * What leaves the table is questions, answers and votes: no Slack user id. Voters appear in `--json` only, as a keyed
 * hash that is new at every export (the same person has the same hash within one export, and no other). What people
 * wrote (questions, the thread's earlier turns, answers, comments) leaves with its mentions of people, channels and
 * groups and its e-mail addresses replaced by placeholders (redact.ts).
 */

/** One person's vote on an exported turn. */
export interface ExportedVote {
  vote: Feedback['vote'];
  /** When the vote was stored, ISO 8601. */
  at: string;
  comment?: string;
  /** The voter, hashed (HMAC-SHA-256 with a key drawn for this export), never the Slack user id. */
  voter: string;
}

/** A line of the eval set (dataset.ts): only the fields `npm run eval` accepts. */
export interface EvalLine {
  id: string;
  question: string;
  sources: string[];
  thread?: StoredMessage[];
  language?: 'en' | 'ja';
  reference?: string;
  /** What the asker could read (the turn's reach), so the question is replayed with the same; absent: everything. */
  reach?: Reach;
}

/** A turn with feedback, as exported: its eval line and what the eval line cannot hold. */
export interface ExportedTurn {
  line: EvalLine;
  /** `negative` when anyone voted it wrong (its expected sources are then unknown), else `positive`. */
  verdict: Feedback['vote'];
  votes: ExportedVote[];
  /** When the question was asked, ISO 8601. */
  askedAt: string;
  /** The question as the bot searched for it (a follow-up condensed with its thread). */
  standaloneQuestion: string;
  /** The answer people voted on, and the sources listed under it. */
  answer: string;
  answerSources: string[];
  model: string;
  /** The collections the answer drew on, when recorded (`''`: documents without one). */
  collections?: string[] | null;
}

export interface ExportOptions {
  /** Only turns with a vote stored at or after this time (epoch ms). */
  since?: number;
  /** Only turns someone voted wrong. */
  negativeOnly?: boolean;
  /** How many earlier turns of a follow-up's thread to keep, as Load history would. @default 5 turns, 8000 chars */
  historyBudget?: HistoryBudget;
  /** The key voters are hashed with. @default 32 random bytes */
  voterKey?: Buffer;
  /** @default Date.now */
  now?: () => number;
}

export interface ExportResult {
  turns: ExportedTurn[];
  /** Turn items read from the table (with feedback or not). */
  scanned: number;
}

interface TurnItem {
  pk: string;
  sk: string;
  record: TurnRecord;
  feedback?: Record<string, Feedback>;
}

const DEFAULT_HISTORY: HistoryBudget = { maxTurns: 5, maxChars: 8_000 };

/**
 * `THREAD#team#channel#thread` / `TURN#messageTs` back into the turn they key (`team` is the organisation's id on an
 * org-wide install on Enterprise Grid, which keys the same thread again: keys.ts).
 */
function turnOf(item: TurnItem): Pick<Turn, 'teamId' | 'channel' | 'threadTs' | 'messageTs'> | undefined {
  const [, teamId, channel, threadTs] = item.pk.split('#');
  const messageTs = item.sk.slice('TURN#'.length);
  if (!teamId || !channel || !threadTs || messageTs === '') return undefined;
  return { teamId, channel, threadTs, messageTs };
}

/**
 * A source as the eval set names one: the document's path, and `#heading` for a section below its title (matched
 * as the path's end, so `s3://bucket/it/vpn-guide.md#Rotating` also matches the same document indexed elsewhere
 * only if the path is shortened by hand).
 */
export function evalSourceOf(source: Pick<SourceRef, 'source' | 'heading'>): string {
  return source.heading.trim() === '' ? source.source : `${source.source}#${source.heading}`;
}

/** The turn items that may carry a vote, page by page, by a paginated Scan of the THREAD# partitions. */
async function* turnsWithFeedback(
  client: DynamoDBDocumentClient,
  tableName: string,
): AsyncGenerator<{ items: TurnItem[]; scanned: number }> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        // `feedback` is an empty map on a turn nobody voted on; the filter leaves tombstones and markers out.
        FilterExpression:
          'begins_with(pk, :thread) AND begins_with(sk, :turn) AND attribute_exists(#record) AND attribute_exists(feedback)',
        ExpressionAttributeNames: { '#record': 'record' },
        ExpressionAttributeValues: { ':thread': THREAD_PREFIX, ':turn': 'TURN#' },
        ExclusiveStartKey: startKey,
      }),
    );
    const items = (page.Items ?? []) as TurnItem[];
    yield { items, scanned: page.ScannedCount ?? items.length };
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}

/** The stable id of an exported turn: the same turn gets the same id at every export, and it names no one. */
function lineId(item: TurnItem, verdict: Feedback['vote']): string {
  const digest = createHmac('sha256', 'slack-rag-bot feedback export')
    .update(`${item.pk}\n${item.sk}`)
    .digest('hex')
    .slice(0, 12);
  return `feedback-${verdict}-${digest}`;
}

/**
 * Reads the turns people voted on and makes each an eval line: the question as asked, with the thread's earlier
 * turns when it was a follow-up (the eval condenses it as the bot did); for a turn voted right, the sources the answer
 * listed and the answer as the reference; for one voted wrong, no sources (they are unknown: fill them in, or leave
 * the list empty if the documents cannot answer it) and no reference.
 */
export async function exportFeedback(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const voterKey = options.voterKey ?? randomBytes(32);
  const now = options.now ?? Date.now;
  const history = new DynamoDbHistoryStore(client, { tableName, ttlDays: 1 });
  const hashVoter = (user: string) => createHmac('sha256', voterKey).update(user).digest('hex').slice(0, 16);
  const turns: ExportedTurn[] = [];
  let scanned = 0;
  for await (const page of turnsWithFeedback(client, tableName)) {
    scanned += page.scanned;
    for (const item of page.items) {
      const exported = await exportTurn(item);
      if (exported !== undefined) turns.push(exported);
    }
  }
  turns.sort((a, b) => a.askedAt.localeCompare(b.askedAt) || a.line.id.localeCompare(b.line.id));
  return { turns, scanned };

  async function exportTurn(item: TurnItem): Promise<ExportedTurn | undefined> {
    const votes = Object.entries(item.feedback ?? {})
      .filter(([, feedback]) => feedback?.vote === 'positive' || feedback?.vote === 'negative')
      .map(([user, feedback]) => ({ user, feedback }));
    if (votes.length === 0) return undefined;
    if (
      options.since !== undefined &&
      !votes.some((v) => Date.parse(v.feedback.at) >= (options.since as number))
    ) {
      return undefined;
    }
    const verdict: Feedback['vote'] = votes.some((v) => v.feedback.vote === 'negative')
      ? 'negative'
      : 'positive';
    if (options.negativeOnly && verdict !== 'negative') return undefined;
    const turn = turnOf(item);
    if (turn === undefined) return undefined;
    const { record } = item;
    const earlier =
      turn.messageTs === turn.threadTs
        ? []
        : await history.loadTurns(
            turn as Turn,
            options.historyBudget ?? DEFAULT_HISTORY,
            now(),
            // The thread as the asker's history had it: only the turns within their reach.
            record.reach === undefined ? undefined : (t) => mayReadTurn(record.reach as Reach, t.collections),
          );
    const thread = earlier.flatMap((t): StoredMessage[] => [
      { role: 'human', content: redactIdentifiers(t.question) },
      { role: 'ai', content: redactIdentifiers(t.answer) },
    ]);
    const sources = record.sources.map(evalSourceOf);
    const language = record.lang === 'en' || record.lang === 'ja' ? record.lang : undefined;
    // A follow-up whose earlier turns are gone (forgotten, expired) keeps its meaning as condensed.
    const question = redactIdentifiers(
      thread.length === 0 ? record.standaloneQuestion || record.question : record.question,
    );
    const answer = redactIdentifiers(record.answer);
    return {
      line: {
        id: lineId(item, verdict),
        question,
        sources: verdict === 'positive' ? sources : [],
        ...(thread.length > 0 ? { thread } : {}),
        ...(language !== undefined ? { language } : {}),
        ...(verdict === 'positive' && answer.trim() !== '' ? { reference: answer } : {}),
        ...(record.reach === undefined || isUnlimited(record.reach) ? {} : { reach: record.reach }),
      },
      verdict,
      votes: votes
        .map(({ user, feedback }) => ({
          vote: feedback.vote,
          at: feedback.at,
          ...(feedback.comment !== undefined && feedback.comment.trim() !== ''
            ? { comment: redactIdentifiers(feedback.comment) }
            : {}),
          voter: hashVoter(user),
        }))
        .sort((a, b) => a.at.localeCompare(b.at)),
      askedAt: record.createdAt,
      standaloneQuestion: redactIdentifiers(record.standaloneQuestion),
      answer,
      answerSources: sources,
      model: record.model,
      ...(record.collections === undefined ? {} : { collections: record.collections }),
    };
  }
}

/** A `//` note (which `npm run eval` skips) on one line, whatever the comment holds. */
function note(text: string): string {
  return `// ${text.replace(/\s+/g, ' ').trim()}`;
}

/**
 * The eval set file: a header, then per turn a `//` note with its votes, comments and date (the eval format has no
 * field for them, and skips these lines) followed by its eval line.
 */
export function toEvalSet(result: ExportResult, exportedAt: Date): string {
  const lines = [
    note(
      `Exported by npm run feedback -- export on ${exportedAt.toISOString()}: ${result.turns.length} question(s) people voted on.`,
    ),
    note(
      'A line voted wrong has "sources": [] because the right sources are unknown: put the sections that answer it there, or leave it empty if the documents cannot answer it, before running npm run eval on this file.',
    ),
  ];
  for (const turn of result.turns) {
    const counts = (['positive', 'negative'] as const)
      .map((vote) => `${turn.votes.filter((v) => v.vote === vote).length} ${vote}`)
      .join(', ');
    const comments = turn.votes.filter((v) => v.comment !== undefined).map((v) => JSON.stringify(v.comment));
    lines.push('');
    lines.push(
      note(
        `${turn.line.id}: asked ${turn.askedAt}; votes ${counts}${comments.length > 0 ? `; comments ${comments.join(', ')}` : ''}` +
          (turn.verdict === 'negative'
            ? `; voted wrong: expected sources unknown (the answer listed ${turn.answerSources.length > 0 ? turn.answerSources.join(', ') : 'none'})`
            : ''),
      ),
    );
    lines.push(JSON.stringify(turn.line));
  }
  return `${lines.join('\n')}\n`;
}
