/**
 * Probe (issue 23, points 2 and 3): what a small sync followed by the Optimize step writes to a local LanceDB
 * table, file by file (new data files, new files of each index), and how long it takes. Not a bench section yet.
 * Run: LANCE_CPU_THREADS=2 LANCE_FTS_NUM_SHARDS=1 ROWS=20000 SYNCS=3 npx tsx scripts/bench/sync-freshness-probe.ts
 * (without the two LANCE_ settings the full-text build can deadlock, lancedb/lancedb#3568).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { LocalHashEmbeddings } from '../../functions/core/llm/local-embeddings';
import type { DocumentRow } from '../../functions/core/vector-store/document-schema';
import {
  createDocumentTable,
  ensureIndexes,
  optimize,
  replaceSources,
} from '../../functions/core/vector-store/document-table';
import { collectSources, corpusDocuments, probeRows } from './real-corpus';

const DIM = 1536;
const ROWS = Number(process.env.ROWS ?? 30000);
const dir = process.env.DIR ?? '/tmp/fresh/db';

async function listing(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  async function walk(d: string) {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(p.slice(root.length + 1), (await stat(p)).size);
    }
  }
  await walk(root);
  return out;
}

function diff(before: Map<string, number>, after: Map<string, number>) {
  const added: Record<string, number> = {};
  for (const [p, size] of after) {
    if (before.has(p)) continue;
    const parts = p.split('/');
    const key = parts[0] === '_indices' ? `_indices/${parts[1]?.slice(0, 8)}` : (parts[0] ?? p);
    added[key] = (added[key] ?? 0) + size;
  }
  const total = [...after.values()].reduce((a, b) => a + b, 0);
  return { added, total };
}

async function main() {
  await rm(dir, { recursive: true, force: true });
  const embeddings = new LocalHashEmbeddings({ dimensions: DIM });
  const sources = await collectSources({ manPages: 0 });
  const docs = corpusDocuments(sources, async (md) => Math.ceil(md.length / 900));
  const rowsOf = (doc: { name: string; markdown: string }, version: number) =>
    probeRows(embeddings, doc, version);

  const conn = await connect(dir);
  const handle = await createDocumentTable(conn, {
    table: 'documents',
    embeddings,
    embedderName: 'x',
    dimensions: DIM,
  });
  const all: { name: string; markdown: string }[] = [];
  let rows = 0;
  let batch: DocumentRow[] = [];
  let names: string[] = [];
  const t0 = Date.now();
  while (rows < ROWS) {
    const d = (await docs.next()).value as { name: string; markdown: string };
    all.push(d);
    const r = await rowsOf(d, 0);
    batch.push(...r);
    names.push(d.name);
    rows += r.length;
    if (batch.length >= 5000 || rows >= ROWS) {
      await replaceSources(handle, names, batch);
      batch = [];
      names = [];
    }
  }
  console.log(`wrote ${rows} rows in ${Date.now() - t0} ms`);
  let t = Date.now();
  console.log(await ensureIndexes(handle), `${Date.now() - t} ms`);
  t = Date.now();
  await optimize(handle, { keepVersionsMs: 0 });
  console.log(`initial optimize ${Date.now() - t} ms`, JSON.stringify(await handle.table.stats()));
  for (const i of await handle.table.listIndices())
    console.log(i.name, JSON.stringify(await handle.table.indexStats(i.name)));
  const root = join(dir, 'documents.lance');
  // a small sync: 5 edited documents (new chunk ids) and 2 new ones
  for (let sync = 1; sync <= Number(process.env.SYNCS ?? 3); sync++) {
    const before = await listing(root);
    const edited = all.slice(sync * 10, sync * 10 + 5);
    const fresh = [(await docs.next()).value, (await docs.next()).value] as {
      name: string;
      markdown: string;
    }[];
    all.push(...fresh);
    const syncRows = (await Promise.all([...edited, ...fresh].map((d) => rowsOf(d, sync)))).flat();
    t = Date.now();
    await replaceSources(
      handle,
      [...edited, ...fresh].map((d) => d.name),
      syncRows,
    );
    const writeMs = Date.now() - t;
    const mid = await listing(root);
    t = Date.now();
    const ix = await ensureIndexes(handle);
    const stats = await optimize(handle, { keepVersionsMs: 3_600_000 });
    const optMs = Date.now() - t;
    const after = await listing(root);
    console.log(
      `sync ${sync}: ${syncRows.length} rows written in ${writeMs} ms`,
      JSON.stringify(diff(before, mid)),
    );
    console.log(
      `  optimize ${optMs} ms`,
      JSON.stringify(stats),
      JSON.stringify(ix),
      JSON.stringify(diff(mid, after)),
    );
    for (const i of await handle.table.listIndices())
      console.log('  ', i.name, JSON.stringify(await handle.table.indexStats(i.name)));
  }
  handle.close();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
