import { connect, Index } from '@lancedb/lancedb';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { type DocumentTable, ensureIndexes } from '../../functions/core/vector-store/document-table';
import { watchProgress } from '../../functions/core/vector-store/index-watchdog';

/**
 * Run as a child process by `test/integration/index-build.test.ts` (`node --import tsx index-build-child.ts <dir>
 * <rows> <product|unsafe> <stallMs>`): writes `rows` rows of synthetic text and builds their full-text index with
 * the product's `ensureIndexes`, watchdog included, then prints one JSON line: what happened and how long it took.
 * `product` connects through `connectVectorStore`, which sizes LanceDB's threads; `unsafe` connects directly with a
 * pool of one thread, the configuration LanceDB picks by itself on a host with 2 CPUs, and builds a character n-gram
 * index (the product's tokenizer before it indexed words) under the product's watchdog: n-grams make enough postings
 * to fill the builder's queue, which then deadlocks. The product's word index of the same rows never fills it (up to
 * 60,000 rows tried), so it cannot show the watchdog at work.
 */
async function main() {
  const [dir = '', rowsArg = '0', mode = 'product', stallArg = '120000'] = process.argv.slice(2);
  if (mode === 'unsafe') {
    process.env.LANCE_CPU_THREADS = '1';
    process.env.LANCE_FTS_NUM_SHARDS = '1';
  }
  const connection = mode === 'unsafe' ? await connect(dir) : await connectVectorStore(dir);
  const table = await connection.createTable('documents', syntheticRows(Number(rowsArg)), {
    mode: 'overwrite',
  });
  // ensureIndexes reads only the table of its handle.
  const handle = { table } as unknown as DocumentTable;
  const started = performance.now();
  const watchdog = { stallMs: Number(stallArg), sampleMs: 250 };
  try {
    if (mode === 'unsafe') {
      await watchProgress(
        `Building the full-text index of ${rowsArg} rows`,
        () =>
          table.createIndex('text', {
            config: Index.fts({
              baseTokenizer: 'ngram',
              ngramMinLength: 2,
              ngramMaxLength: 3,
              withPosition: false,
            }),
          }),
        watchdog,
      );
      report({ ok: true, fullText: 'created', ms: performance.now() - started });
      process.exit(0);
    }
    const result = await ensureIndexes(handle, { vectorIndexMinRows: Number.POSITIVE_INFINITY, watchdog });
    report({ ok: true, fullText: result.fullText, ms: performance.now() - started });
  } catch (error) {
    const { name, message } = error as Error;
    report({ ok: false, name, message, ms: performance.now() - started });
  }
  process.exit(0);
}

function report(result: Record<string, unknown>): void {
  process.stdout.write(
    `${JSON.stringify({
      ...result,
      LANCE_CPU_THREADS: process.env.LANCE_CPU_THREADS,
      LANCE_FTS_NUM_SHARDS: process.env.LANCE_FTS_NUM_SHARDS,
    })}\n`,
  );
}

/** Rows of pseudo-random words from a fixed seed: thousands of distinct n-grams, as real prose has. */
function syntheticRows(count: number): Record<string, unknown>[] {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const word = () =>
    Array.from({ length: 3 + Math.floor(random() * 8) }, () => letters[Math.floor(random() * 26)]).join('');
  return Array.from({ length: count }, (_, i) => ({
    id: `row-${i}`,
    text: Array.from({ length: 80 }, word).join(' '),
    // ensureIndexes indexes the product table's collections too.
    collection: i % 2 === 0 ? 'docs' : 'wiki',
    vector: [random(), random(), random(), random()],
  }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
