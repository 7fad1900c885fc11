import { conversationFunctions } from './conversation-functions';
import { accessLimited } from './core/access/asker-reach';
import { NO_COLLECTION, needsUserGroups, type Reach, reachFor } from './core/access/reach';
import { type AfterResponse, startAfterResponse } from './core/after-response';
import type { ResolvedProfile } from './core/channel-profiles';
import { retrievePassages, withSlackMessages } from './core/conversation/retrieve';
import { ConfigError } from './core/errors';
import { embeddingDimensionsOf, embeddingNameOf } from './core/llm/providers';
import { memoPer } from './core/memo';
import { embeddingsFor } from './core/models';
import type { Runtime } from './core/runtime';
import { searchSlackMessages } from './core/slack/slack-search';
import { untilAborted } from './core/step-deadline';
import { containerRuntime, defineStep, type StepInput } from './core/step-handler';
import {
  configuredStoreAccess,
  connectVectorStore,
  searchCacheSizes,
} from './core/vector-store/connect-vector-store';
import {
  createDocumentTableReader,
  type DocumentTableReader,
} from './core/vector-store/document-table-reader';

/** The most index bytes an on-demand container loads before its first question (what a 1,024-MB one's cache holds). */
export const ON_DEMAND_PREWARM_BYTES = 256 * 1024 * 1024;

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
  const prewarm = retrievePrewarm(process.env);
  const prewarmIndexBytes = preloadIndexBytes(process.env, cache.indexBytes);
  return createDocumentTableReader(connection, {
    table: runtime.config.vectorStore.table,
    embedderName: embeddingNameOf(embeddings),
    embeddings,
    // LanceDB Cloud holds the indexes in its own caches: nothing to load into this container.
    ...(runtime.config.vectorStore.cloud === undefined && prewarm !== 'off'
      ? {
          prewarmIndexBytes,
          prewarmWhen: prewarm,
          ...(afterResponse === undefined ? {} : { runBehind: (load) => afterResponse?.defer(load) }),
          onPrewarmError: (error: unknown) =>
            runtime.logger.warn(
              'loading the indexes behind the questions failed; the next version tries again',
              {
                error: error instanceof Error ? error.message : String(error),
              },
            ),
        }
      : {}),
  });
});

/**
 * The most index bytes a container loads ahead of the questions. An environment of provisioned concurrency loads
 * whatever its cache holds (its init may take 120 s: init.mjs). An on-demand one loads at most what its init can
 * load within its 8 s ({@link ON_DEMAND_PREWARM_BYTES}), so that a first question finding the load unfinished does
 * not outlive Retrieve's timeout: 80 MB took 3.4-3.8 s of init at 100,000 chunks, while at a million chunks a
 * 3,008-MB Retrieve loading its 750 MB left 16 s to the first question, past the 13-s timeout (docs/performance.md
 * section 17). Larger indexes are read as the questions need them, and stay in the cache. Nor are they loaded after
 * the answers (after-response.ts): at a million chunks with 3,008 MB, the 4.3 s left after the first answer loaded
 * 150 MB of the 691, and the rest, loading during the next question, made it miss the step's deadline
 * (docs/performance.md, "Loading after the answer").
 */
export function preloadIndexBytes(env: NodeJS.ProcessEnv, cacheIndexBytes: number): number {
  return isProvisionedEnvironment(env) ? cacheIndexBytes : Math.min(cacheIndexBytes, ON_DEMAND_PREWARM_BYTES);
}

/**
 * Whether Lambda initialised this environment for provisioned concurrency (`AWS_LAMBDA_INITIALIZATION_TYPE`), whose
 * init is not held to 10 s: the preload (above) and the init's wait for it (init.mjs) both depend on it.
 */
export function isProvisionedEnvironment(env: NodeJS.ProcessEnv): boolean {
  return env.AWS_LAMBDA_INITIALIZATION_TYPE === 'provisioned-concurrency';
}

