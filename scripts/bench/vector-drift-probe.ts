/**
 * Probe (issue 23, point 3): how far can a vector index trained at one size be kept fresh by Optimize alone (new
 * rows folded in as deltas, centroids never retrained) before its recall drops? Not a bench section yet.
 *
 * A table of real text (real-corpus.ts, split by the product's splitter, embedded by LocalHashEmbeddings at 1,536
 * dimensions) is written to BASE chunks from one family of sources (the Markdown of node_modules) and indexed with
 * the product's `ensureIndexes`. Then syncs each add GROWTH (a share of the current size) of chunks from other
 * sources (the READMEs of /usr/share/doc and man pages: new vocabulary and topics, never copies of the base) and
 * run only the product's `optimize`, up to TARGET chunks. After each sync, for each rows-per-partition setting:
 * - recall@10 of the product's vector search (`searchPassages`, its refine factor and LanceDB's default probes)
 *   against exact search (`bypassVectorIndex`), for questions drawn from the base documents and from the new ones;
 * - the vector index's segments (numIndices), indexed rows and bytes, and Optimize's time;
 * - the same for a fresh index trained at that size (a copy of the table, its vector index dropped and rebuilt by
 *   `ensureIndexes` in a child process, whose time and peak memory are those of a retrain).
 *
 * MODE=deltas instead writes BASE chunks (a document a commit: slow), trains the index, then runs SYNCS syncs of
 * ROWS_PER_SYNC new chunks each followed by `optimize`, and every MEASURE_EVERY syncs counts the index's segments and
 * what a search reads (a new connection's first and warm ones, from LanceDB's plan); last, the same on a copy
 * retrained at that size.
 *
 * Run: LANCE_CPU_THREADS=2 LANCE_FTS_NUM_SHARDS=1 npx tsx scripts/bench/vector-drift-probe.ts (without the two
 * LANCE_ settings the full-text build can deadlock, lancedb/lancedb#3568; LANCE_INCLUDE_VECTOR_CENTROIDS=false
 * silences a warning of indexStats). The figures in docs/performance.md ("When the vector index is retrained") come
 * from GROWTH=0.2 QUESTIONS=40, and MODE=deltas SYNCS=40 ROWS_PER_SYNC=50 MEASURE_EVERY=10 QUESTIONS=21.
 * Settings: BASE (10000), TARGET (40000), GROWTH (0.15), RPP (rows per partition, comma-separated: 10000,250),
 * QUESTIONS (per group, 50), MAN_PAGES (150), DIR (/tmp/drift), OUT (DIR/results.json); MODE=deltas: SYNCS (30),
 * ROWS_PER_SYNC (20), MEASURE_EVERY (10).
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { connect, type Table } from '@lancedb/lancedb';
import { loadDocument } from '../../functions/core/ingest/load-document';
import { type DocumentChunk, splitDocument } from '../../functions/core/ingest/split-document';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import {
  createDocumentTable,
  type DocumentTable,
  ensureIndexes,
  openDocumentTable,
  optimize,
  replaceSources,
  VECTOR_INDEX,
} from '../../functions/core/vector-store/document-table';
import { REFINE_CANDIDATES, searchPassages } from '../../functions/core/vector-store/search-passages';
import { type CorpusDocument, collectSources, corpusDocuments, personQuestions } from './real-corpus';

const DIM = 1536;
const EMBEDDER = 'local-hash-1536';
const K = 10;
const BASE = Number(process.env.BASE ?? 10_000);
const TARGET = Number(process.env.TARGET ?? 40_000);
const GROWTH = Number(process.env.GROWTH ?? 0.15);
const RPP = (process.env.RPP ?? '10000,250').split(',').map(Number);
const QUESTIONS = Number(process.env.QUESTIONS ?? 50);
const MAN_PAGES = Number(process.env.MAN_PAGES ?? 150);
const DIR = process.env.DIR ?? '/tmp/drift';
const OUT = process.env.OUT ?? join(DIR, 'results.json');

const embeddings = new LocalHashEmbeddings({ dimensions: DIM });
const spec = (table: string) => ({ table, embeddings, embedderName: EMBEDDER, dimensions: DIM });
const load = () => loadavg()[0]?.toFixed(2) ?? '?';
const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;

/** Peak and current resident memory of this process, in MB, from /proc (maxRSS survives exec on Linux). */
async function memory(): Promise<{ peakMb: number; rssMb: number }> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s*(\\d+)`).exec(status)?.[1] ?? 0);
  return { peakMb: Math.round(kb('VmHWM') / 1024), rssMb: Math.round(kb('VmRSS') / 1024) };
}

/** The child: a fresh vector index on a copy of the table, by the product's ensureIndexes. Prints one JSON line. */
async function retrainChild(dir: string, table: string, rowsPerPartition: number) {
  const conn = await connect(dir);
  const handle = await openDocumentTable(conn, spec(table));
  if (handle === undefined) throw new Error(`no table ${table} in ${dir}`);
  for (const i of await handle.table.listIndices())
    if (i.columns.includes('vector')) await handle.table.dropIndex(i.name);
  const before = await memory();
  const started = performance.now();
  const result = await ensureIndexes(handle, { rowsPerPartition });
  const ms = Math.round(performance.now() - started);
  const after = await memory();
  handle.close();
  console.log(JSON.stringify({ ms, result, before, after, load: load() }));
}

function runChild(dir: string, table: string, rowsPerPartition: number): Promise<RetrainFacts> {
  return new Promise((resolve, reject) => {
    // process.execArgv carries tsx's loader, so the child runs this TypeScript file as the parent does.
    const child = spawn(process.execPath, [...process.execArgv, __filename], {
      env: {
        ...process.env,
        MODE: 'retrain',
        CHILD_DIR: dir,
        CHILD_TABLE: table,
        CHILD_RPP: String(rowsPerPartition),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`retrain child exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as RetrainFacts);
    });
  });
}

