import type { Reach } from '../access/reach';
import type { SourceRef, StoredMessage, TokenUsage, Turn } from '../types';

/** One answered question of a thread, as persisted. */
export interface TurnRecord {
  eventId: string;
  messageTs: string;
  user: string;
  question: string;
  standaloneQuestion: string;
  answer: string;
  sources: SourceRef[];
  model: string;
  usage: TokenUsage;
  /** The Slack messages holding the answer. */
  answerTs: string[];
  createdAt: string;
  /** The language the bot answered in. */
  lang?: string;
  /**
   * The collections the answer drew on (its passages', and those of the earlier turns it was given; `''` for
   * documents without one), so that the turn is shown later only to askers who may read them all. Absent on turns
   * stored before access was recorded, and null where the deployment does not limit who reads what.
   */
  collections?: string[] | null;
  /**
   * What the asker could read when asking (where the deployment limits it): a feedback export keeps it, so the
   * question is replayed with the same reach.
   */
  reach?: Reach;
}

/** One person's vote on an answer, stored with its turn; a later click replaces it. */
export interface Feedback {
  vote: 'positive' | 'negative';
  /** When Slack says the button was clicked (`action_ts`): a redelivery of the same click changes nothing. */
  actionTs: string;
  /** When it was stored, ISO 8601. */
  at: string;
  /**
   * The optional comment of a negative vote, from the modal: stored only while the person's vote is 👎, and kept
   * when a later click changes the vote.
   */
  comment?: string;
}

/** A thread as the ack and the feedback handler name it. */
export type ThreadRef = Pick<Turn, 'teamId' | 'enterpriseId' | 'channel' | 'threadTs'>;

/** What became of a click. */
export type FeedbackOutcome =
  /** Stored, replacing the person's earlier vote on this answer if any. */
  | 'stored'
  /** The same click again (or an older one arriving late): nothing changed. */
  | 'unchanged'
  /** The answer's turn is not stored yet (Persist turn has not run): the person may click again. */
  | 'not-yet'
  /** The thread was forgotten (or the turn expired): nothing is stored. */
  | 'gone';

export interface HistoryBudget {
  /** Most recent turns to load. */
  maxTurns: number;
  /** Most characters of questions and answers to load; the oldest turns are dropped first. */
  maxChars: number;
}

/** A thread's conversation history. */
export interface HistoryStore {
  /**
   * The turns before `beforeTs`, oldest first, newest kept within the budget; expired turns are skipped, and so are
   * turns `keep` refuses (before the budget is counted: a refused turn takes no room).
   */
  loadTurns(
    turn: Turn,
    budget: HistoryBudget,
    now: number,
    keep?: (record: TurnRecord) => boolean,
  ): Promise<TurnRecord[]>;
  /** The stored turn of this mention, if it was answered already. */
  getTurn(turn: Turn): Promise<TurnRecord | undefined>;
  /**
   * Appends a turn once: a second call for the same message writes nothing and returns false, and so does a call
   * for a message older than a forget of its thread, even one racing the forget.
   */
  appendTurn(turn: Turn, record: TurnRecord, now: number): Promise<boolean>;
  /**
   * Forgets the thread as of the forget request `turn`: deletes every turn from before it, and no turn from before
   * it can be appended afterwards (one in flight included); returns how many were deleted.
   */
  deleteThread(turn: Turn): Promise<number>;
  /**
   * Who asked the first stored question of the thread, or undefined when the bot has not answered in it (or it
   * was forgotten): the ack answers a reply without a mention only in a thread the bot answered.
   */
  threadAsker(thread: ThreadRef, now: number): Promise<string | undefined>;
  /**
   * Stores `user`'s vote on the answer to the question `messageTs`, with that turn; a later click replaces the
   * vote and keeps the comment.
   */
  recordFeedback(
    thread: ThreadRef,
    messageTs: string,
    user: string,
    feedback: Feedback,
  ): Promise<FeedbackOutcome>;
  /** Adds a comment to `user`'s stored 👎; false when there is no 👎 (or turn) to add it to. */
  recordFeedbackComment(
    thread: ThreadRef,
    messageTs: string,
    user: string,
    comment: string,
  ): Promise<boolean>;
}

/** Flattens turns into the message list the chains read. */
export function turnsToMessages(turns: TurnRecord[]): StoredMessage[] {
  return turns.flatMap((t) => [
    { role: 'human' as const, content: t.question },
    { role: 'ai' as const, content: t.answer },
  ]);
}

/** Keeps the newest turns that fit the budget, returned oldest first. */
export function fitBudget(newestFirst: TurnRecord[], budget: HistoryBudget): TurnRecord[] {
  const kept: TurnRecord[] = [];
  let chars = 0;
  for (const turn of newestFirst) {
    if (kept.length >= budget.maxTurns) break;
    const size = turn.question.length + turn.answer.length;
    if (chars + size > budget.maxChars) break;
    chars += size;
    kept.push(turn);
  }
  return kept.reverse();
}
