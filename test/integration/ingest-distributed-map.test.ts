import { join } from 'node:path';
import { RedriveExecutionCommand } from '@aws-sdk/client-sfn';
import { FileSystemStagingStore } from '../../functions/core/ingest/fs-staging-store';
import type { StagingStore } from '../../functions/core/ingest/staging-store';
import { connectVectorStore } from '../../functions/core/vector-store/connect-vector-store';
import { createHandler as createCommitHandler } from '../../functions/ingest-commit';
import type { IngestProgress, LocalIngest } from '../../scripts/local/ingest-local';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import { ingestWorkspace, readRows, type StoredRow, writeFiles } from '../support/ingest';

/**
 * The ingest's Distributed Map (statemachine/ingest.asl.json, "Embed changed documents") on the local Step
 * Functions stand-in: the batch numbers read from staging, batched into child executions of their own, at most
 * INGEST_CONCURRENCY at once, their results written beside the plan, and a failed Map Run redriven.
 */

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;

beforeEach(async () => {
  workspace = await ingestWorkspace();
  // Six documents: with one per batch and two children at once, each child gets three batches.
  await writeFiles(workspace.root, {
    'docs/extra-a.md': '# Parking\n\nVisitors park on level two and register at the front desk.\n',
    'docs/extra-b.md':
      '# Printers\n\nThe printer on the third floor takes badges; scans go to your mailbox.\n',
  });
});

afterEach(async () => {
  await workspace.remove();
});

const SETTINGS = { INGEST_BATCH_DOCUMENTS: '1', INGEST_CONCURRENCY: '2' };

/**
 * The workspace's staging directory, with a switch that makes every write of one batch fail, as an S3 outage
 * under one child execution would: its batch, then its Record the failed batch, fail after their retries.
 */
function breakableStaging(root: string, batch: string) {
  const store = new FileSystemStagingStore(join(root, 'staging'));
  const state = { broken: false, keys: [] as string[] };
  const staging: StagingStore = {
    location: store.location,
    put: async (key, body) => {
      state.keys.push(key);
      if (state.broken && key.includes(`/batches/${batch}.`))
        throw new Error('injected: staging unavailable');
      await store.put(key, body);
    },
    get: (key) => store.get(key),
    list: (prefix) => store.list(prefix),
    deletePrefix: (prefix) => store.deletePrefix(prefix),
    locate: (key) => store.locate(key),
  };
  return { staging, state };
}

function rowSet(rows: StoredRow[]): string[] {
  return rows.map((row) => `${row.source}\u0000${row.text}`).sort();
}

function childrenOf(execution: ExecutionRecord): ExecutionRecord[] {
  return execution.children;
}

