import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Embeddings } from '@langchain/core/embeddings';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { type AccessSettings, type Reach, reachFor, searchFilter } from '../../functions/core/access/reach';
import { streamAnswer } from '../../functions/core/chains/answer-chain';
import { answerSources, distinctSections, isDecline } from '../../functions/core/chains/answer-sources';
import { type ChannelProfile, parseChannelProfiles, profileFor } from '../../functions/core/channel-profiles';
import type { AppConfig, Env, LlmProvider } from '../../functions/core/config';
import { condense } from '../../functions/core/conversation/condense';
import { retrievePassages } from '../../functions/core/conversation/retrieve';
import {
  createChatModel,
  createEmbeddings,
  embeddingDimensionsOf,
  embeddingNameOf,
  modelNameOf,
} from '../../functions/core/llm/providers';
import { isMainlyJapanese } from '../../functions/core/llm/terms';
import type { Passage, RetrievalResult, SourceRef, TokenUsage } from '../../functions/core/types';
import {
  connectVectorStore,
  type LanceDbCloudAccess,
} from '../../functions/core/vector-store/connect-vector-store';
import {
  createDocumentTableReader,
  type DocumentTableReader,
} from '../../functions/core/vector-store/document-table-reader';
import { searchPassages } from '../../functions/core/vector-store/search-passages';
import { startLocalIngest } from '../local/ingest-local';
import { answerLanguageOf } from './answer-language';
import { type EvalQuestion, matchesExpected } from './dataset';
import { estimateTokens } from './prices';
import { needsReindex, type Variant } from './variants';

/** What one question did, step by step. */
export interface QuestionResult {
  id: string;
  question: string;
  /** The question retrieval ran with: the condensed one for a follow-up. */
  standalone: string;
  followUp: boolean;
  answerable: boolean;
  search: RetrievalResult['search'];
  /** The retrieved sections, best first (a section's chunks count once, at its best rank). */
  ranked: SourceRef[];
  /** The rank (from 1) of the first retrieved section the question expects; null when none was retrieved. */
  expectedRank: number | null;
  answer: string;
  declined: boolean;
  /** The sections listed under the answer (`answerSources`). */
  sources: SourceRef[];
  /** Whether an expected section is among the answer's sources. */
  citesExpected: boolean;
  /** How many of the answer's sources the question does not expect. */
  unexpectedSources: number;
  language: 'en' | 'ja';
  answerLanguage: 'en' | 'ja';
  ms: { condense: number; retrieve: number; answer: number; firstToken: number | null };
  tokens: { condense: TokenUsage; embed: number; answer: TokenUsage };
  passages: Passage[];
  error?: string;
}

/** The configuration one run evaluates: the product's, with a variant's changes. */
export interface RunSettings {
  name: string;
  llm: AppConfig['llm'];
  apiKey?: string;
  lancedbUri: string;
  /** LanceDB Cloud's key and host, when `lancedbUri` is `db://…`. */
  lancedbCloud?: LanceDbCloudAccess;
  table: string;
  topK: number;
  search: 'hybrid' | 'vector';
  systemPrompt?: string;
  /** A channel profile's operator instructions (`CHANNEL_PROFILES`), in their block before the passages. */
  instructions?: string;
  /** The configuration to re-index with, when the variant changes the chunking. */
  reindex?: { docs: string[]; env: Env };
  /**
   * Who may read what, for the questions that name their asker (`user`): the access settings, and each person's
   * user groups (undefined when no source could say: then only what is open to everyone, as the bot does).
   */
  access?: { settings: AccessSettings; groupsOf(user: string): ReadonlySet<string> | undefined };
}

export interface RunOutcome {
  settings: RunSettings;
  model: string;
  embeddingModel: string;
  results: QuestionResult[];
  /** Chunks indexed for this run when it re-indexed. */
  indexedChunks?: number;
}

export class EvalRunError extends Error {
  override name = 'EvalRunError';
}

/**
 * A variant's channel profile: its own, or the entry of the configured `CHANNEL_PROFILES` that a question in that
 * channel would get (`profileFor`, as Load history resolves it); `{}` without one.
 */
function profileOfVariant(variant: Variant, provider: LlmProvider, env: Env): ChannelProfile {
  if (variant.profile === undefined) return {};
  if (typeof variant.profile !== 'string') {
    const parsed = parseChannelProfiles({ '*': variant.profile }, provider);
    if (!parsed.ok) throw new EvalRunError(`variant "${variant.name}": profile ${parsed.problem}`);
    return variant.profile;
  }
  const configured = env.CHANNEL_PROFILES;
  if (configured === undefined || configured.trim() === '') {
    throw new EvalRunError(
      `variant "${variant.name}" names the profile of ${variant.profile}, but CHANNEL_PROFILES is not set`,
    );
  }
  const parsed = parseChannelProfiles(configured, provider);
  if (!parsed.ok) throw new EvalRunError(`CHANNEL_PROFILES: ${parsed.problem}`);
  const { entry, ...profile } = profileFor(parsed.value, variant.profile);
  if (entry === undefined) {
    throw new EvalRunError(
      `variant "${variant.name}": CHANNEL_PROFILES has no entry for ${variant.profile} (nor "*")`,
    );
  }
  return profile;
}

