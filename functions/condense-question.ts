import { condense } from './core/conversation/condense';
import { chatModelFor } from './core/models';
import { defineStep, type StepInput } from './core/step-handler';
import type { HistoryResult } from './core/types';

/** Condense question: rewrites the follow-up as a standalone question (only run when there is history). */
export const { createHandler, handler } = defineStep(
  'Condense question',
  async (runtime, input: StepInput & { history: HistoryResult }) =>
    condense(await chatModelFor(runtime), input.history, input.turn.question),
);
