import { createHash } from 'node:crypto';
import { loadConfig } from '../../functions/core/config';
import { ConfigError, PermanentError } from '../../functions/core/errors';
import { resolveSyncSettings } from '../../functions/core/ingest/plan-sync';
import {
  describeStepError,
  fingerprintMatches,
  syncFingerprint,
} from '../../functions/core/ingest/sync-types';

describe('the ingest configuration', () => {
  it('has defaults that suit English and Japanese and a local staging directory', () => {
    const { ingest } = loadConfig({});
    expect(ingest).toMatchObject({
      origins: [],
      stagingUri: '.local/ingest-staging',
      chunkSize: 1_000,
      chunkOverlap: 150,
      maxFileBytes: 2 * 1024 * 1024,
      maxPdfWordBytes: 32 * 1024 * 1024,
      sourceLinks: {},
      batchDocuments: 25,
      concurrency: 4,
      vectorIndexMinRows: 256,
      lockTtlSeconds: 7_200,
      indexTailRows: 150,
    });
  });

  it('reads the unindexed rows Optimize may leave, 0 folding after every sync, and refuses a tail past 10,000', () => {
    expect(loadConfig({ INGEST_INDEX_TAIL_ROWS: '0' }).ingest.indexTailRows).toBe(0);
    expect(loadConfig({ INGEST_INDEX_TAIL_ROWS: '1000' }).ingest.indexTailRows).toBe(1_000);
    expect(() => loadConfig({ INGEST_INDEX_TAIL_ROWS: '10001' })).toThrow(/INGEST_INDEX_TAIL_ROWS/);
    expect(() => loadConfig({ INGEST_INDEX_TAIL_ROWS: '-1' })).toThrow(ConfigError);
  });

  it('reads the origins of the scheduled sync and fails fast on a bad value, naming the variable', () => {
    expect(loadConfig({ INGEST_ORIGINS: 's3://docs/handbook/, s3://docs/wiki/' }).ingest.origins).toEqual([
      's3://docs/handbook/',
      's3://docs/wiki/',
    ]);
    expect(() => loadConfig({ INGEST_CHUNK_SIZE: '500', INGEST_CHUNK_OVERLAP: '500' })).toThrow(
      /INGEST_CHUNK_OVERLAP must be less than INGEST_CHUNK_SIZE/,
    );
    expect(() => loadConfig({ INGEST_CONCURRENCY: '0' })).toThrow(ConfigError);
  });

  it('reads INGEST_ORIGINS as a JSON array whose origins may declare a collection, and refuses a bad one', () => {
    expect(
      loadConfig({ INGEST_ORIGINS: '["s3://docs/public/", {"uri": "s3://docs/hr/", "collection": "hr"}]' })
        .ingest.origins,
    ).toEqual(['s3://docs/public/', { uri: 's3://docs/hr/', collection: 'hr' }]);
    expect(() => loadConfig({ INGEST_ORIGINS: '[{"uri": "s3://docs/hr/", "collection": "h r"}]' })).toThrow(
      /INGEST_ORIGINS: origin s3:\/\/docs\/hr\/: the collection name "h r" must be 1 to 64 letters/,
    );
    expect(() => loadConfig({ INGEST_ORIGINS: '[{"url": "s3://docs/hr/"}]' })).toThrow(
      /INGEST_ORIGINS: .*"url".*takes only "uri" and "collection"/,
    );
    expect(() => loadConfig({ INGEST_ORIGINS: '["s3://docs/hr/",' })).toThrow(/INGEST_ORIGINS must be/);
  });
});