/** The settings of a variant over the base ones. */
export function settingsFor(
  base: RunSettings,
  variant: Variant | undefined,
  docs: string[],
  env: Env,
): RunSettings {
  if (variant === undefined) return base;
  const profile = profileOfVariant(variant, base.llm.provider, env);
  const model = variant.model ?? profile.model;
  if (
    model !== undefined &&
    base.llm.provider === 'local' &&
    model !== base.llm.chatModel &&
    !model.startsWith('local-')
  ) {
    throw new EvalRunError(
      `variant "${variant.name}" names the model ${model}, but the provider is the offline local one: set OPENAI_API_KEY (and LLM_PROVIDER=openai) to compare OpenAI models`,
    );
  }
  const settings: RunSettings = {
    ...base,
    name: variant.name,
    llm: model === undefined ? base.llm : { ...base.llm, chatModel: model },
    topK: variant.topK ?? profile.topK ?? base.topK,
    search: variant.search ?? base.search,
    systemPrompt: variant.promptText ?? base.systemPrompt,
    ...(profile.instructions === undefined ? {} : { instructions: profile.instructions }),
  };
  if (needsReindex(variant)) {
    const origins = variant.docs ?? docs;
    if (origins.length === 0) {
      throw new EvalRunError(
        `variant "${variant.name}" changes the chunking, so the documents must be indexed again: name them with --docs (or "docs" in the variant)`,
      );
    }
    settings.reindex = {
      docs: origins,
      env: {
        ...env,
        ...(variant.chunkSize === undefined ? {} : { INGEST_CHUNK_SIZE: String(variant.chunkSize) }),
        ...(variant.chunkOverlap === undefined ? {} : { INGEST_CHUNK_OVERLAP: String(variant.chunkOverlap) }),
      },
    };
  }
  return settings;
}

/**
 * Indexes documents into a fresh temporary LanceDB directory through the product's ingest workflow (the ingest
 * state machine on the local stack, as `npm run ingest` runs it), with the given configuration.
 */
export async function indexIntoTemporaryStore(
  docs: string[],
  env: Env,
): Promise<{ lancedbUri: string; chunks: number; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slack-rag-eval-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const lancedbUri = join(dir, 'lancedb');
  try {
    const ingest = await startLocalIngest({
      lancedbUri,
      stagingUri: join(dir, 'staging'),
      store: 'memory',
      env,
    });
    try {
      const result = await ingest.sync({ origins: docs, prune: true });
      if (result.status !== 'committed' || (result.report?.chunks ?? 0) === 0) {
        throw new EvalRunError(
          `indexing ${docs.join(', ')} failed: ${result.error ?? (result.report?.failed ?? []).map((f) => `${f.source}: ${f.reason}`).join('; ') ?? 'nothing indexed'}`,
        );
      }
      return { lancedbUri, chunks: result.report?.chunks ?? 0, remove };
    } finally {
      await ingest.close();
    }
  } catch (error) {
    await remove();
    throw error;
  }
}

function emptyUsage(): TokenUsage {
  return { inputTokens: 0, outputTokens: 0 };
}

/** Retrieve as the Retrieve step runs it (hybrid when the table has a full-text index), or vector only. */
async function retrieve(
  reader: DocumentTableReader,
  embeddings: Embeddings,
  question: string,
  settings: RunSettings,
  reach: Reach | undefined,
): Promise<RetrievalResult> {
  const options = {
    k: settings.topK,
    dimensions: embeddingDimensionsOf(embeddings),
    ...(reach === undefined ? {} : { reach }),
  };
  if (settings.search === 'hybrid') return retrievePassages(reader, embeddings, question, options);
  if (!(await reader.exists())) return { status: 'empty-index', search: 'none', passages: [] };
  const queryVector = await embeddings.embedQuery(question);
  const handle = await reader.open(queryVector.length);
  // Without query text the search is the vector half alone.
  return searchPassages(handle, {
    queryText: '',
    queryVector,
    k: settings.topK,
    ...searchFilter(reach),
  });
}

