import { connect } from '@lancedb/lancedb';
import { loadConfig } from '../../functions/core/config';
import { WriteOnlyEmbeddings } from '../../functions/core/ingest/table-signature';
import { createEmbeddings } from '../../functions/core/llm/providers';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import { METADATA_KEYS } from '../../functions/core/vector-store/document-schema';
import {
  createDocumentTable,
  ensureIndexes,
  optimize,
  replaceSources,
} from '../../functions/core/vector-store/document-table';

/**
 * `tsx scripts/eval/context-headers.ts FROM_URI TO_URI`: copies the document table that `npm run ingest` built at
 * FROM_URI (each chunk embedded with its title and heading path before its text, the product's behaviour; the
 * full-text index is on the text alone) into a new table at TO_URI whose vectors are embedded again from each
 * chunk's text alone, with the configured embedder, then builds its indexes as the ingest does: the table as it
 * would be without contextual headers. Only for measuring what the header brings (eval/real-corpus/README.md);
 * the product has no such setting.
 */

const USAGE = 'usage: tsx scripts/eval/context-headers.ts FROM_URI TO_URI';
const TABLE = 'documents';

async function main(argv: string[]): Promise<void> {
  const [from, to] = argv;
  if (from === undefined || to === undefined || argv.length !== 2) {
    console.error(USAGE);
    process.exit(2);
  }
  const source = await (await connect(from)).openTable(TABLE);
  const schema = await source.schema();
  const embedderName = schema.metadata.get(METADATA_KEYS.embedder) ?? '';
  const dimensions = Number(schema.metadata.get(METADATA_KEYS.dimensions));
  const rows = (await source.query().toArray()).map(
    (r): DocumentRow => ({
      id: r.id,
      vector: [...r.vector],
      text: r.text,
      source: r.source,
      title: r.title,
      heading: r.heading,
      collection: r.collection ?? null,
      contentHash: r.contentHash,
      updatedAt: Number(r.updatedAt),
      pageStart: r.pageStart ?? null,
      pageEnd: r.pageEnd ?? null,
      url: r.url ?? null,
    }),
  );
  source.close();

  const embeddings = createEmbeddings(loadConfig(process.env).llm, process.env.OPENAI_API_KEY);
  const vectors = await embeddings.embedDocuments(rows.map((r) => r.text));
  rows.forEach((row, i) => {
    row.vector = vectors[i] ?? [];
  });

  const handle = await createDocumentTable(
    await connect(to),
    { table: TABLE, embeddings: new WriteOnlyEmbeddings(), embedderName, dimensions },
    { overwrite: true },
  );
  try {
    await replaceSources(handle, [...new Set(rows.map((r) => r.source))], rows);
    const indexes = await ensureIndexes(handle);
    await optimize(handle, { keepVersionsMs: 0 });
    console.log(`${to}: ${indexes.rows} chunks, embedded from their text alone`);
  } finally {
    handle.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
