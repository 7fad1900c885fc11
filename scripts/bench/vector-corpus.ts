import type { Connection } from '@lancedb/lancedb';
import {
  type FixedSizeList,
  Float32,
  Int32,
  makeData,
  makeVector,
  RecordBatch,
  Struct,
  Table,
  TimestampMillisecond,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { documentSchema } from '../../functions/core/vector-store/document-schema';
import { createDocumentTable, type DocumentTable } from '../../functions/core/vector-store/document-table';
import { gaussian, seededRandom } from './stats';

/**
 * A synthetic chunk corpus the size of a real one: unit vectors of OpenAI's 1,536 dimensions drawn from a
 * Gaussian mixture (clusters, so that an approximate index has structure to exploit, as real embeddings do),
 * and for each chunk a short text in its cluster's made-up vocabulary, so that full-text search has terms to
 * match. Deterministic: the same seed gives the same corpus on every machine, and the first n chunks of a
 * larger corpus are the corpus of n chunks.
 */

export const DIMENSIONS = 1536;
/** The table's embedder: the `local` provider at 1,536 dimensions, so the Retrieve handler can open it. */
export const EMBEDDER_NAME = 'local-hash-1536';
export const CLUSTERS = 1000;
/** The spread of a chunk around its cluster's centre: chunks of one cluster have a cosine of about 0.5. */
const NOISE = 1;
const TERMS_PER_CLUSTER = 12;
const WORDS_PER_CHUNK = 60;

export interface VectorCorpus {
  size: number;
  /** `size` × DIMENSIONS, row-major, each row of unit length. */
  vectors: Float32Array;
  texts: string[];
  /** Draws query vectors (and their query text) from the same mixture, not from the corpus. */
  queries(count: number, seed: number): { vectors: Float32Array[]; texts: string[] };
}

function syllableWord(random: () => number): string {
  const consonants = 'bdfghklmnprstvz';
  const vowels = 'aeiou';
  let word = '';
  const syllables = 2 + Math.floor(random() * 2);
  for (let i = 0; i < syllables; i++) {
    word += consonants[Math.floor(random() * consonants.length)];
    word += vowels[Math.floor(random() * vowels.length)];
  }
  return word;
}

function normalise(row: Float32Array): void {
  let norm = 0;
  for (let d = 0; d < row.length; d++) norm += (row[d] as number) ** 2;
  const scale = 1 / Math.sqrt(norm);
  for (let d = 0; d < row.length; d++) row[d] = (row[d] as number) * scale;
}

export function generateCorpus(size: number, seed = 42): VectorCorpus {
  const random = seededRandom(seed);
  const words = seededRandom(seed + 1);
  const centroids = new Float32Array(CLUSTERS * DIMENSIONS);
  for (let i = 0; i < centroids.length; i++) centroids[i] = gaussian(random);
  const common = Array.from({ length: 200 }, () => syllableWord(words));
  const clusterTerms = Array.from({ length: CLUSTERS }, () =>
    Array.from({ length: TERMS_PER_CLUSTER }, () => syllableWord(words)),
  );

  const sample = (cluster: number, into: Float32Array) => {
    for (let d = 0; d < DIMENSIONS; d++) {
      into[d] = (centroids[cluster * DIMENSIONS + d] as number) + NOISE * gaussian(random);
    }
    normalise(into);
  };
  const sentence = (cluster: number, length: number, from: () => number) => {
    const terms = clusterTerms[cluster] as string[];
    return Array.from({ length }, () =>
      from() < 0.3
        ? (terms[Math.floor(from() * terms.length)] as string)
        : (common[Math.floor(from() * common.length)] as string),
    ).join(' ');
  };

  const vectors = new Float32Array(size * DIMENSIONS);
  const texts: string[] = [];
  for (let row = 0; row < size; row++) {
    const cluster = Math.floor(random() * CLUSTERS);
    sample(cluster, vectors.subarray(row * DIMENSIONS, (row + 1) * DIMENSIONS));
    texts.push(sentence(cluster, WORDS_PER_CHUNK, words));
  }
  return {
    size,
    vectors,
    texts,
    queries(count, querySeed) {
      const draw = seededRandom(querySeed);
      const out: Float32Array[] = [];
      const queryTexts: string[] = [];
      for (let i = 0; i < count; i++) {
        const cluster = Math.floor(draw() * CLUSTERS);
        const vector = new Float32Array(DIMENSIONS);
        for (let d = 0; d < DIMENSIONS; d++) {
          vector[d] = (centroids[cluster * DIMENSIONS + d] as number) + NOISE * gaussian(draw);
        }
        normalise(vector);
        out.push(vector);
        const terms = clusterTerms[cluster] as string[];
        queryTexts.push(`${terms[0]} ${terms[1]} ${terms[2]}`);
      }
      return { vectors: out, texts: queryTexts };
    },
  };
}

/** The id of the chunk in row `row`, also its source (one chunk per source keeps the mapping obvious). */
export const chunkId = (row: number) => `chunk-${String(row).padStart(6, '0')}`;

const BATCH_ROWS = 10_000;

/**
 * Creates a document table (the product's schema and embedder metadata, `createDocumentTable`) holding the
 * first `rows` chunks of the corpus, written as Arrow batches of 10,000 rows. With `collections`, the chunks belong
 * to them in turn, a hundred at a time ({@link collectionOf}); otherwise to none.
 */
export async function writeCorpusTable(
  connection: Connection,
  name: string,
  corpus: VectorCorpus,
  rows: number,
  { collections = [] }: { collections?: readonly string[] } = {},
): Promise<DocumentTable> {
  const spec = { embedderName: EMBEDDER_NAME, dimensions: DIMENSIONS };
  const handle = await createDocumentTable(
    connection,
    { table: name, ...spec, embeddings: new LocalHashEmbeddings({ dimensions: DIMENSIONS }) },
    { overwrite: true },
  );
  const schema = documentSchema(spec);
  const vectorType = schema.fields.find((f) => f.name === 'vector')?.type as FixedSizeList;
  const now = Date.now();
  for (let start = 0; start < rows; start += BATCH_ROWS) {
    const n = Math.min(rows, start + BATCH_ROWS) - start;
    const ids = Array.from({ length: n }, (_, i) => chunkId(start + i));
    const values = makeData({
      type: new Float32(),
      length: n * DIMENSIONS,
      nullCount: 0,
      data: corpus.vectors.subarray(start * DIMENSIONS, (start + n) * DIMENSIONS),
    });
    const columns: Record<string, Vector> = {
      id: vectorFromArray(ids, new Utf8()),
      vector: makeVector(makeData({ type: vectorType, length: n, nullCount: 0, child: values })),
      text: vectorFromArray(corpus.texts.slice(start, start + n), new Utf8()),
      source: vectorFromArray(
        ids.map((id) => `bench/${id}.md`),
        new Utf8(),
      ),
      title: vectorFromArray(
        ids.map((id) => `Document ${id}`),
        new Utf8(),
      ),
      heading: vectorFromArray(
        ids.map(() => 'Section'),
        new Utf8(),
      ),
      collection: vectorFromArray(
        ids.map((_, i) => (collections.length === 0 ? null : collectionOf(start + i, collections))),
        new Utf8(),
      ),
      contentHash: vectorFromArray(
        ids.map(() => 'bench'),
        new Utf8(),
      ),
      updatedAt: vectorFromArray(
        ids.map(() => now),
        new TimestampMillisecond(),
      ),
      // Where a passage sits (a PDF's pages, a web page's link): none for the bench's Markdown-like chunks.
      pageStart: vectorFromArray(
        ids.map(() => null),
        new Int32(),
      ),
      pageEnd: vectorFromArray(
        ids.map(() => null),
        new Int32(),
      ),
      url: vectorFromArray(
        ids.map(() => null),
        new Utf8(),
      ),
    };
    const children = schema.fields.map((field) => {
      const column = columns[field.name];
      if (column === undefined) throw new Error(`no column ${field.name} for the bench table`);
      return column.data[0] as never;
    });
    const batch = new RecordBatch(
      schema,
      makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }),
    );
    // LanceDB takes an Arrow table; its type comes from its own copy of apache-arrow's typings.
    await handle.table.add(new Table([batch]) as never);
  }
  return handle;
}

/** The collection of the chunk in row `row` when the table was written with `collections`. */
export function collectionOf(row: number, collections: readonly string[]): string {
  return collections[Math.floor(row / 100) % collections.length] as string;
}

/** The exact top `k` rows by cosine (dot product of unit vectors), by brute force over the Float32Array. */
export function bruteForceTopK(corpus: VectorCorpus, rows: number, query: Float32Array, k: number): number[] {
  const best: { row: number; score: number }[] = [];
  const { vectors } = corpus;
  for (let row = 0; row < rows; row++) {
    const offset = row * DIMENSIONS;
    let score = 0;
    for (let d = 0; d < DIMENSIONS; d++) score += (vectors[offset + d] as number) * (query[d] as number);
    if (best.length < k || score > (best[best.length - 1] as { score: number }).score) {
      let i = best.length < k ? best.length : k - 1;
      if (best.length < k) best.push({ row, score });
      while (i > 0 && (best[i - 1] as { score: number }).score < score) {
        best[i] = best[i - 1] as { row: number; score: number };
        i--;
      }
      best[i] = { row, score };
    }
  }
  return best.map((b) => b.row);
}
