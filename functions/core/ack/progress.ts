import type { WebClient } from '@slack/web-api';
import { textsFor } from '../i18n';
import type { Turn } from '../types';
import type { AckDependencies } from './ack-dependencies';
import { quietly } from './quietly';

/**
 * The thread's status while the workflow runs ("<bot> is searching the documents…"; Generate changes it, and the
 * answer or the apology clears it), and the title of a DM thread from its first question (the agent pane lists
 * conversations by title). After the execution started: neither can delay or fail the question.
 */
export async function showProgress(
  deps: Pick<AckDependencies, 'historyStore' | 'logger' | 'now'>,
  client: WebClient,
  turn: Turn,
): Promise<void> {
  const t = textsFor(turn.lang);
  await quietly(deps.logger, 'set the thread status', () =>
    client.assistant.threads.setStatus({
      channel_id: turn.channel,
      thread_ts: turn.threadTs,
      status: t.statusSearching,
      loading_messages: t.loadingMessages,
    }),
  );
  if (turn.via !== 'dm') return;
  const asked = await deps.historyStore
    .threadAsker(
      {
        teamId: turn.teamId,
        enterpriseId: turn.enterpriseId,
        channel: turn.channel,
        threadTs: turn.threadTs,
      },
      deps.now(),
    )
    .catch(() => 'unknown');
  if (asked !== undefined) return;
  await quietly(deps.logger, 'set the thread title', () =>
    client.assistant.threads.setTitle({
      channel_id: turn.channel,
      thread_ts: turn.threadTs,
      title: threadTitle(turn.question),
    }),
  );
}

/** A conversation's title: its first question, on one line, cut at a word near 60 characters. */
export function threadTitle(question: string): string {
  const line = question.replace(/\s+/g, ' ').trim();
  if (line.length <= 60) return line;
  const cut = line.slice(0, 60);
  const space = cut.lastIndexOf(' ');
  return `${(space > 30 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
