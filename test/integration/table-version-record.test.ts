import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import type { Turn } from '../../functions/core/types';
import { createHandler as createLoadHistory } from '../../functions/load-history';
import { type LocalIngest, startLocalIngest } from '../../scripts/local/ingest-local';

/**
 * Issue 23: the ingest records the table version it leaves (Commit after writing, Optimize after its indexes),
 * Load history reads that record for Retrieve, and without one (a store synced before the record) it says null.
 * The local ingest state machine with the manifest, lock and record in dynalite, LanceDB on local disk.
 */

let dir: string;
let ingest: LocalIngest | undefined;

const turn: Turn = {
  intent: 'question',
  eventId: 'EvVersion1',
  teamId: 'T0LOCAL001',
  channel: 'C0VERSION1',
  threadTs: '1.000001',
  messageTs: '1.000001',
  user: 'U0HUMAN001',
  question: 'how do I rotate the VPN key?',
  placeholderTs: '1.000002',
};

async function latestVersion(): Promise<number> {
  const connection = await connect(join(dir, 'lancedb'));
  try {
    const table = await connection.openTable('documents');
    return await table.version();
  } finally {
    connection.close();
  }
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'table-version-'));
  writeFileSync(join(dir, 'vpn.md'), '# VPN\n\nRotate your VPN key every 90 days with rotate-vpn-key.');
  ingest = await startLocalIngest({
    lancedbUri: join(dir, 'lancedb'),
    baseDir: dir,
    env: { LLM_PROVIDER: 'local', LOG_LEVEL: 'silent', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
});

afterEach(async () => {
  await ingest?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the table version the ingest records for Retrieve', () => {
  it('is the version a sync leaves, and Load history passes it on', async () => {
    // Arrange
    const local = ingest as LocalIngest;
    const loadHistory = createLoadHistory(local.runtime);
    const before = await loadHistory({ turn, executionName: 'version-0' });

    // Act
    const first = await local.sync({ origins: [join(dir, 'vpn.md')] });
    const afterFirst = await loadHistory({ turn, executionName: 'version-1' });
    writeFileSync(join(dir, 'parking.md'), '# Parking\n\nVisitors park on level two.');
    await local.sync({ origins: [join(dir, 'vpn.md'), join(dir, 'parking.md')] });
    const afterSecond = await loadHistory({ turn, executionName: 'version-2' });

    // Assert
    expect(first.status).toBe('committed');
    expect(before.tableVersion).toBeNull();
    expect(afterFirst.tableVersion).toEqual(expect.any(Number));
    expect(afterSecond.tableVersion).toBe(await latestVersion());
    expect(afterSecond.tableVersion).toBeGreaterThan(afterFirst.tableVersion as number);
    // A sync of a few rows leaves them outside the indexes (INGEST_INDEX_TAIL_ROWS): there was no fold.
    expect(afterSecond.tableVersionBeforeFold).toBeNull();
  });

  it('names the version a fold started from, which holds the same rows, and none when the sync built an index', async () => {
    // Arrange: an ingest that folds every sync's rows into the indexes.
    await ingest?.close();
    ingest = await startLocalIngest({
      lancedbUri: join(dir, 'lancedb'),
      baseDir: dir,
      env: {
        LLM_PROVIDER: 'local',
        LOG_LEVEL: 'silent',
        POWERTOOLS_METRICS_DISABLED: 'true',
        INGEST_INDEX_TAIL_ROWS: '0',
      },
    });
    const local = ingest;
    const loadHistory = createLoadHistory(local.runtime);

    // Act: the first sync builds the full-text index; the second adds a document, which Optimize folds in.
    await local.sync({ origins: [join(dir, 'vpn.md')] });
    const afterFirst = await loadHistory({ turn, executionName: 'fold-1' });
    writeFileSync(join(dir, 'parking.md'), '# Parking\n\nVisitors park on level two.');
    await local.sync({ origins: [join(dir, 'vpn.md'), join(dir, 'parking.md')] });
    const afterSecond = await loadHistory({ turn, executionName: 'fold-2' });
    const connection = await connect(join(dir, 'lancedb'));
    const rowsAt = async (version: number) => {
      const table = await connection.openTable('documents');
      try {
        await table.checkout(version);
        return (await table.query().select(['id', 'source']).toArray())
          .map((r) => `${String(r.source)} ${String(r.id)}`)
          .sort();
      } finally {
        table.close();
      }
    };
    const folded = await rowsAt(afterSecond.tableVersion as number);
    const beforeFold = await rowsAt(afterSecond.tableVersionBeforeFold as number);
    connection.close();

    // Assert
    expect(afterFirst.tableVersionBeforeFold).toBeNull();
    expect(afterSecond.tableVersion).toBe(await latestVersion());
    expect(afterSecond.tableVersionBeforeFold).toBeGreaterThan(afterFirst.tableVersion as number);
    expect(afterSecond.tableVersionBeforeFold).toBeLessThan(afterSecond.tableVersion as number);
    expect(beforeFold).toEqual(folded);
    expect(folded.filter((row) => row.includes('parking.md'))).not.toEqual([]);
  });
});
