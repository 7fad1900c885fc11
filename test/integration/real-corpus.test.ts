import { join } from 'node:path';
import { copyPackageDocs, type RealCorpus } from '../../scripts/bench/package-docs';
import { askThroughSlack } from '../../scripts/local/ask-client';
import { type LocalIngest, startLocalIngest } from '../../scripts/local/ingest-local';
import { type LocalStack, startLocalStack } from '../../scripts/local/stack';
import { readRows } from '../support/ingest';
import { temporaryDirectory } from '../support/local-stack';

/** Generous for 2 shared CPUs: the first sync takes about 15 s alone. */
jest.setTimeout(300_000);

/**
 * The ingest workflow on a real corpus no one here wrote: the Markdown shipped in the project's own
 * node_modules (READMEs, changelogs and docs of hundreds of packages), synced through the real ingest ASL on the
 * local stack with the offline provider, then searched through a mention, as a user would ask.
 */

let dir: Awaited<ReturnType<typeof temporaryDirectory>>;
let corpus: RealCorpus;
let ingest: LocalIngest;
let lancedbUri: string;

beforeAll(async () => {
  dir = await temporaryDirectory('slack-rag-real-corpus-');
  corpus = await copyPackageDocs(join(dir.path, 'packages'));
  lancedbUri = join(dir.path, 'lancedb');
  ingest = await startLocalIngest({
    lancedbUri,
    stagingUri: join(dir.path, 'staging'),
    baseDir: dir.path,
    env: { LLM_PROVIDER: 'local' },
  });
});

afterAll(async () => {
  await ingest?.close();
  await dir?.remove();
});

describe('a real corpus of package documentation', () => {
  let first: Awaited<ReturnType<LocalIngest['sync']>>;

  it('syncs thousands of files to tens of thousands of chunks, each file indexed or failed with its reason', async () => {
    // Act
    first = await ingest.sync({ origins: ['packages'], prune: true });

    // Assert
    expect(corpus.files.length).toBeGreaterThanOrEqual(1_000);
    expect(first.status).toBe('committed');
    const report = first.report;
    expect(report?.chunks).toBeGreaterThanOrEqual(10_000);
    const failed = new Map((report?.failed ?? []).map((f) => [f.source, f.reason]));
    for (const reason of failed.values()) expect(reason).toMatch(/\w{4,}/);
    const indexed = new Set((report?.changes ?? []).filter((c) => c.change === 'added').map((c) => c.source));
    const accounted = corpus.files.filter(
      (file) => indexed.has(`packages/${file}`) || failed.has(`packages/${file}`),
    );
    expect(accounted.length).toBe(corpus.files.length);
    expect(report?.added).toBe(corpus.files.length - failed.size);
  }, 600_000);

  it('embeds nothing when the corpus has not changed, and leaves the same rows', async () => {
    // Arrange
    const rowsBefore = (await readRows(lancedbUri)).length;

    // Act
    const again = await ingest.sync({ origins: ['packages'], prune: true });

    // Assert
    expect(again.status).toBe('committed');
    expect(again.report).toMatchObject({ embeddedChunks: 0, updated: 0, deleted: 0 });
    expect(again.report?.unchanged).toBe(first.report?.added);
    expect((await readRows(lancedbUri)).length).toBe(rowsBefore);
  }, 300_000);

  describe('asked about a package by name', () => {
    let stack: LocalStack;

    beforeAll(async () => {
      stack = await startLocalStack({ lancedbUri, env: { LLM_PROVIDER: 'local' } });
    });

    afterAll(async () => {
      await stack?.close();
    });

    it.each([
      ['How do I run a fake S3 server with s3rver?', 'packages/s3rver/README.md'],
      ['dynalite: an implementation of Amazon DynamoDB built on LevelDB', 'packages/dynalite/readme.md'],
      [
        'How do I execute AWS Step Functions state machines locally with aws-local-stepfunctions?',
        'packages/aws-local-stepfunctions/README.md',
      ],
      [
        'How do I validate an Amazon States Language definition with asl-validator?',
        'packages/asl-validator/README.md',
      ],
    ])('%s → retrieves %s first', async (question, readme) => {
      const asked = await askThroughSlack(stack, question);

      expect(asked.retrieval?.passages[0]?.source).toBe(readme);
      expect(asked.answer?.text).toBeTruthy();
    });
  });
});