describe('the Distributed Map of a sync', () => {
  it('runs the batches in child executions of their own, as many as INGEST_CONCURRENCY, and writes their results beside the plan', async () => {
    // Arrange
    const { staging, state } = breakableStaging(workspace.root, 'none');
    const ingest = await workspace.start({ env: SETTINGS, services: { staging: () => staging } });
    try {
      // Act
      const result = await ingest.sync({ origins: ['docs'], prune: false });

      // Assert
      expect(result.status).toBe('committed');
      expect(result.report?.added).toBe(6);
      const children = childrenOf(result.execution);
      expect(children).toHaveLength(2);
      for (const child of children) {
        expect(child.status).toBe('SUCCEEDED');
        expect(child.parentExecutionArn).toBe(result.execution.executionArn);
        // Each child has its own history: its three batches, none of the parent's states.
        const states = child.trace.map((t) => t.state);
        expect(states.filter((s) => /^Load, split and embed \[\d\]$/.test(s))).toHaveLength(3);
        expect(states).not.toContain('Commit');
      }
      expect(result.execution.trace.map((t) => t.state)).toEqual([
        'Plan sync',
        'Is another sync running?',
        'Embed changed documents',
        'Start the commit',
        'Commit',
        'Is everything committed?',
        'Optimize',
        'Report',
      ]);
      // ItemBatcher: three batches each, as Plan asked (six batches, two children at once).
      const [first, second] = children;
      expect(first?.input).toEqual({
        Items: [0, 1, 2].map((batch) => ({ batch, executionName: result.execution.name })),
      });
      expect(second?.input).toEqual({
        Items: [3, 4, 5].map((batch) => ({ batch, executionName: result.execution.name })),
      });
      const run = `runs/${result.execution.name}/`;
      expect(state.keys).toContain(`${run}items.json`);
      const results = state.keys.filter((key) => key.startsWith(`${run}map-results/`));
      expect(results.map((key) => key.slice(key.lastIndexOf('/') + 1)).sort()).toEqual([
        'SUCCEEDED_0.json',
        'manifest.json',
      ]);
    } finally {
      await ingest.close();
    }
  });

  it('fails where a child failed halfway, still holding the lock, and a redrive runs only that child again: every row once', async () => {
    // Arrange: the fourth batch (the second of the second child) cannot be staged.
    const { staging, state } = breakableStaging(workspace.root, '00004');
    const progress: IngestProgress[] = [];
    const ingest = await workspace.start({
      env: SETTINGS,
      services: { staging: () => staging },
      onProgress: (event) => progress.push(event),
    });
    const reference = await ingestWorkspace();
    await writeFiles(reference.root, {
      'docs/extra-a.md': '# Parking\n\nVisitors park on level two and register at the front desk.\n',
      'docs/extra-b.md':
        '# Printers\n\nThe printer on the third floor takes badges; scans go to your mailbox.\n',
    });
    const clean = await reference.start({ env: SETTINGS });
    try {
      state.broken = true;

      // Act: the sync fails; a second one finds the lock held; the outage ends and the first is redriven.
      const failed = await ingest.sync({ origins: ['docs'], prune: false });
      const meanwhile = await ingest.sync({ origins: ['docs'], prune: false });
      const rowsAfterFailure = await readRows(workspace.lancedbUri);
      const failedAt = failed.execution.trace.map((t) => t.state).at(-1);
      const statusAfterFailure = failed.execution.status;
      state.broken = false;
      const embeddedBefore = progress.flatMap((e) => (e.type === 'batch' ? [e.result.batch] : []));
      progress.splice(0);
      await ingest.runtime
        .sfnClient()
        .send(new RedriveExecutionCommand({ executionArn: failed.execution.executionArn }));
      await failed.execution.done;
      const rows = await readRows(workspace.lancedbUri);
      const expected = await clean.sync({ origins: ['docs'], prune: false });
      const expectedRows = await readRows(reference.lancedbUri);

      // Assert
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/Map Run .* failed: 3 of its 6 items/);
      expect(statusAfterFailure).toBe('FAILED');
      expect(failedAt).toBe('Embed changed documents');
      expect(rowsAfterFailure).toEqual([]);
      expect(meanwhile.status).toBe('busy');
      // The first child's batches and the second's first were embedded; its second was not. (The package's inline
      // Map still runs an iteration queued behind a failed one, which the service would not: batch 5 may have run.)
      expect(embeddedBefore).toEqual(expect.arrayContaining([0, 1, 2, 3]));
      expect(embeddedBefore).not.toContain(4);

      expect(failed.execution.status).toBe('SUCCEEDED');
      expect(failed.execution.redriveCount).toBe(1);
      const [first, second] = childrenOf(failed.execution);
      expect(first?.redriveCount).toBe(0);
      expect(second?.redriveCount).toBe(1);
      expect(childrenOf(failed.execution)).toHaveLength(2);
      // Only the failed child ran again (locally from its start: its first batch is staged once more, by key).
      expect(progress.flatMap((e) => (e.type === 'batch' ? [e.result.batch] : [])).sort()).toEqual([3, 4, 5]);
      expect(expected.report?.added).toBe(6);
      expect(new Set(rows.map((r) => r.source)).size).toBe(6);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      expect(rowSet(rows)).toEqual(rowSet(expectedRows));
      // The lock was released: the next sync runs and finds nothing to do.
      const next = await ingest.sync({ origins: ['docs'], prune: false });
      expect(next.status).toBe('committed');
      expect(next.report).toMatchObject({ added: 0, unchanged: 6 });
    } finally {
      await clean.close();
      await reference.remove();
      await ingest.close();
    }
  });
});

