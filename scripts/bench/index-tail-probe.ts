/**
 * Probe (issue 23, point 2): what an unindexed tail costs a warm Retrieve container, against what folding it into
 * the indexes after every small sync costs. Not a bench section.
 *
 * A table of real text (real-corpus.ts, hashing embedder, 1,536 dimensions, chunks of 1,000 characters cut every 900,
 * as sync-freshness-probe.ts writes them) is written with the product's `replaceSources`, indexed by the Optimize
 * step's `ensureIndexes` and `foldOrDefer` (functions/core/ingest/optimize-sync.ts), and mirrored file for file to the
 * modelled S3 (s3-model.ts, constant 25 ms to first byte). A Retrieve container (the production bundle in its own
 * process under Lambda's CPU share, as retrieval-real.ts starts it) answers a first question, then warm ones. Then
 * syncs of edited documents (new chunk ids, a marker word added) and new ones grow the unindexed tail to each size of
 * TAILS, Optimize deferring (`foldOrDefer` with no limit); at each size, after the read-consistency interval, the
 * container's first question (which reads the new version) and WARM warm questions are measured: bytes, GETs, the
 * full-text index's share, time. On the writer's table: every edited document's marker found by a full-text search,
 * its new chunk first for its own vector, none of its old chunks returned by either search, and recall@10 of the
 * product's vector and hybrid searches against exact ones. Last, the tail is folded in (`foldOrDefer` with limit 0,
 * LanceDB's optimize) and the container's first question after it is measured: the reload a fold costs.
 *
 * Run: LANCE_CPU_THREADS=2 LANCE_FTS_NUM_SHARDS=1 ROWS=20000 npx tsx scripts/bench/index-tail-probe.ts
 * (without the two LANCE_ settings the full-text build can deadlock, lancedb/lancedb#3568).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { conversationFunctions } from '../../functions/conversation-functions';
import { foldOrDefer } from '../../functions/core/ingest/optimize-sync';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import {
  createDocumentTable,
  type DocumentTable,
  ensureIndexes,
  replaceSources,
  unindexedRows,
} from '../../functions/core/vector-store/document-table';
import { startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { lambdaCpuShare } from './cpu-quota';
import {
  type CorpusDocument,
  collectSources,
  corpusDocuments,
  personQuestions,
  probeRows,
} from './real-corpus';
import {
  BUCKET,
  containerEnv,
  EMBEDDING_MODEL,
  type QuestionReads,
  readsOf,
  recallOf,
  startContainer,
  TABLE,
  tableFacts,
} from './retrieval-real';
import { bundleRetrieve } from './retrieval-s3';
import { LAMBDA_S3_MODEL, startModeledS3 } from './s3-model';
import { percentile } from './stats';

const DIM = 1536;
const ROWS = Number(process.env.ROWS ?? 20_000);
const TAILS = (process.env.TAILS ?? '100,250,500,1000').split(',').map(Number);
const WARM = Number(process.env.WARM ?? 8);
const root = process.env.DIR ?? '/tmp/index-tail';
const dir = join(root, 'db');
const MB = 1_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const embeddings = new LocalHashEmbeddings({ dimensions: DIM });

const rowsOf = (doc: { name: string; markdown: string }, version: number) =>
  probeRows(embeddings, doc, version);

function summarize(label: string, reads: readonly QuestionReads[]) {
  const bytes = reads.map((r) => r.bytes);
  const ms = reads.map((r) => r.ms);
  return {
    label,
    questions: reads.length,
    mbMedian: percentile(bytes, 50) / MB,
    mbMax: Math.max(...bytes) / MB,
    getsMedian: percentile(
      reads.map((r) => r.gets),
      50,
    ),
    depthMedian: percentile(
      reads.map((r) => r.depth),
      50,
    ),
    fullTextMbMax: Math.max(...reads.map((r) => r.fullText.bytes)) / MB,
    msP50: percentile(ms, 50),
    msMax: Math.max(...ms),
    cpuMsP50: percentile(
      reads.map((r) => r.cpuMs),
      50,
    ),
  };
}

const show = (o: unknown) => console.log(JSON.stringify(o));
const round = (n: number) => Math.round(n * 1000) / 1000;

/** An edited document: its old and new rows, and the marker word its new version carries. */
interface Edit {
  source: string;
  marker: string;
  oldIds: Set<string>;
  oldVectors: number[][];
  oldText: string;
  newFirst: DocumentRow;
}