interface RetrainFacts {
  ms: number;
  result: unknown;
  before: { peakMb: number; rssMb: number };
  after: { peakMb: number; rssMb: number };
  load: string;
}

interface IndexFacts {
  name: string;
  /** Partitions and delta segments a search ranks and searches (from the plan of a search probing every partition). */
  partitions: number;
  deltasSearched: number;
  segments: number;
  indexedRows: number;
  unindexedRows: number;
  mb: number;
}

async function vectorIndexFacts(table: Table): Promise<IndexFacts> {
  const index = (await table.listIndices()).find((i) => i.columns.includes('vector'));
  if (index === undefined) throw new Error('no vector index');
  const stats = await table.indexStats(index.name);
  const plan = await table
    .query()
    .nearestTo(Array.from({ length: DIM }, (_, i) => Math.sin(i)))
    .distanceType('cosine')
    .nprobes(1_000_000)
    .limit(K)
    .analyzePlan();
  const metric = (name: string) =>
    [...plan.matchAll(new RegExp(`${name}=(\\d+)`, 'g'))].reduce((a, m) => a + Number(m[1]), 0);
  return {
    name: index.name,
    // Each delta segment ranks the partitions of the centroids they share, so the plan's count is per segment.
    partitions: Math.round(metric('partitions_ranked') / Math.max(1, metric('deltas_searched'))),
    deltasSearched: metric('deltas_searched'),
    segments: stats?.numIndices ?? index.numSegments ?? 0,
    indexedRows: stats?.numIndexedRows ?? 0,
    unindexedRows: stats?.numUnindexedRows ?? 0,
    mb: mb(index.sizeBytes ?? 0),
  };
}

type Row = { text: string; source: string; heading: string };
const key = (r: Row) => `${r.source}\u0000${r.heading}\u0000${r.text}`;

interface Question {
  vector: number[];
  exact: Set<string>;
}

/** Exact top k (the vector index bypassed) of each question: the truth recall is measured against. */
async function exactTopK(table: Table, texts: readonly string[]): Promise<Question[]> {
  const out: Question[] = [];
  for (const text of texts) {
    const vector = await embeddings.embedQuery(text);
    const rows: Row[] = await table
      .query()
      .nearestTo(vector)
      .distanceType('cosine')
      .bypassVectorIndex()
      .limit(K)
      .select(['text', 'source', 'heading', '_distance'])
      .toArray();
    out.push({ vector, exact: new Set(rows.map(key)) });
  }
  return out;
}