/**
 * When Retrieve loads the table's indexes into memory (`RETRIEVE_PREWARM`): `before` the questions that need them
 * (a new container's first question waits for the whole load), `vector-first` (the first question waits for the
 * vector index and the full-text index's dictionary; the full-text posting lists load behind it), `behind` them (the
 * first question reads only what it needs, the rest loads meanwhile), or `off` (each question loads what it reads).
 *
 * Unset, an on-demand container loads `vector-first`: its first answer came 0.1-1.0 s sooner from 10,000 to 100,000
 * chunks (docs/performance.md, "The vector index first"), and in Lambda the posting lists load after that answer,
 * before the environment is frozen ({@link afterResponseWanted}; "Loading after the answer"); a full-text index of
 * 2 MB or less (about 5,000 chunks) loads with the others, as with `before`.
 * An environment of provisioned concurrency loads `before`: its init is not held to 10 s and ends before any
 * question, and a load left behind it would run only once a question thaws the environment.
 */
export function retrievePrewarm(env: NodeJS.ProcessEnv): 'before' | 'behind' | 'vector-first' | 'off' {
  const setting = env.RETRIEVE_PREWARM?.trim().toLowerCase();
  if (setting === undefined || setting === '')
    return isProvisionedEnvironment(env) ? 'before' : 'vector-first';
  if (setting === 'before' || setting === 'behind' || setting === 'vector-first' || setting === 'off')
    return setting;
  throw new ConfigError(
    `RETRIEVE_PREWARM must be before, vector-first, behind or off; got "${env.RETRIEVE_PREWARM}"`,
  );
}

/** A container's preload: `started` once the table's opening is under way (or known not to be needed), `done` at its end. */
interface Preload {
  started: Promise<void>;
  done: Promise<void>;
  /** What the preload failed with: a question that joined its opening gets this same error, and opens once more. */
  error?: unknown;
}

const preloads = new WeakMap<Runtime, Preload>();

/**
 * Opens the document table for `runtime` as its first question would (the connection, the table, its schema
 * checked, its indexes loaded into LanceDB's cache), once: a second call returns the same promise. It never rejects:
 * a failure is logged, and the first question opens the table again, reporting the error itself if it fails again.
 * Nothing is opened when the embedder's dimension is unknown before a call (the open needs it) or no table exists.
 */
