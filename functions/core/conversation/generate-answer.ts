import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { WebClient } from '@slack/web-api';
import type { Reach } from '../access/reach';
import type { FeedbackTarget } from '../ack/feedback';
import { streamAnswer } from '../chains/answer-chain';
import {
  answerSources,
  citedPassageNumbers,
  distinctSections,
  MAX_SOURCES,
  sectionOf,
} from '../chains/answer-sources';
import type { StreamMode } from '../config';
import { TransientError } from '../errors';
import { textsFor } from '../i18n';
import { modelNameOf } from '../llm/providers';
import {
  type AnswerStreamer,
  createNativeStreamer,
  createUpdateStreamer,
  type StreamProgress,
} from '../slack/answer-streamer';
import { findInThread } from '../slack/find-in-thread';
import { postOnceInThread } from '../slack/post-once';
import { removeStreams } from '../slack/remove-streams';
import { isSlackSource, withoutQuotedMessages } from '../slack/slack-search';
import { removeStrayPlaceholder } from '../slack/stray-placeholder';
import { clearThreadStatus, setThreadStatus } from '../slack/thread-status';
import type { EventStore } from '../stores/event-store';
import type { HistoryStore } from '../stores/history-store';
import type { AnswerResult, Passage, RetrievalResult, SourceRef, Turn } from '../types';

/** The reply when nothing is indexed, in English; worded for the person asking, not for an admin. */
export const NO_DOCUMENTS_TEXT = textsFor('en').noDocuments;

/** What an admin is told, in the logs, when someone asked and nothing is indexed. */
export const NO_DOCUMENTS_ADMIN_HINT =
  'A question was asked but the vector store holds no documents. Add documents (Markdown, text, PDF, Word, HTML) to the documents ' +
  'bucket and run the sync (locally: `npm run ingest -- <folder>`); see docs/documents.md, "Adding documents".';

export interface GenerateAnswerDependencies {
  slack: WebClient;
  /** Posts the answer's continuations: a client that never retries by itself (runtime.slackPoster()). */
  poster: WebClient;
  model: BaseChatModel;
  eventStore: EventStore;
  historyStore: HistoryStore;
  streamMode: StreamMode;
  logger: Logger;
  now(): number;
  /** The channel's operator instructions (`CHANNEL_PROFILES`), added to the system prompt in their own block. */
  instructions?: string;
  /**
   * The step's deadline (step-deadline.ts): the model call ends there, mid-stream too, the half answer stops being
   * edited, and the step fails with a TransientError, so that a retry or Report failure replaces it in time.
   */
  signal?: AbortSignal;
}

export interface GenerateAnswerInput {
  turn: Turn;
  question: string;
  retrieval: RetrievalResult;
  executionName: string;
  /** This run of the state machine (`States.UUID()` in its first state): a re-run of one execution name is another run. */
  runId: string;
  /** Continuations a previous attempt of this step already posted, to update rather than post again. */
  existingContinuationTs?: string[];
  /** What the asker may read (Load history's): when their user groups were unknown, the answer says so. */
  reach?: Reach;
}

const NO_USAGE = { inputTokens: 0, outputTokens: 0 };
const ALREADY_ANSWERED: AnswerResult = {
  kind: 'already-answered',
  text: '',
  sources: [],
  model: '',
  usage: NO_USAGE,
  messageTs: [],
};

/** The passages' distinct sections, best first, as the search's task card lists them. */
function sourcesOf(retrieval: RetrievalResult): SourceRef[] {
  return distinctSections(retrieval.passages, MAX_SOURCES);
}

/**
 * The sections the answer used (the passages it cites, none under a decline), each with the citation numbers
 * that point at it, so "[2]" in the answer can be found in the list under it.
 */
function usedSources(passages: Passage[], answerText: string): SourceRef[] {
  const cited = citedPassageNumbers(answerText);
  return answerSources(passages, answerText).map((source) => {
    const cites = cited.filter((n) => {
      const passage = passages[n - 1];
      if (passage === undefined) return false;
      const section = sectionOf(passage);
      return section.source === source.source && section.heading === source.heading;
    });
    return cites.length === 0 ? source : { ...source, cites };
  });
}