/** Recall@k of the product's vector search (no query text: vector only) against the exact top k. */
async function recall(handle: DocumentTable, questions: readonly Question[]): Promise<number> {
  if (questions.length === 0) return Number.NaN;
  let hits = 0;
  let total = 0;
  for (const q of questions) {
    const found = await searchPassages(handle, {
      queryText: '',
      queryVector: q.vector,
      k: K,
      maxPassageChars: 1e9,
    });
    // A passage found twice (two chunks of one source with the same heading and text) counts once.
    hits += [...new Set(found.passages.map(key))].filter((k) => q.exact.has(k)).length;
    total += q.exact.size;
  }
  return hits / total;
}

/** Documents with their chunks, made by the product's load and split (as Batch runs them). */
function documents(sources: Parameters<typeof corpusDocuments>[0], tag: string, seed: number) {
  const chunks = new Map<string, DocumentChunk[]>();
  const split = async (markdown: string, name: string) => {
    const loaded = await loadDocument(Buffer.from(markdown), `${tag}-${name}`);
    if (!loaded.ok) return 0;
    const made = await splitDocument(loaded.document, { chunkSize: 1000, chunkOverlap: 150 });
    chunks.set(name, made);
    return made.length;
  };
  const generator = corpusDocuments(sources, split, seed);
  return {
    async next(): Promise<{ doc: CorpusDocument; rows: DocumentRow[] }> {
      for (;;) {
        const { value } = await generator.next();
        const doc = value as CorpusDocument;
        const made = chunks.get(doc.name) ?? [];
        chunks.delete(doc.name);
        if (made.length === 0) continue;
        const vectors = await embeddings.embedDocuments(made.map((c) => c.text));
        const rows = made.map((c, i) => ({
          id: c.id,
          vector: vectors[i] as number[],
          text: c.text,
          source: c.source,
          title: c.title,
          heading: c.heading,
          collection: c.collection ?? null,
          contentHash: c.contentHash,
          updatedAt: 0,
        }));
        return { doc, rows };
      }
    },
  };
}