describe('resolveSyncSettings', () => {
  const ingest = loadConfig({ INGEST_ORIGINS: 's3://docs/handbook/' }).ingest;

  it('syncs INGEST_ORIGINS with pruning when started with an empty input, as the schedule starts it', () => {
    expect(resolveSyncSettings({}, ingest)).toMatchObject({
      origins: ['s3://docs/handbook/'],
      prune: true,
      rebuild: false,
      collection: null,
    });
  });

  it('takes what the input says', () => {
    expect(
      resolveSyncSettings(
        { origins: ['docs', 'docs'], prune: false, rebuild: true, collection: 'hr' },
        ingest,
      ),
    ).toMatchObject({ origins: ['docs'], prune: false, rebuild: true, collection: 'hr' });
  });

  it('takes origins that declare the collection of their documents', () => {
    expect(
      resolveSyncSettings(
        { origins: ['docs', { uri: 'docs/hr/', collection: 'hr' }, { uri: 'docs', collection: 'all' }] },
        ingest,
      ),
    ).toMatchObject({ origins: ['docs', 'docs/hr/'], originCollections: { 'docs/hr/': 'hr', docs: 'all' } });
    expect(resolveSyncSettings({ origins: ['docs'] }, ingest)).not.toHaveProperty('originCollections');
  });

  it('refuses an origin object that is not one, or a collection name that is not one, naming it', () => {
    const settings = (input: unknown) => () => resolveSyncSettings(input, ingest);
    expect(settings({ origins: [{ uri: 'docs/hr/', collection: '' }] })).toThrow(
      /"origins": origin docs\/hr\/: the collection name "" must be 1 to 64 letters, digits/,
    );
    expect(settings({ origins: [{ uri: 'docs/hr/', collection: "hr' OR 1=1" }] })).toThrow(PermanentError);
    expect(settings({ origins: [{ collection: 'hr' }] })).toThrow(/needs a "uri"/);
    expect(settings({ origins: [{ uri: 'docs/', colection: 'hr' }] })).toThrow(/"colection"/);
    expect(settings({ origins: [42] })).toThrow(/must be a string or \{"uri"/);
    expect(
      settings({
        origins: [
          { uri: 'docs/', collection: 'a' },
          { uri: 'docs/', collection: 'b' },
        ],
      }),
    ).toThrow(/given twice, with the collections "a" and "b"/);
    expect(settings({ collection: 'people ops' })).toThrow(/"collection" must be a collection name/);
  });

  it('refuses a malformed input, or no origin at all, as a permanent error', () => {
    const none = loadConfig({}).ingest;
    expect(() => resolveSyncSettings({}, none)).toThrow(/nothing to sync/);
    expect(() => resolveSyncSettings({ origins: 'docs' }, ingest)).toThrow(PermanentError);
    expect(() => resolveSyncSettings({ prune: 'yes' }, ingest)).toThrow(/"prune" must be true or false/);
    expect(() => resolveSyncSettings({ collection: '' }, ingest)).toThrow(/"collection"/);
  });
});

describe('syncFingerprint', () => {
  const base = { chunkSize: 1000, chunkOverlap: 150 };
  /** The fingerprint as it was computed before the collection was tracked apart (`[version, size, overlap, collection]`). */
  const fingerprintBefore = (collection: string | null, chunkSize = 1000) =>
    createHash('sha256')
      .update(JSON.stringify([1, chunkSize, 150, collection]))
      .digest('hex')
      .slice(0, 16);

  it('changes with the settings that decide the chunks, so their change re-indexes', () => {
    expect(syncFingerprint(base)).toBe(syncFingerprint({ ...base }));
    expect(syncFingerprint({ ...base, chunkSize: 800 })).not.toBe(syncFingerprint(base));
  });

  it('leaves the collection out, and is what it was for a sync that named no collection', () => {
    expect(syncFingerprint(base)).toBe(fingerprintBefore(null));
  });

  it("matches an older entry's fingerprint made with the entry's or the sync's collection, never other chunk settings", () => {
    expect(fingerprintMatches(fingerprintBefore(null), base, [])).toBe(true);
    expect(fingerprintMatches(fingerprintBefore('hr'), base, ['hr', null])).toBe(true);
    expect(fingerprintMatches(fingerprintBefore('hr'), base, [null, 'hr'])).toBe(true);
    expect(fingerprintMatches(fingerprintBefore('hr'), base, ['people', null])).toBe(false);
    expect(fingerprintMatches(fingerprintBefore('hr', 800), base, ['hr'])).toBe(false);
  });
});

describe('describeStepError', () => {
  it("reads the message of a Lambda error's Cause, and keeps any other Cause as it is", () => {
    const lambda = JSON.stringify({ errorType: 'PermanentError', errorMessage: 'bad key', trace: ['at x'] });
    expect(describeStepError({ Error: 'PermanentError', Cause: lambda })).toBe('bad key');
    expect(describeStepError({ Error: 'States.Timeout', Cause: 'timed out' })).toBe('timed out');
    expect(describeStepError({ Error: 'States.Timeout' })).toBe('States.Timeout');
  });
});
