import type { Connection } from '@lancedb/lancedb';
import { collectionsForChannel } from './core/config';
import { retrievePassages } from './core/conversation/retrieve';
import { embeddingNameOf } from './core/llm/providers';
import { memoPer } from './core/memo';
import { embeddingsFor } from './core/models';
import type { Runtime } from './core/runtime';
import { defineStep, type StepInput } from './core/step-handler';
import { connectVectorStore } from './core/vector-store/connect-vector-store';

// Only this function (and the ingest writer) loads LanceDB's native module. The connection lives as long as the
// warm container (one runtime) and notices new table versions within its read-consistency interval.
const connectionFor = memoPer(
  (runtime: Runtime): Promise<Connection> =>
    connectVectorStore(runtime.config.vectorStore.uri, {
      region: runtime.config.region,
      s3Endpoint: runtime.config.endpoints.s3,
    }),
);

/** Retrieve: the passages that best answer the standalone question. */
export const { createHandler, handler } = defineStep(
  'Retrieve',
  async (runtime, input: StepInput & { question: string }) => {
    const { config } = runtime;
    const embeddings = await embeddingsFor(runtime);
    return retrievePassages(await connectionFor(runtime), embeddings, input.question, {
      table: config.vectorStore.table,
      embedderName: embeddingNameOf(embeddings),
      k: config.vectorStore.topK,
      // Access control: the channel's collections, filtered inside the query itself.
      collections: collectionsForChannel(config.access, input.turn.channel),
    });
  },
);
