import type { WebClient } from '@slack/web-api';
import { textsFor } from '../i18n';
import type { AckDependencies } from './ack-dependencies';
import { quietly } from './quietly';

/** The agent pane's suggested prompts (at most 4), for a thread or, without `threadTs`, for the pane itself. */
export async function setSuggestedPrompts(
  deps: Pick<AckDependencies, 'suggestedPrompts' | 'logger'>,
  client: WebClient,
  channel: string,
  threadTs: string | undefined,
): Promise<void> {
  const prompts = (deps.suggestedPrompts ?? []).slice(0, 4);
  if (prompts.length === 0) return;
  await quietly(deps.logger, 'set the suggested prompts', () =>
    client.assistant.threads.setSuggestedPrompts({
      channel_id: channel,
      ...(threadTs === undefined ? {} : { thread_ts: threadTs }),
      title: textsFor('en').suggestedPromptsTitle,
      prompts: prompts.map((p) => ({ title: p.title, message: p.message })),
    } as Parameters<WebClient['assistant']['threads']['setSuggestedPrompts']>[0]),
  );
}