/** The metadata event type of an answer's continuation: names its event and this post, so a lost answer is found. */
const CONTINUATION_EVENT_TYPE = 'answer_continuation';
/** Messages per `conversations.replies` page, and pages read at most, when looking for a continuation. */
const CONTINUATION_PAGE_LIMIT = 100;
const CONTINUATION_MAX_PAGES = 5;

/**
 * Posts a continuation once (`postOnceInThread`), with `deps.poster`, which never retries by itself: a blind retry of
 * a post whose answer was lost would show part of the answer twice. A rate limit comes back as an error, which the
 * streamer waits out. The continuation names this post in its metadata, so the thread is read for it.
 */
async function postContinuationOnce(
  deps: GenerateAnswerDependencies,
  input: GenerateAnswerInput,
  args: Parameters<WebClient['chat']['postMessage']>[0],
): Promise<Awaited<ReturnType<WebClient['chat']['postMessage']>>> {
  const postId = randomUUID();
  const tagged = {
    ...args,
    metadata: {
      event_type: CONTINUATION_EVENT_TYPE,
      event_payload: { event_id: input.turn.eventId, post_id: postId },
    },
  } as Parameters<WebClient['chat']['postMessage']>[0];
  const { eventId } = input.turn;
  const { posted } = await postOnceInThread(
    () => deps.poster.chat.postMessage(tagged),
    async () => {
      const made = await findInThread(
        deps.slack,
        { channel: input.turn.channel, threadTs: input.turn.threadTs, oldest: input.turn.placeholderTs },
        (m) =>
          m.metadata?.event_type === CONTINUATION_EVENT_TYPE && m.metadata.event_payload?.post_id === postId,
        { pageLimit: CONTINUATION_PAGE_LIMIT, maxPages: CONTINUATION_MAX_PAGES },
      );
      if (made?.ts === undefined) return undefined;
      deps.logger.info('a continuation was posted though its answer did not arrive: using it', { eventId });
      return { ok: true, ts: made.ts };
    },
    (error) =>
      deps.logger.warn('could not tell whether a continuation was posted; posting it again', {
        eventId,
        error: String(error),
      }),
  );
  return posted;
}

/**
 * Slack as the streamer sees it, with every message it posts (a continuation: the answer itself goes into the
 * placeholder) posted once (`postContinuationOnce`) and recorded on the answer claim at once, so that a retry of this
 * step after a later failure updates it instead of posting it again. A retried Task gets the same input, so only the
 * store can carry this across.
 */
function recordingContinuations(deps: GenerateAnswerDependencies, input: GenerateAnswerInput): WebClient {
  const chat = Object.create(deps.slack.chat) as WebClient['chat'];
  chat.postMessage = (async (args: Parameters<WebClient['chat']['postMessage']>[0]) => {
    const posted = await postContinuationOnce(deps, input, args);
    if (posted.ts) await deps.eventStore.recordContinuation(input.turn.eventId, input.runId, posted.ts);
    return posted;
  }) as WebClient['chat']['postMessage'];
  chat.startStream = (async (args: Parameters<WebClient['chat']['startStream']>[0]) => {
    const started = await deps.slack.chat.startStream(args);
    if (started.ts) await deps.eventStore.recordStream(input.turn.eventId, input.runId, started.ts);
    return started;
  }) as WebClient['chat']['startStream'];
  return { chat } as WebClient;
}

/**
 * The stream mode of this answer: the configured one, unless native streaming failed in this workspace before
 * (remembered for a while), in which case the answer edits the placeholder from the start.
 */
async function streamModeFor(deps: GenerateAnswerDependencies, turn: Turn): Promise<StreamMode> {
  if (deps.streamMode !== 'native') return deps.streamMode;
  const remembered = await deps.eventStore
    .workspaceStreamFallback(turn.teamId, deps.now())
    .catch(() => undefined);
  return remembered === undefined ? 'native' : 'update';
}

