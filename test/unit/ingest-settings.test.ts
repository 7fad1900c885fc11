import { loadConfig } from '../../functions/core/config';
import { ConfigError, PermanentError } from '../../functions/core/errors';
import { resolveSyncSettings } from '../../functions/core/ingest/plan-sync';
import { describeStepError, syncFingerprint } from '../../functions/core/ingest/sync-types';

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
    });
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

  it('refuses a malformed input, or no origin at all, as a permanent error', () => {
    const none = loadConfig({}).ingest;
    expect(() => resolveSyncSettings({}, none)).toThrow(/nothing to sync/);
    expect(() => resolveSyncSettings({ origins: 'docs' }, ingest)).toThrow(PermanentError);
    expect(() => resolveSyncSettings({ prune: 'yes' }, ingest)).toThrow(/"prune" must be true or false/);
    expect(() => resolveSyncSettings({ collection: '' }, ingest)).toThrow(/"collection"/);
  });
});

describe('syncFingerprint', () => {
  it('changes with the settings that decide the chunks, so their change re-indexes', () => {
    const base = { chunkSize: 1000, chunkOverlap: 150, collection: null };
    expect(syncFingerprint(base)).toBe(syncFingerprint({ ...base }));
    expect(syncFingerprint({ ...base, chunkSize: 800 })).not.toBe(syncFingerprint(base));
    expect(syncFingerprint({ ...base, collection: 'hr' })).not.toBe(syncFingerprint(base));
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