async function main() {
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
  const dbDir = join(DIR, 'db');
  const freshDir = join(DIR, 'fresh');
  const sources = await collectSources({ manPages: MAN_PAGES });
  const baseSources = sources.filter((s) => s.origin.includes('node_modules'));
  const newSources = sources.filter((s) => !s.origin.includes('node_modules'));
  console.log(
    `sources: ${baseSources.length} for the base (node_modules), ${newSources.length} for the growth`,
  );
  const baseDocs = documents(baseSources, 'base', 23);
  const newDocs = documents(newSources, 'new', 29);

  const conn = await connect(dbDir);
  const tables = new Map<number, DocumentTable>();
  for (const rpp of RPP) tables.set(rpp, await createDocumentTable(conn, spec(`documents_p${rpp}`)));
  const write = async (from: typeof baseDocs, rows: number, into: CorpusDocument[]) => {
    let written = 0;
    let batch: DocumentRow[] = [];
    let names: string[] = [];
    const flush = async () => {
      for (const handle of tables.values()) await replaceSources(handle, names, batch);
      batch = [];
      names = [];
    };
    while (written < rows) {
      const next = await from.next();
      // The last document is cut to its first chunks so that the table holds exactly the size asked for.
      const made = next.rows.slice(0, rows - written);
      into.push(next.doc);
      batch.push(...made);
      names.push(made[0]?.source as string);
      written += made.length;
      if (batch.length >= 4000) await flush();
    }
    if (batch.length > 0) await flush();
    return written;
  };

  const old: CorpusDocument[] = [];
  const added: CorpusDocument[] = [];
  let t = performance.now();
  let rows = await write(baseDocs, BASE, old);
  console.log(
    `base: ${rows} rows written and embedded in ${Math.round(performance.now() - t)} ms (load ${load()})`,
  );
  for (const [rpp, handle] of tables) {
    t = performance.now();
    const before = await memory();
    const result = await ensureIndexes(handle, { rowsPerPartition: rpp });
    console.log(
      `  p${rpp}: trained`,
      JSON.stringify(result),
      `${Math.round(performance.now() - t)} ms (load ${load()}), peak RSS ${before.peakMb} -> ${(await memory()).peakMb} MB`,
    );
    await optimize(handle, { keepVersionsMs: 0 });
  }
  const oldQuestions = personQuestions(old, QUESTIONS, 101);
  const results: unknown[] = [];
  const firstTable = tables.values().next().value as DocumentTable;

  for (let step = 0; ; step++) {
    if (step > 0) {
      const want = Math.min(Math.round(rows * GROWTH), TARGET - rows);
      if (want <= 0) break;
      t = performance.now();
      const got = await write(newDocs, want, added);
      rows += got;
      console.log(`sync ${step}: +${got} rows (${rows} in all) in ${Math.round(performance.now() - t)} ms`);
    }
    // Questions about the new documents: the same seed, from all that were added so far.
    const newQuestions = added.length > 0 ? personQuestions(added, QUESTIONS, 202) : [];
    const exactOld = await exactTopK(firstTable.table, oldQuestions);
    const exactNew = await exactTopK(firstTable.table, newQuestions);
    for (const [rpp, handle] of tables) {
      let optimizeMs = 0;
      if (step > 0) {
        t = performance.now();
        await optimize(handle, { keepVersionsMs: 0 });
        optimizeMs = Math.round(performance.now() - t);
      }
      const drifted = await vectorIndexFacts(handle.table);
      const driftedRecall = { old: await recall(handle, exactOld), new: await recall(handle, exactNew) };

      // A fresh index at the same size, on a copy of the table.
      await rm(freshDir, { recursive: true, force: true });
      await mkdir(freshDir, { recursive: true });
      await cp(join(dbDir, `${handle.name}.lance`), join(freshDir, `${handle.name}.lance`), {
        recursive: true,
      });
      const retrain = await runChild(freshDir, handle.name, rpp);
      const freshConn = await connect(freshDir);
      const fresh = await openDocumentTable(freshConn, spec(handle.name));
      if (fresh === undefined) throw new Error('the copy is gone');
      const freshFacts = await vectorIndexFacts(fresh.table);
      const freshRecall = { old: await recall(fresh, exactOld), new: await recall(fresh, exactNew) };
      fresh.close();
      freshConn.close();

      const result = {
        step,
        rows,
        growth: rows / BASE,
        rowsPerPartition: rpp,
        trainedPartitions: Math.ceil(BASE / rpp),
        productRetrains: Math.ceil(rows / rpp) >= 2 * Math.ceil(BASE / rpp),
        freshPartitions: Math.ceil(rows / rpp),
        optimizeMs,
        optimizeLoad: load(),
        drifted: { ...drifted, recall: driftedRecall },
        fresh: { ...freshFacts, recall: freshRecall },
        retrain,
        questions: { old: exactOld.length, new: exactNew.length },
      };
      results.push(result);
      console.log(
        `  p${rpp} ${rows} rows (${(rows / BASE).toFixed(2)}x): drifted recall old ${driftedRecall.old.toFixed(3)} new ${driftedRecall.new.toFixed(3)}, ${drifted.segments} segments (${drifted.deltasSearched} searched), ${drifted.partitions} partitions, ${drifted.mb} MB, optimize ${optimizeMs} ms | fresh (${freshFacts.name}, ${freshFacts.partitions} partitions) old ${freshRecall.old.toFixed(3)} new ${freshRecall.new.toFixed(3)}, ${freshFacts.mb} MB, retrain ${retrain.ms} ms, peak ${retrain.after.peakMb} MB (from ${retrain.before.rssMb}) (load ${retrain.load})`,
      );
      await writeFile(OUT, JSON.stringify(results, null, 1));
    }
  }
  for (const handle of tables.values()) handle.close();
  conn.close();
}

/** The reads and time of one vector search as the product makes it (its refine factor), from LanceDB's plan. */
async function searchReads(table: Table, vector: number[]) {
  const started = performance.now();
  const plan = await table
    .query()
    .nearestTo(vector)
    .distanceType('cosine')
    .limit(K)
    .refineFactor(Math.ceil(REFINE_CANDIDATES / K))
    .select(['text', 'source', 'title', 'heading', '_distance'])
    .analyzePlan();
  const ms = performance.now() - started;
  const sum = (name: string) =>
    [...plan.matchAll(new RegExp(`[ ,\\[]${name}=([\\d.]+) ?(K|M)?`, 'g'))].reduce(
      (a, m) => a + Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'K' ? 1e3 : 1),
      0,
    );
  return { ms, requests: sum('requests'), bytes: sum('bytes_read'), deltas: sum('deltas_searched') };
}

