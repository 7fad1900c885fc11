import { PermanentError } from '../../functions/core/errors';
import { assertRunId, assertStepInput } from '../../functions/core/step-handler';

const turn = {
  intent: 'question',
  eventId: 'Ev1',
  teamId: 'T1',
  channel: 'C1',
  threadTs: '1700000000.000100',
  messageTs: '1700000000.000100',
  user: 'U1',
  question: 'How do I rotate my VPN key?',
  placeholderTs: '1700000000.000200',
};

describe('step input', () => {
  it('accepts what the state machine passes', () => {
    expect(() => assertStepInput({ turn, executionName: 'Ev1-abc' })).not.toThrow();
  });

  it.each([
    ['no executionName', { turn }],
    ['a turn field missing', { turn: { ...turn, channel: undefined }, executionName: 'x' }],
    ['an unknown intent', { turn: { ...turn, intent: 'delete-everything' }, executionName: 'x' }],
  ])('rejects %s as a permanent error, never retried', (_case, input) => {
    expect(() => assertStepInput(input)).toThrow(PermanentError);
  });

  it('rejects a Generate or Report failure input without the run id the state machine draws, naming it', () => {
    expect(() => assertRunId({ turn, executionName: 'x' })).toThrow(/runId.*Name this run/);
    expect(() => assertRunId({ turn, executionName: 'x', runId: '' })).toThrow(PermanentError);
    expect(() => assertRunId({ turn, executionName: 'x', runId: 'a1b2' })).not.toThrow();
  });
});
