import { loadConfig } from '../../functions/core/config';
import { ConfigError } from '../../functions/core/errors';
import { createSecretReader } from '../../functions/core/secrets';
import { configuredStoreAccess } from '../../functions/core/vector-store/connect-vector-store';

const secrets = createSecretReader({ region: 'us-east-1' });

describe('LANCEDB_URI=db://… (LanceDB Cloud)', () => {
  it('is LanceDB Cloud in us-east-1 unless LANCEDB_REGION says otherwise', () => {
    expect(loadConfig({ LANCEDB_URI: 'db://handbook' }).vectorStore.cloud).toEqual({ region: 'us-east-1' });
    expect(
      loadConfig({
        LANCEDB_URI: 'db://handbook',
        LANCEDB_REGION: 'eu-west-1',
        LANCEDB_HOST_OVERRIDE: 'https://lancedb.internal.example',
      }).vectorStore.cloud,
    ).toEqual({ region: 'eu-west-1', hostOverride: 'https://lancedb.internal.example' });
  });

  it('leaves a directory or an s3:// store as it was', () => {
    expect(loadConfig({ LANCEDB_URI: 's3://data/lancedb' }).vectorStore.cloud).toBeUndefined();
    expect(loadConfig({}).vectorStore.cloud).toBeUndefined();
  });

  it('refuses a db:// URI without a database name, a bad region or a host that is not http(s), naming the variable', () => {
    expect(() => loadConfig({ LANCEDB_URI: 'db://' })).toThrow(/LANCEDB_URI must be db:\/\/<database name>/);
    expect(() => loadConfig({ LANCEDB_URI: 'db://handbook', LANCEDB_REGION: 'US East' })).toThrow(
      /LANCEDB_REGION must be a LanceDB Cloud region/,
    );
    expect(() => loadConfig({ LANCEDB_URI: 'db://handbook', LANCEDB_HOST_OVERRIDE: 'ftp://x' })).toThrow(
      /LANCEDB_HOST_OVERRIDE must be an http\(s\) URL/,
    );
  });

  it('takes the key as a value or as a Secrets Manager ARN, never both', () => {
    expect(loadConfig({ LANCEDB_API_KEY: 'sk-1' }).secrets.lancedbApiKey).toEqual({ value: 'sk-1' });
    expect(
      loadConfig({ LANCEDB_API_KEY_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:k' }).secrets
        .lancedbApiKey,
    ).toEqual({ arn: 'arn:aws:secretsmanager:us-east-1:1:secret:k' });
    expect(() => loadConfig({ LANCEDB_API_KEY: 'sk-1', LANCEDB_API_KEY_ARN: 'arn:x' })).toThrow(
      /either LANCEDB_API_KEY or LANCEDB_API_KEY_ARN/,
    );
  });

  it('gives a db:// connection its key, region and host, and an s3:// one its bucket settings and no key', async () => {
    const cloud = loadConfig({
      LANCEDB_URI: 'db://handbook',
      LANCEDB_API_KEY: 'sk-1',
      LANCEDB_HOST_OVERRIDE: 'http://127.0.0.1:9',
    });
    const s3 = loadConfig({
      LANCEDB_URI: 's3://data/lancedb',
      LANCEDB_API_KEY: 'sk-1',
      AWS_REGION: 'eu-west-1',
    });

    expect(await configuredStoreAccess(cloud, secrets)).toEqual({
      cloud: { apiKey: 'sk-1', region: 'us-east-1', hostOverride: 'http://127.0.0.1:9' },
    });
    expect(await configuredStoreAccess(s3, secrets)).toEqual({ region: 'eu-west-1' });
  });

  it('without a key, fails naming both ways to give one', async () => {
    const config = loadConfig({ LANCEDB_URI: 'db://handbook' });

    await expect(configuredStoreAccess(config, secrets)).rejects.toThrow(ConfigError);
    await expect(configuredStoreAccess(config, secrets)).rejects.toThrow(
      /LANCEDB_API_KEY \(or LANCEDB_API_KEY_ARN\) is not set/,
    );
  });
});
