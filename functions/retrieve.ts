import { conversationFunctions } from './conversation-functions';
import { accessLimited } from './core/access/asker-reach';
import { NO_COLLECTION, needsUserGroups, type Reach, reachFor } from './core/access/reach';
import type { ResolvedProfile } from './core/channel-profiles';
import { retrievePassages, withSlackMessages } from './core/conversation/retrieve';
import { embeddingDimensionsOf, embeddingNameOf } from './core/llm/providers';
import { memoPer } from './core/memo';
import { embeddingsFor } from './core/models';
import type { Runtime } from './core/runtime';
import { searchSlackMessages } from './core/slack/slack-search';
import { untilAborted } from './core/step-deadline';
import { defineStep, type StepInput } from './core/step-handler';
import {
  configuredStoreAccess,
  connectVectorStore,
  searchCacheSizes,
} from './core/vector-store/connect-vector-store';
import {
  createDocumentTableReader,
  type DocumentTableReader,
} from './core/vector-store/document-table-reader';

// Only this function (and the ingest writer) loads LanceDB's native module. The connection and the open table live
// as long as the warm container (one runtime): LanceDB's caches, sized for this function's memory, keep the indexes
// between questions, and the table follows new versions within the connection's read-consistency interval.
const readerFor = memoPer(async (runtime: Runtime): Promise<DocumentTableReader> => {
  // Lambda states the function's memory; the registry's size stands in for it in a local stack.
  const memoryMb =
    Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || conversationFunctions.RetrieveFunctionArn.memoryMb;
  const cache = searchCacheSizes(memoryMb);
  const connection = await connectVectorStore(runtime.config.vectorStore.uri, {
    ...(await configuredStoreAccess(runtime.config, runtime.secrets)),
    readConsistencySeconds: runtime.config.vectorStore.readConsistencySeconds,
    cache,
  });
  const embeddings = await embeddingsFor(runtime);
  return createDocumentTableReader(connection, {
    table: runtime.config.vectorStore.table,
    embedderName: embeddingNameOf(embeddings),
    embeddings,
    // LanceDB Cloud holds the indexes in its own caches: nothing to load into this container.
    ...(runtime.config.vectorStore.cloud === undefined ? { prewarmIndexBytes: cache.indexBytes } : {}),
  });
});

/**
 * Retrieve: the passages that best answer the standalone question, among the documents the asker may read here
 * (the reach Load history worked out; without one, what is open to everyone: never more).
 */
export const { createHandler, handler } = defineStep(
  'Retrieve',
  async (
    runtime,
    input: StepInput & { question: string; reach?: Reach; profile?: ResolvedProfile },
    deadline,
  ) => {
    const { config } = runtime;
    // The place's profile (Load history resolved it) may ask for more or fewer passages.
    const k = input.profile?.topK ?? config.vectorStore.topK;
    const limited = accessLimited(config.access);
    const reach = !limited
      ? undefined
      : (input.reach ??
        reachFor(config.access, input.turn, needsUserGroups(config.access) ? undefined : new Set<string>()));
    const embeddings = await embeddingsFor(runtime);
    // Slack's Real-time Search (SLACK_SEARCH), alongside the documents: only with the token of the asker's own
    // event, so Slack answers with what they can see. Its failure is an outcome (the documents alone answer).
    const token = config.slack.search ? input.turn.actionToken : undefined;
    const slackSearch = !config.slack.search
      ? undefined
      : token === undefined
        ? Promise.resolve({ status: 'unavailable' as const, reason: 'no action_token in the event' })
        : runtime
            .slackClient()
            .then((client) =>
              searchSlackMessages(client, input.question, token, { scope: input.turn.slackSearchScope }),
            )
            .catch(() => ({ status: 'unavailable' as const, reason: 'no Slack client' }));
    // A hung embedding call or search ends at the step's deadline, retryably; it has no side effect to undo.
    const result = await untilAborted(
      retrievePassages(await readerFor(runtime), embeddings, input.question, {
        k,
        dimensions: embeddingDimensionsOf(embeddings),
        // Access control: the asker's reach, filtered inside the query itself.
        ...(reach === undefined ? {} : { reach }),
        withCollection: limited,
      }),
      deadline.signal,
      'the search',
    );
    // What the answer draws on, for the turn's record (Persist turn names this field: it is always there).
    const collections = limited
      ? [...new Set(result.passages.map((p) => p.collection ?? NO_COLLECTION))].sort()
      : null;
    const documents = {
      ...result,
      passages: result.passages.map(({ collection: _, ...p }) => p),
      collections,
    };
    if (slackSearch === undefined) return documents;
    const slack = await slackSearch;
    if (slack.status === 'unavailable') {
      // Slack's error code only: never the token, the question or any message.
      runtime.logger.warn('Slack search unavailable; answering from the documents alone', {
        reason: slack.reason,
      });
    }
    return withSlackMessages(documents, slack, k);
  },
);