/** The search's task card: what it found, with the sources' sections and links. */
function progressOf(input: GenerateAnswerInput): StreamProgress {
  const t = textsFor(input.turn.lang);
  const sections = sourcesOf(input.retrieval);
  return {
    searchTitle: t.taskSearch,
    searchOutput: t.taskSearchOutput(input.retrieval.passages.length),
    searchDetails: sections.map((s) => (s.heading ? `${s.title} › ${s.heading}` : s.title)).join('\n'),
    sources: sections
      .filter((s) => /^https?:\/\//i.test(s.url ?? s.source))
      .map((s) => ({ url: s.url ?? s.source, text: s.heading ? `${s.title} › ${s.heading}` : s.title })),
    writeTitle: t.taskWrite,
  };
}

function streamerFor(
  deps: GenerateAnswerDependencies,
  input: GenerateAnswerInput,
  continuationTs: string[],
  streamMode: StreamMode,
  /** Writes of the workspace's stream fallback, awaited before the step returns (a Lambda freezes after it). */
  pendingFallbacks: Promise<void>[],
): AnswerStreamer {
  const slack = recordingContinuations(deps, input);
  const options = {
    channel: input.turn.channel,
    threadTs: input.turn.threadTs,
    placeholderTs: input.turn.placeholderTs,
    existingContinuationTs: [...(input.existingContinuationTs ?? []), ...continuationTs],
    now: deps.now,
    logger: {
      warn: (message: string, attributes?: Record<string, unknown>) =>
        deps.logger.warn(message, attributes ?? {}),
    },
  };
  const { turn } = input;
  return streamMode === 'native'
    ? createNativeStreamer(slack, {
        ...options,
        recipientTeamId: turn.teamId,
        recipientUserId: turn.user,
        progress: progressOf(input),
        onFallback: (reason) => {
          if (!reason.permanent) return;
          deps.logger.warn('native streaming is not available in this workspace; using edits for a while', {
            teamId: turn.teamId,
            slackError: reason.slackError,
          });
          pendingFallbacks.push(
            deps.eventStore
              .recordWorkspaceStreamFallback(turn.teamId, reason.slackError ?? 'unknown', deps.now())
              .catch((error: unknown) => {
                deps.logger.warn('could not remember the stream fallback', { error: String(error) });
              }),
          );
        },
      })
    : createUpdateStreamer(slack, options);
}

/**
 * Generate and stream: the grounded answer streamed into the placeholder and finished as Block Kit with its
 * sources and the model's name. Only the first execution of an event answers (async Express executions run at
 * least once); a second one returns `already-answered` and touches nothing. With nothing indexed, the reply
 * says how to add documents, without a model call.
 */
export async function generateAnswer(
  deps: GenerateAnswerDependencies,
  input: GenerateAnswerInput,
): Promise<AnswerResult> {
  const { turn } = input;
  const claim = await deps.eventStore.claimAnswer(turn.eventId, input.runId, turn.placeholderTs, deps.now());
  if (!claim.granted) {
    deps.logger.info('another run answers this event', { eventId: turn.eventId });
    // A delivery that took over a stale claim may have posted a second placeholder: it must not stay "Typing...".
    if (claim.placeholderTs !== undefined && claim.placeholderTs !== turn.placeholderTs) {
      await deps.slack.chat
        .delete({ channel: turn.channel, ts: turn.placeholderTs })
        .catch((error: unknown) => {
          deps.logger.warn('could not delete the placeholder of a duplicate run', { error: String(error) });
        });
    }
    return ALREADY_ANSWERED;
  }
  // Slack can redeliver an event after its dedupe record expired; the thread's history still knows the answer.
  const answered = await deps.historyStore.getTurn(turn);
  if (answered) {
    if (!answered.answerTs.includes(turn.placeholderTs)) {
      await deps.slack.chat
        .delete({ channel: turn.channel, ts: turn.placeholderTs })
        .catch((error: unknown) => {
          deps.logger.warn('could not delete the placeholder of a redelivered event', {
            error: String(error),
          });
        });
    }
    deps.logger.info('this mention was answered before; redelivery ignored', { eventId: turn.eventId });
    return ALREADY_ANSWERED;
  }
  // Streams an earlier attempt of this run started (it crashed, or timed out, before finishing or failing): the
  // answer is given again from the start, so they go.
  await removeStreams(deps, turn, claim.streamTs);
  await removeStrayPlaceholder(deps, turn);
  const t = textsFor(turn.lang);
  if (input.retrieval.status === 'empty-index') {
    deps.logger.warn(NO_DOCUMENTS_ADMIN_HINT, { eventId: turn.eventId });
    await deps.slack.chat.update({
      channel: turn.channel,
      ts: turn.placeholderTs,
      text: t.noDocuments,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:open_file_folder: ${t.noDocuments}` } }],
    });
    await clearThreadStatus(deps, turn);
    await deps.eventStore.completeAnswer(turn.eventId, input.runId);
    return {
      kind: 'no-documents',
      text: t.noDocuments,
      sources: [],
      model: 'none',
      usage: NO_USAGE,
      messageTs: [turn.placeholderTs],
    };
  }
  const model = modelNameOf(deps.model);
  const slackTexts = input.retrieval.passages.filter(isSlackSource).map((p) => p.text);
  const pendingFallbacks: Promise<void>[] = [];
  let answer: { text: string; usage: AnswerResult['usage'] };
  let guardrailIntervened = false;
  let streamer: AnswerStreamer;
  if (claim.written !== undefined) {
    // An earlier attempt of this run finished the answer but Slack did not show it (its final edit was refused
    // for longer than the attempt lasted): show that answer, in the placeholder, without asking the model again.
    deps.logger.info('delivering the answer an earlier attempt wrote', { eventId: turn.eventId });
    answer = claim.written;
    streamer = streamerFor(deps, input, claim.continuationTs, 'update', pendingFallbacks);
  } else {
    const streamMode = await streamModeFor(deps, turn);
    streamer = streamerFor(deps, input, claim.continuationTs, streamMode, pendingFallbacks);
    await setThreadStatus(deps, turn, t.statusWriting);
    await streamer.begin();
    try {
      const written = await streamAnswer(
        deps.model,
        input.question,
        input.retrieval.passages,
        (delta) => streamer.append(delta),
        {
          ...(deps.signal ? { signal: deps.signal } : {}),
          ...(deps.instructions === undefined ? {} : { instructions: deps.instructions }),
        },
      );
      // A Bedrock Guardrail blocked the answer (bot:bedrockGuardrail): a policy, said politely in the asker's
      // language in place of the guardrail's own message, never the apology for a fault.
      answer = written.guardrailIntervened
        ? { text: t.guardrailBlocked, usage: written.usage }
        : { text: written.text, usage: written.usage };
      if (written.guardrailIntervened) {
        guardrailIntervened = true;
        deps.logger.info('a guardrail blocked the answer', { eventId: turn.eventId });
      }
    } catch (error) {
      // Stop editing so the half-written answer can be replaced by a retry or by the apology.
      await streamer.fail();
      if (deps.signal?.aborted) {
        throw new TransientError("the model did not finish the answer within the step's time", {
          cause: error,
        });
      }
      throw error;
    }
    // Kept before Slack is asked to show it: a retry then delivers it rather than writing it again. Not when it drew
    // on Slack messages (it may quote them, and messages read are never kept): a retry then writes it again.
    if (slackTexts.length === 0)
      await deps.eventStore.recordWrittenAnswer(turn.eventId, input.runId, answer).catch((error: unknown) => {
        deps.logger.warn('could not keep the written answer for a retry', { error: String(error) });
      });
  }
  const feedback: FeedbackTarget = {
    teamId: turn.teamId,
    channel: turn.channel,
    threadTs: turn.threadTs,
    messageTs: turn.messageTs,
    lang: turn.lang ?? 'en',
  };
  const sources = usedSources(input.retrieval.passages, answer.text);
  const notices = [
    ...(input.reach?.groupsUnknown ? [t.reachLimited] : []),
    ...(input.retrieval.slackSearch === 'unavailable' ? [t.slackSearchUnavailable] : []),
  ];
  const messageTs = await streamer.finish({
    answerMarkdown: answer.text,
    sources,
    model,
    lang: turn.lang,
    feedback,
    ...(notices.length > 0 ? { notice: notices.join('\n') } : {}),
  });
  await clearThreadStatus(deps, turn);
  await Promise.all(pendingFallbacks);
  await deps.eventStore.completeAnswer(turn.eventId, input.runId);
  // What the turn keeps (Persist turn stores this text): the answer without word-for-word quotations of the Slack
  // messages it drew on. Slack shows the answer as written.
  const kept = slackTexts.length === 0 ? answer.text : withoutQuotedMessages(answer.text, slackTexts);
  return {
    kind: 'answer',
    text: kept,
    sources,
    model,
    usage: answer.usage,
    messageTs,
    ...(guardrailIntervened ? { guardrailIntervened: true as const } : {}),
  };
}