/**
 * MODE=deltas: what many small syncs, each followed by Optimize, leave in the vector index (one segment each while
 * no partition splits) and what those segments cost a search: a new connection's first search (the index loaded)
 * and warm ones, in reads (LanceDB's plan counts them on local files as on S3) and time.
 */
async function deltas() {
  const syncs = Number(process.env.SYNCS ?? 30);
  const perSync = Number(process.env.ROWS_PER_SYNC ?? 20);
  const every = Number(process.env.MEASURE_EVERY ?? 10);
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
  const dbDir = join(DIR, 'db');
  const sources = await collectSources({ manPages: 0 });
  const baseDocs = documents(
    sources.filter((s) => s.origin.includes('node_modules')),
    'base',
    23,
  );
  const newDocs = documents(
    sources.filter((s) => !s.origin.includes('node_modules')),
    'new',
    29,
  );
  const conn = await connect(dbDir);
  const name = 'documents';
  const handle = await createDocumentTable(conn, spec(name));
  const write = async (from: typeof baseDocs, rows: number, into: CorpusDocument[]) => {
    let written = 0;
    while (written < rows) {
      const next = await from.next();
      const made = next.rows.slice(0, rows - written);
      into.push(next.doc);
      await replaceSources(handle, [made[0]?.source as string], made);
      written += made.length;
    }
  };
  const old: CorpusDocument[] = [];
  await write(baseDocs, BASE, old);
  console.log(JSON.stringify(await ensureIndexes(handle)), `load ${load()}`);
  await optimize(handle, { keepVersionsMs: 0 });
  const questions = await Promise.all(
    personQuestions(old, QUESTIONS, 101).map((q) => embeddings.embedQuery(q)),
  );
  const measure = async (dir: string, label: string) => {
    const c = await connect(dir);
    const t = await c.openTable(name);
    const cold = await searchReads(t, questions[0] as number[]);
    const warm: Awaited<ReturnType<typeof searchReads>>[] = [];
    for (const q of questions.slice(1)) warm.push(await searchReads(t, q));
    const facts = await vectorIndexFacts(t);
    t.close();
    c.close();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const line = {
      label,
      segments: facts.segments,
      partitions: facts.partitions,
      indexMb: facts.mb,
      cold: { ms: Math.round(cold.ms), requests: cold.requests, mb: mb(cold.bytes) },
      warm: {
        p50ms: Math.round(median(warm.map((w) => w.ms))),
        requests: median(warm.map((w) => w.requests)),
        mb: mb(median(warm.map((w) => w.bytes))),
      },
      load: load(),
    };
    console.log(JSON.stringify(line));
    return line;
  };
  const lines = [await measure(dbDir, 'after 0 syncs')];
  const added: CorpusDocument[] = [];
  for (let sync = 1; sync <= syncs; sync++) {
    await write(newDocs, perSync, added);
    await optimize(handle, { keepVersionsMs: 0 });
    if (sync % every === 0) lines.push(await measure(dbDir, `after ${sync} syncs of ${perSync} rows`));
  }
  const freshDir = join(DIR, 'fresh');
  await mkdir(freshDir, { recursive: true });
  await cp(join(dbDir, `${name}.lance`), join(freshDir, `${name}.lance`), { recursive: true });
  const retrain = await runChild(freshDir, name, VECTOR_INDEX.rowsPerPartition);
  console.log('retrain', JSON.stringify(retrain));
  lines.push(await measure(freshDir, 'retrained at the same size'));
  handle.close();
  conn.close();
  await writeFile(OUT, JSON.stringify({ lines, retrain }, null, 1));
}

if (process.env.MODE === 'deltas') {
  deltas().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (process.env.MODE === 'retrain') {
  retrainChild(
    process.env.CHILD_DIR as string,
    process.env.CHILD_TABLE as string,
    Number(process.env.CHILD_RPP),
  ).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
