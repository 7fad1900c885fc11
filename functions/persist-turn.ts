import { accessLimited } from './core/access/asker-reach';
import type { Reach } from './core/access/reach';
import { drawnOnCollections, persistTurn } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';
import type { AnswerResult, StandaloneQuestion } from './core/types';

/**
 * Persist turn: appends the question and answer to the thread's history, once per Slack event, with the
 * collections the answer drew on where the deployment limits who reads what.
 */
export const { createHandler, handler } = defineStep(
  'Persist turn',
  (
    runtime,
    input: StepInput & {
      answer: AnswerResult;
      standalone: StandaloneQuestion;
      historyCollections?: string[] | null;
      passageCollections?: string[] | null;
      reach?: Reach;
    },
  ) =>
    persistTurn(
      runtime.historyStore(),
      input.turn,
      input.answer,
      input.standalone,
      runtime.now(),
      runtime.metrics(),
      drawnOnCollections(
        accessLimited(runtime.config.access),
        input.historyCollections,
        input.passageCollections,
      ),
      input.reach,
    ),
);
