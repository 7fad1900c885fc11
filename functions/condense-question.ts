import { condense } from './core/conversation/condense';
import { modelNameOf } from './core/llm/providers';
import { chatModelFor } from './core/models';
import { defineStep, type StepInput } from './core/step-handler';
import type { HistoryResult } from './core/types';

/** Condense question: rewrites the follow-up as a standalone question (only run when there is history). */
export const { createHandler, handler } = defineStep(
  'Condense question',
  async (runtime, input: StepInput & { history: HistoryResult }, deadline) => {
    const model = await chatModelFor(runtime);
    const standalone = await condense(model, input.history, input.turn.question, deadline.signal);
    if (standalone.usage !== undefined) runtime.metrics().tokens(modelNameOf(model), standalone.usage);
    return standalone;
  },
);
