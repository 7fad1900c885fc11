import type { Connection, Table } from '@lancedb/lancedb';
import { Embeddings } from '@langchain/core/embeddings';
import { DataType } from 'apache-arrow';
import { METADATA_KEYS } from '../vector-store/document-schema';
import type { EmbedderSignature } from '../vector-store/errors';

async function openIfExists(connection: Connection, tableName: string): Promise<Table | undefined> {
  if (!(await connection.tableNames()).includes(tableName)) return undefined;
  return connection.openTable(tableName);
}

/**
 * The embedder recorded with an existing table, read from its schema without judging it: Plan uses it to learn
 * a dimension its embedder does not announce, before `openDocumentTable` checks the table. `undefined` when
 * there is no table; fields the table lacks come back as `''` and `NaN`, which match no embedder.
 */
export async function storedEmbedder(
  connection: Connection,
  tableName: string,
): Promise<EmbedderSignature | undefined> {
  const table = await openIfExists(connection, tableName);
  if (table === undefined) return undefined;
  try {
    const schema = await table.schema();
    const vectorType = schema.fields.find((f) => f.name === 'vector')?.type;
    return {
      embedderName: schema.metadata.get(METADATA_KEYS.embedder) ?? '',
      dimensions: DataType.isFixedSizeList(vectorType) ? vectorType.listSize : Number.NaN,
    };
  } finally {
    table.close();
  }
}

/**
 * The sources of an existing table whatever embedder built it: what a rebuild, which replaces a table it may
 * not be able to open as a document table, reports as deleted when the origins no longer list them.
 */
export async function sourcesOfAnyTable(connection: Connection, tableName: string): Promise<Set<string>> {
  const sources = new Set<string>();
  const table = await openIfExists(connection, tableName);
  if (table === undefined) return sources;
  try {
    if (!(await table.schema()).fields.some((f) => f.name === 'source')) return sources;
    for await (const batch of table.query().select(['source'])) {
      const column = batch.getChild('source');
      for (let i = 0; i < batch.numRows; i++) sources.add(String(column?.get(i)));
    }
  } finally {
    table.close();
  }
  return sources;
}

/**
 * The embedder given to a document table that is opened to be written, never searched (Commit, Optimize): they
 * need the embedder's name and dimension, which the plan records, but not its client or its key.
 */
export class WriteOnlyEmbeddings extends Embeddings {
  constructor() {
    super({});
  }

  override async embedDocuments(): Promise<number[][]> {
    throw new Error('the ingest writer never embeds');
  }

  override async embedQuery(): Promise<number[]> {
    throw new Error('the ingest writer never embeds');
  }
}
