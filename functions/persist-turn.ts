import { persistTurn } from './core/conversation/steps';
import { defineStep, type StepInput } from './core/step-handler';
import type { AnswerResult, StandaloneQuestion } from './core/types';

/** Persist turn: appends the question and answer to the thread's history, once per Slack event. */
export const { createHandler, handler } = defineStep(
  'Persist turn',
  (runtime, input: StepInput & { answer: AnswerResult; standalone: StandaloneQuestion }) =>
    persistTurn(
      runtime.historyStore(),
      input.turn,
      input.answer,
      input.standalone,
      runtime.now(),
      runtime.metrics(),
    ),
);
