import { fitBudget, type TurnRecord, turnsToMessages } from '../../functions/core/stores/history-store';

function turn(n: number, size = 10): TurnRecord {
  return {
    eventId: `Ev${n}`,
    messageTs: `1700000000.00000${n}`,
    user: 'U1',
    question: `q${n}`.padEnd(size, '?'),
    standaloneQuestion: `q${n}`,
    answer: `a${n}`.padEnd(size, '.'),
    sources: [],
    model: 'local-extractive',
    usage: { inputTokens: 0, outputTokens: 0 },
    answerTs: [],
    createdAt: '2026-11-24T00:00:00.000Z',
  };
}

describe('history budget', () => {
  it('keeps the newest turns within the turn limit, oldest first', () => {
    const newestFirst = [turn(5), turn(4), turn(3), turn(2), turn(1)];

    const kept = fitBudget(newestFirst, { maxTurns: 3, maxChars: 10_000 });

    expect(kept.map((t) => t.eventId)).toEqual(['Ev3', 'Ev4', 'Ev5']);
  });

  it('drops the oldest turns first when the characters run out', () => {
    const newestFirst = [turn(3, 100), turn(2, 100), turn(1, 100)];

    const kept = fitBudget(newestFirst, { maxTurns: 10, maxChars: 450 });

    expect(kept.map((t) => t.eventId)).toEqual(['Ev2', 'Ev3']);
  });

  it('flattens turns into alternating human and AI messages', () => {
    expect(turnsToMessages([turn(1, 2)])).toEqual([
      { role: 'human', content: 'q1' },
      { role: 'ai', content: 'a1' },
    ]);
  });
});