describe('Commit in parts', () => {
  /**
   * A sync whose Commit has no time to spare: each invocation writes one batch, stages its progress and names the
   * next, as a Commit of a very large sync does when half its 15 minutes are used.
   */
  async function startWithHurriedCommit(options: { loseReplyOfPart?: number } = {}) {
    let ingest: LocalIngest | undefined;
    let parts = 0;
    ingest = await workspace.start({
      env: SETTINGS,
      runFunction: (entry) =>
        entry === 'functions/ingest-commit.ts'
          ? async (input) => {
              if (ingest === undefined) throw new Error('not started');
              const output = await createCommitHandler(ingest.runtime, ingest.services)(input as never, {
                getRemainingTimeInMillis: () => 0,
              });
              parts += 1;
              // The part wrote its batch and staged its progress, then its Lambda died before answering.
              if (parts === options.loseReplyOfPart) {
                throw Object.assign(new Error('injected: the Commit Lambda died'), {
                  name: 'Lambda.ServiceException',
                });
              }
              return output;
            }
          : undefined,
    });
    return ingest;
  }

  it('writes one batch per invocation when its time is short, and the table holds every row once, on a rebuild too', async () => {
    // Arrange
    const ingest = await startWithHurriedCommit();
    const reference = await workspace.start({ env: SETTINGS, lancedbUri: join(workspace.root, 'reference') });
    try {
      // Act
      const first = await ingest.sync({ origins: ['docs'], prune: false });
      const rebuilt = await ingest.sync({ origins: ['docs'], prune: false, rebuild: true });
      const rows = await readRows(workspace.lancedbUri);
      await reference.sync({ origins: ['docs'], prune: false });
      const expectedRows = await readRows(join(workspace.root, 'reference'));

      // Assert
      for (const result of [first, rebuilt]) {
        expect(result.status).toBe('committed');
        expect((result.report?.added ?? 0) + (result.report?.updated ?? 0)).toBe(6);
        expect(result.execution.trace.filter((t) => t.state === 'Commit')).toHaveLength(6);
      }
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      expect(rowSet(rows)).toEqual(rowSet(expectedRows));
    } finally {
      await reference.close();
      await ingest.close();
    }
  });

  it('retries a part whose Lambda died after writing, and the table still holds every row once', async () => {
    // Arrange
    const ingest = await startWithHurriedCommit({ loseReplyOfPart: 3 });
    const reference = await workspace.start({ env: SETTINGS, lancedbUri: join(workspace.root, 'reference') });
    try {
      // Act
      const result = await ingest.sync({ origins: ['docs'], prune: false });
      const rows = await readRows(workspace.lancedbUri);
      await reference.sync({ origins: ['docs'], prune: false });
      const expectedRows = await readRows(join(workspace.root, 'reference'));

      // Assert
      expect(result.status).toBe('committed');
      expect(result.report?.added).toBe(6);
      const commits = result.execution.trace.filter((t) => t.state === 'Commit');
      expect(commits.map((t) => t.attempts)).toEqual([1, 1, 2, 1, 1, 1]);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      expect(rowSet(rows)).toEqual(rowSet(expectedRows));
    } finally {
      await reference.close();
      await ingest.close();
    }
  });

  it('gathers the batches into one merge when it has time: one write for six batches, the same rows', async () => {
    // Arrange: the writes that added a data file to the table (Optimize's compaction removes files, so is not one).
    const writes = async (uri: string) => {
      const connection = await connectVectorStore(uri, { readConsistencySeconds: 0 });
      try {
        const table = await connection.openTable('documents');
        try {
          const files = (await table.listVersions()).map((v) => Number(v.metadata.total_data_files));
          return files.filter((n, i) => i > 0 && n > (files[i - 1] as number)).length;
        } finally {
          table.close();
        }
      } finally {
        connection.close();
      }
    };
    const hurried = await startWithHurriedCommit();
    const gathered = await workspace.start({ env: SETTINGS, lancedbUri: join(workspace.root, 'gathered') });
    try {
      // Act
      const batchByBatch = await hurried.sync({ origins: ['docs'], prune: false });
      const together = await gathered.sync({ origins: ['docs'], prune: false });

      // Assert
      expect(together.status).toBe('committed');
      expect(together.report?.added).toBe(6);
      expect(together.execution.trace.filter((t) => t.state === 'Commit')).toHaveLength(1);
      expect(await writes(join(workspace.root, 'gathered'))).toBe(1);
      expect(batchByBatch.execution.trace.filter((t) => t.state === 'Commit')).toHaveLength(6);
      expect(await writes(workspace.lancedbUri)).toBe(6);
      expect(rowSet(await readRows(join(workspace.root, 'gathered')))).toEqual(
        rowSet(await readRows(workspace.lancedbUri)),
      );
    } finally {
      await gathered.close();
      await hurried.close();
    }
  });
});
