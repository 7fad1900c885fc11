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
}

export interface HistoryBudget {
  /** Most recent turns to load. */
  maxTurns: number;
  /** Most characters of questions and answers to load; the oldest turns are dropped first. */
  maxChars: number;
}

/** A thread's conversation history. */
export interface HistoryStore {
  /** The turns before `beforeTs`, oldest first, newest kept within the budget; expired turns are skipped. */
  loadTurns(turn: Turn, budget: HistoryBudget, now: number): Promise<TurnRecord[]>;
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