/** Markers found, new rows first for their vector, old rows returned: searched through the indexes and the tail. */
async function correctness(handle: DocumentTable, edits: readonly Edit[]) {
  let markerFound = 0;
  let newFirst = 0;
  // Its own vector not first but in the top 10: another chunk of the same text (the hashing embedder gives equal
  // text an equal vector) came first.
  let newInTop10 = 0;
  let oldReturned = 0;
  const ids = async (rows: Promise<Record<string, unknown>[]>) => (await rows).map((r) => String(r.id));
  for (const edit of edits) {
    const byMarker = await ids(
      handle.table
        .query()
        .fullTextSearch(edit.marker, { columns: 'text' })
        .select(['id', 'source'])
        .limit(10)
        .toArray(),
    );
    if (byMarker.some((id) => id.startsWith(`${edit.source}#`))) markerFound += 1;
    const near = await ids(
      handle.table
        .query()
        .nearestTo(edit.newFirst.vector)
        .distanceType('cosine')
        .refineFactor(30)
        .select(['id'])
        .limit(10)
        .toArray(),
    );
    if (near[0] === edit.newFirst.id) newFirst += 1;
    else if (near.includes(edit.newFirst.id)) newInTop10 += 1;
    // The old text's words, and the old chunks' own vectors: none of the old chunks may come back.
    const words = edit.oldText
      .replace(/[^\p{L}\p{N}\s]/gu, ' ')
      .split(/\s+/)
      .filter((w) => w.length > 4)
      .slice(0, 12)
      .join(' ');
    const byOldText = await ids(
      handle.table.query().fullTextSearch(words, { columns: 'text' }).select(['id']).limit(10).toArray(),
    );
    const byOldVector = await ids(
      handle.table
        .query()
        .nearestTo(edit.oldVectors[0] as number[])
        .distanceType('cosine')
        .refineFactor(30)
        .select(['id'])
        .limit(10)
        .toArray(),
    );
    oldReturned += [...byOldText, ...byOldVector].filter((id) => edit.oldIds.has(id)).length;
  }
  return { edited: edits.length, markerFound, newFirst, newInTop10, oldReturned };
}