export function preloadTable(runtime: Runtime): Promise<void> {
  let preload = preloads.get(runtime);
  if (preload === undefined) {
    let markStarted = () => {};
    const started = new Promise<void>((resolve) => {
      markStarted = resolve;
    });
    const state: Preload = { started, done: Promise.resolve() };
    state.done = (async () => {
      const reader = await readerFor(runtime);
      const dimensions = embeddingDimensionsOf(await embeddingsFor(runtime));
      if (dimensions === undefined) return;
      // Opened at once, without asking whether the table exists (\`exists()\` lists the store's tables): a missing
      // table is found by the open itself, which then lists them once and leaves nothing open.
      const opening = reader.open(dimensions);
      markStarted();
      await opening;
    })()
      .catch((error: unknown) => {
        state.error = error;
        runtime.logger.warn('preloading the document table failed; the first question opens it again', {
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(markStarted);
    preload = state;
    preloads.set(runtime, preload);
  }
  return preload.done;
}

/**
 * Whether this module starts {@link preloadTable} when it loads: in Lambda (`AWS_LAMBDA_FUNCTION_NAME`), unless
 * `RETRIEVE_PRELOAD=0`; `RETRIEVE_PRELOAD=1` turns it on elsewhere (a bench's fresh process).
 */
export function preloadAtLoad(env: NodeJS.ProcessEnv): boolean {
  const setting = env.RETRIEVE_PRELOAD?.trim().toLowerCase();
  if (setting === '0' || setting === 'false') return false;
  if (setting === '1' || setting === 'true') return true;
  return env.AWS_LAMBDA_FUNCTION_NAME !== undefined;
}

/**
 * Whether this module registers the extension that runs the loads behind the questions after each answer
 * (after-response.ts): in Lambda (its Runtime API set, `AWS_LAMBDA_RUNTIME_API`) with the table preloaded at load, when
 * something may load behind the questions (`RETRIEVE_PREWARM` `vector-first` or `behind`), from S3 (LanceDB Cloud
 * loads nothing here). Without it, such a load runs while the next questions do, frozen between them.
 */
export function afterResponseWanted(env: NodeJS.ProcessEnv, runtime: () => Runtime): boolean {
  if (env.AWS_LAMBDA_RUNTIME_API === undefined || env.AWS_LAMBDA_RUNTIME_API === '' || !preloadAtLoad(env))
    return false;
  try {
    const when = retrievePrewarm(env);
    return (when === 'vector-first' || when === 'behind') && runtime().config.vectorStore.cloud === undefined;
  } catch {
    // A bad configuration: reported by the first invocation.
    return false;
  }
}

// Registered before the preload starts, so that a load it leaves behind is deferred to the first answer.
const afterResponse: AfterResponse | undefined = afterResponseWanted(process.env, containerRuntime)
  ? startAfterResponse({
      runtimeApi: process.env.AWS_LAMBDA_RUNTIME_API,
      onError: (message, error) =>
        containerRuntime().logger.warn(message, {
          error: error instanceof Error ? error.message : String(error),
        }),
    })
  : undefined;

/** The extension's registration, for the init to wait for (Lambda takes none after it); undefined: none. */
export function initAfterResponse(): Promise<boolean> | undefined {
  return afterResponse?.registered;
}

// The bundle is CommonJS (infra/lambda-bundling.ts), so there is no top-level await here: the preload starts at
// module load, and Lambda's handler, functions/retrieve-init.mjs (an ES module beside the bundle), makes the init
// wait for it (`initPreload`), at the init's full vCPU and within its time. A first invocation that comes while it
// still runs waits for this same promise (its reader is memoised per runtime) instead of opening the table itself. A
// bad configuration is not thrown from here, which would fail the init: the invocation reads it again and reports it.
let preloadAtInit: Promise<void> | undefined;
if (preloadAtLoad(process.env)) {
  try {
    preloadAtInit = preloadTable(containerRuntime());
  } catch {
    // Reported by the first invocation, which builds the runtime again.
  }
}

/** The preload this module started when it loaded (undefined: none), for an init that waits for it. Never rejects. */
export function initPreload(): Promise<void> | undefined {
  return preloadAtInit;
}

/**
 * Retrieve: the passages that best answer the standalone question, among the documents the asker may read here
 * (the reach Load history worked out; without one, what is open to everyone: never more).
 */
const retrieveStep = defineStep(
  'Retrieve',
  async (
    runtime,
    input: StepInput & {
      question: string;
      reach?: Reach;
      profile?: ResolvedProfile;
      tableVersion?: number | null;
      tableVersionBeforeFold?: number | null;
    },
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
    // The container's preload (the first question only: later it is settled), within this step's time: once its
    // opening of the table is under way, this question shares it (the reader is one per runtime) while it embeds.
    const preload = preloads.get(runtime);
    if (preload !== undefined)
      await untilAborted(preload.started, deadline.signal, "the document table's preload");
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
    const search = async () =>
      untilAborted(
        retrievePassages(await readerFor(runtime), embeddings, input.question, {
          k,
          dimensions: embeddingDimensionsOf(embeddings),
          // Access control: the asker's reach, filtered inside the query itself.
          ...(reach === undefined ? {} : { reach }),
          withCollection: limited,
          // The version the ingest recorded (Load history read it): no LIST for the latest. LanceDB Cloud serves
          // its latest itself.
          ...(typeof input.tableVersion === 'number' && config.vectorStore.cloud === undefined
            ? { tableVersion: input.tableVersion }
            : {}),
          // The same rows before Optimize folded them in: answered from while the fold's indexes load after it.
          ...(typeof input.tableVersion === 'number' &&
          typeof input.tableVersionBeforeFold === 'number' &&
          config.vectorStore.cloud === undefined
            ? { tableVersionBeforeFold: input.tableVersionBeforeFold }
            : {}),
        }),
        deadline.signal,
        'the search',
      );
    let result: Awaited<ReturnType<typeof search>>;
    try {
      result = await search();
    } catch (error) {
      // This question joined the preload's opening, which failed: the reader has dropped it, so open again, once.
      if (preload === undefined || preload.error === undefined || error !== preload.error) throw error;
      preload.error = undefined;
      result = await search();
    }
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

export const { createHandler } = retrieveStep;

/** Lambda's handler: Retrieve, which then tells the extension (if any) that this invocation's answer is out. */
export const handler: typeof retrieveStep.handler = async (input, context) => {
  try {
    return await retrieveStep.handler(input, context);
  } finally {
    afterResponse?.answered(context?.awsRequestId);
  }
};