async function runQuestion(
  q: EvalQuestion,
  model: BaseChatModel,
  embeddings: Embeddings,
  reader: DocumentTableReader,
  settings: RunSettings,
): Promise<QuestionResult> {
  const language = q.language ?? (isMainlyJapanese(q.question) ? 'ja' : 'en');
  const result: QuestionResult = {
    id: q.id,
    question: q.question,
    standalone: q.question,
    followUp: q.thread.length > 0,
    answerable: q.sources.length > 0,
    search: 'none',
    ranked: [],
    expectedRank: null,
    answer: '',
    declined: true,
    sources: [],
    citesExpected: false,
    unexpectedSources: 0,
    language,
    answerLanguage: language,
    ms: { condense: 0, retrieve: 0, answer: 0, firstToken: null },
    tokens: { condense: emptyUsage(), embed: 0, answer: emptyUsage() },
    passages: [],
  };
  const expects = (section: SourceRef) => q.sources.some((expected) => matchesExpected(expected, section));

  let started = performance.now();
  if (q.thread.length > 0) {
    const standalone = await condense(
      model,
      { turnCount: Math.ceil(q.thread.length / 2), messages: q.thread },
      q.question,
    );
    result.standalone = standalone.question;
    result.tokens.condense = standalone.usage ?? emptyUsage();
  }
  result.ms.condense = performance.now() - started;

  started = performance.now();
  const reach =
    q.reach !== undefined
      ? q.reach
      : q.user === undefined
        ? undefined
        : reachFor(
            settings.access?.settings ?? {},
            { user: q.user, channel: q.channel ?? 'D' },
            settings.access === undefined ? new Set() : settings.access.groupsOf(q.user),
          );
  const retrieval = await retrieve(reader, embeddings, result.standalone, settings, reach);
  result.ms.retrieve = performance.now() - started;
  if (retrieval.status === 'empty-index') {
    throw new EvalRunError(
      `the vector store ${settings.lancedbUri} holds no documents: index some with npm run ingest, or pass --docs`,
    );
  }
  result.search = retrieval.search;
  result.passages = retrieval.passages;
  result.tokens.embed =
    retrieval.usage?.inputTokens ??
    (embeddingNameOf(embeddings).startsWith('local-') ? 0 : estimateTokens(result.standalone));
  result.ranked = distinctSections(retrieval.passages);
  const rank = result.ranked.findIndex(expects);
  result.expectedRank = rank === -1 ? null : rank + 1;

  started = performance.now();
  const answer = await streamAnswer(
    model,
    result.standalone,
    retrieval.passages,
    () => {
      result.ms.firstToken ??= performance.now() - started;
    },
    {
      ...(settings.systemPrompt === undefined ? {} : { systemPrompt: settings.systemPrompt }),
      ...(settings.instructions === undefined ? {} : { instructions: settings.instructions }),
    },
  );
  result.ms.answer = performance.now() - started;
  result.answer = answer.text;
  result.tokens.answer = answer.usage;
  result.declined = isDecline(answer.text);
  result.sources = answerSources(retrieval.passages, answer.text);
  result.citesExpected = result.sources.some(expects);
  result.unexpectedSources = result.sources.filter((s) => !expects(s)).length;
  result.answerLanguage = answerLanguageOf(answer.text);
  return result;
}

/**
 * Runs every question through the product's own steps (condense for a follow-up, retrieve, the answer chain) with
 * the run's settings, re-indexing first when they change the chunking. `onProgress` is told after each question.
 */
export async function runEval(
  questions: EvalQuestion[],
  settings: RunSettings,
  onProgress: (done: number, total: number, phase: string) => void = () => undefined,
): Promise<RunOutcome> {
  let temporary: Awaited<ReturnType<typeof indexIntoTemporaryStore>> | undefined;
  if (settings.reindex !== undefined) {
    onProgress(0, questions.length, `${settings.name}: indexing ${settings.reindex.docs.join(', ')}`);
    temporary = await indexIntoTemporaryStore(settings.reindex.docs, settings.reindex.env);
  }
  const lancedbUri = temporary?.lancedbUri ?? settings.lancedbUri;
  // Connecting would create an empty database where there is none.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(lancedbUri) && !existsSync(lancedbUri)) {
    throw new EvalRunError(
      `no documents are indexed in ${lancedbUri}: run npm run ingest -- <folder> first, or pass --docs <folder> to index into a temporary directory`,
    );
  }
  const model = createChatModel(settings.llm, settings.apiKey);
  const embeddings = createEmbeddings(settings.llm, settings.apiKey);
  const connection = await connectVectorStore(lancedbUri, {
    readConsistencySeconds: 0,
    ...(settings.lancedbCloud === undefined ? {} : { cloud: settings.lancedbCloud }),
  });
  try {
    const reader = createDocumentTableReader(connection, {
      table: settings.table,
      embedderName: embeddingNameOf(embeddings),
      embeddings,
    });
    if (!(await reader.exists())) {
      throw new EvalRunError(
        `no documents are indexed in ${lancedbUri} (table "${settings.table}"): run npm run ingest -- <folder> first, or pass --docs <folder> to index into a temporary directory`,
      );
    }
    const results: QuestionResult[] = [];
    try {
      for (const [i, q] of questions.entries()) {
        onProgress(i, questions.length, `${settings.name}: ${q.id}`);
        results.push(await runQuestion(q, model, embeddings, reader, { ...settings, lancedbUri }));
      }
    } finally {
      reader.forget();
    }
    onProgress(questions.length, questions.length, settings.name);
    return {
      settings,
      model: modelNameOf(model),
      embeddingModel: embeddingNameOf(embeddings),
      results,
      ...(temporary === undefined ? {} : { indexedChunks: temporary.chunks }),
    };
  } finally {
    connection.close();
    await temporary?.remove();
  }
}