async function main() {
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const sources = await collectSources({ manPages: 0 });
  const generator = corpusDocuments(sources, async (md) => Math.ceil(md.length / 900))[
    Symbol.asyncIterator
  ]();
  const next = async () => (await generator.next()).value as CorpusDocument;

  const connection = await connectVectorStore(dir);
  const handle = await createDocumentTable(connection, {
    table: TABLE,
    embeddings,
    embedderName: EMBEDDING_MODEL,
    dimensions: DIM,
  });
  const written: CorpusDocument[] = [];
  const current = new Map<string, DocumentRow[]>();
  let rows = 0;
  let batch: DocumentRow[] = [];
  let names: string[] = [];
  let t = performance.now();
  while (rows < ROWS) {
    const doc = await next();
    written.push(doc);
    const r = await rowsOf(doc, 0);
    current.set(doc.name, r);
    batch.push(...r);
    names.push(doc.name);
    rows += r.length;
    if (batch.length >= 5_000 || rows >= ROWS) {
      await replaceSources(handle, names, batch);
      batch = [];
      names = [];
    }
  }
  show({ wrote: rows, documents: written.length, ms: Math.round(performance.now() - t) });
  t = performance.now();
  const built = await ensureIndexes(handle);
  const first = await foldOrDefer(handle, { built: true, keepVersionsSeconds: 0, now: Date.now() });
  show({ indexes: built, fold: first, ms: Math.round(performance.now() - t) });

  const openai = await startFakeOpenAI();
  const bundle = await bundleRetrieve(root);
  const s3 = await startModeledS3(BUCKET, LAMBDA_S3_MODEL);
  const mirror = () => s3.mirrorDirectory(dir, 'tail');
  const initial = await mirror();
  show({ mirrored: initial.uploaded.length, mb: round(initial.bytes / MB) });
  const questions = personQuestions(written, 400, 2026);
  const recallQuestions = personQuestions(written, 30, 7);
  const container = await startContainer(
    bundle,
    // The path its figures were taken on: no preload, no recorded version (the container follows the latest).
    containerEnv(s3, 'tail', openai.url, EMBEDDING_MODEL, false),
    lambdaCpuShare(conversationFunctions.RetrieveFunctionArn.memoryMb),
  );
  const seenPorts = new Set<number>();
  const edits: Edit[] = [];
  let editCursor = 0;
  const editedNames = new Set<string>();
  let sync = 0;
  try {
    let facts = await tableFacts(dir, EMBEDDING_MODEL);
    const ask = async () =>
      readsOf(s3, await container.ask(questions.shift() as string), facts.folders, seenPorts);
    const cold = await ask();
    show({
      cold: { mb: round(cold.bytes / MB), gets: cold.gets, fullTextMb: round(cold.fullText.bytes / MB) },
    });
    const warm0: QuestionReads[] = [];
    for (let i = 0; i < WARM; i++) warm0.push(await ask());
    show({ tail: 0, warm: summarize('tail 0', warm0), recall: await recallOf(dir, recallQuestions) });

    const afterNewVersion = async (uploaded: string[]) => {
      const newKeys = new Set(uploaded.map((key) => `${BUCKET}/${key}`));
      // The container looks for a new version once LANCEDB_READ_CONSISTENCY_SECONDS (30 s) have passed.
      await sleep(31_000);
      const answer = await container.ask(questions.shift() as string);
      const reads = readsOf(s3, answer, facts.folders, seenPorts);
      const sawNew = s3.log.some((r) => r.at >= answer.start && r.at <= answer.end && newKeys.has(r.key));
      return { reads, sawNew };
    };

    for (const target of TAILS) {
      let tail = await unindexedRows(handle);
      const syncs: { rows: number; writeMs: number; optimize: unknown }[] = [];
      while (tail < target) {
        // One sync: 5 edited documents and 2 new ones (as a team's daily edits), fewer edits near the target.
        sync += 1;
        const changed: { doc: CorpusDocument; version: number; edit?: Edit }[] = [];
        let planned = 0;
        for (let i = 0; i < 7 && tail + planned < target; i++) {
          if (i < 5) {
            // Each document edited once, so that every edit's marker and new chunks stay current.
            let doc = written[(editCursor++ * 37) % written.length] as CorpusDocument;
            while (editedNames.has(doc.name))
              doc = written[(editCursor++ * 37 + 1) % written.length] as CorpusDocument;
            editedNames.add(doc.name);
            const marker = `tailmark${sync}x${i}`;
            const edited = {
              ...doc,
              markdown: `${doc.markdown}\n\n## Update\n\nSee ${marker} for the change.\n`,
            };
            const old = current.get(doc.name) ?? [];
            changed.push({
              doc: edited,
              version: sync,
              edit: {
                source: doc.name,
                marker,
                oldIds: new Set(old.map((r) => r.id)),
                oldVectors: old.map((r) => r.vector),
                oldText: old[0]?.text ?? '',
                newFirst: old[0] as DocumentRow,
              },
            });
            written[written.indexOf(doc)] = edited;
          } else {
            const doc = await next();
            written.push(doc);
            changed.push({ doc, version: sync });
          }
          planned += Math.ceil((changed.at(-1)?.doc.markdown.length ?? 0) / 900);
        }
        const syncRows: DocumentRow[] = [];
        for (const c of changed) {
          const r = await rowsOf(c.doc, c.version);
          current.set(c.doc.name, r);
          syncRows.push(...r);
          if (c.edit !== undefined) {
            c.edit.newFirst = r[0] as DocumentRow;
            edits.push(c.edit);
          }
        }
        t = performance.now();
        await replaceSources(
          handle,
          changed.map((c) => c.doc.name),
          syncRows,
        );
        const writeMs = performance.now() - t;
        // Optimize as the step runs it, the tail never reaching its limit.
        const indexes = await ensureIndexes(handle);
        const step = await foldOrDefer(handle, {
          built: indexes.fullText === 'created' || indexes.vector === 'created',
          indexTailRows: Number.POSITIVE_INFINITY,
          keepVersionsSeconds: 3_600,
          now: Date.now(),
        });
        syncs.push({ rows: syncRows.length, writeMs: Math.round(writeMs), optimize: step });
        tail = step.unindexedRows ?? 0;
      }
      const uploaded = await mirror();
      facts = await tableFacts(dir, EMBEDDING_MODEL);
      const { reads: firstAfter, sawNew } = await afterNewVersion(uploaded.uploaded);
      const warm: QuestionReads[] = [];
      for (let i = 0; i < WARM; i++) warm.push(await ask());
      show({
        tail,
        syncs,
        uploadedMb: round(uploaded.bytes / MB),
        firstAfterSyncs: {
          sawNew,
          mb: round(firstAfter.bytes / MB),
          gets: firstAfter.gets,
          fullTextMb: round(firstAfter.fullText.bytes / MB),
          ms: Math.round(firstAfter.ms),
        },
        warm: summarize(`tail ${tail}`, warm),
        correctness: await correctness(handle, edits),
        recall: await recallOf(dir, recallQuestions),
        indexes: facts.indexes,
      });
    }

    // The fold: LanceDB's optimize, as the step runs it once the tail reaches its limit.
    t = performance.now();
    const fold = await foldOrDefer(handle, {
      built: false,
      indexTailRows: 0,
      keepVersionsSeconds: 3_600,
      now: Date.now(),
    });
    const foldMs = performance.now() - t;
    const uploaded = await mirror();
    facts = await tableFacts(dir, EMBEDDING_MODEL);
    const { reads: firstAfterFold, sawNew } = await afterNewVersion(uploaded.uploaded);
    const warm: QuestionReads[] = [];
    for (let i = 0; i < WARM; i++) warm.push(await ask());
    show({
      fold,
      foldMs: Math.round(foldMs),
      uploadedMb: round(uploaded.bytes / MB),
      uploadedFullTextFiles: uploaded.uploaded.filter((key) =>
        facts.folders.fullText.some((f) => key.includes(f)),
      ).length,
      firstAfterFold: {
        sawNew,
        mb: round(firstAfterFold.bytes / MB),
        gets: firstAfterFold.gets,
        fullTextMb: round(firstAfterFold.fullText.bytes / MB),
        ms: Math.round(firstAfterFold.ms),
      },
      warm: summarize('after the fold', warm),
      correctness: await correctness(handle, edits),
      recall: await recallOf(dir, recallQuestions),
      indexes: facts.indexes,
    });
  } finally {
    await container.close();
    await s3.close();
    await openai.close();
    handle.close();
    connection.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
