import type { ResolvedProfile } from './core/channel-profiles';
import { generateAnswer } from './core/conversation/generate-answer';
import { chatModelNamed } from './core/models';
import { assertRunId, defineStep, type StepInput } from './core/step-handler';
import type { RetrievalResult } from './core/types';

/** Generate and stream: the answer streamed into the placeholder, finished with its sources. */
export const { createHandler, handler } = defineStep(
  'Generate and stream',
  async (
    runtime,
    input: StepInput & {
      question: string;
      retrieval: RetrievalResult;
      runId: string;
      profile?: ResolvedProfile;
    },
    deadline,
  ) => {
    assertRunId(input);
    // The place's profile (Load history resolved it) may name its own model; the footer names the one that wrote.
    const [slack, poster, model] = await Promise.all([
      runtime.slackClient(),
      runtime.slackPoster(),
      chatModelNamed(runtime, input.profile?.model),
    ]);
    const answer = await generateAnswer(
      {
        slack,
        poster,
        model,
        eventStore: runtime.eventStore(),
        historyStore: runtime.historyStore(),
        streamMode: runtime.config.slack.streamMode,
        logger: runtime.logger,
        now: runtime.now,
        ...(input.profile?.instructions === undefined ? {} : { instructions: input.profile.instructions }),
        ...(deadline.signal ? { signal: deadline.signal } : {}),
      },
      input,
    );
    // Tokens by model for the dashboard and the daily budget alarm; a duplicate run's answer used none.
    if (answer.kind === 'answer') runtime.metrics().tokens(answer.model, answer.usage);
    return answer;
  },
);
