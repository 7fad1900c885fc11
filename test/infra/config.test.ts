import { BotConfigError, DEFAULT_CONFIG, readConfig } from '../../infra/config';
import { cdkJsonContext } from './synth';

const reader = (values: Record<string, unknown>) => (key: string) => values[key];

describe('the deployment configuration', () => {
  it('in cdk.json is exactly the defaults, so the file shows what deploys', () => {
    expect(readConfig(reader(cdkJsonContext()))).toEqual(DEFAULT_CONFIG);
    expect(readConfig(reader({}))).toEqual(DEFAULT_CONFIG);
  });

  it('with bedrock, defaults to Bedrock models, and refuses a model of the other provider, naming the key', () => {
    const bedrock = readConfig(reader({ 'bot:llmProvider': 'bedrock', 'bot:bedrockGuardrail': 'gr0abc1:2' }));
    expect(bedrock).toMatchObject({
      llmProvider: 'bedrock',
      chatModel: 'amazon.nova-lite-v1:0',
      embeddingModel: 'amazon.titan-embed-text-v2:0',
      embeddingDimensions: 1024,
      bedrockGuardrail: { id: 'gr0abc1', version: '2' },
    });

    // cdk.json's OpenAI models left in place when only the provider is switched.
    expect(() => readConfig(reader({ ...cdkJsonContext(), 'bot:llmProvider': 'bedrock' }))).toThrow(
      /bot:chatModel must be a Bedrock model id .* since bot:llmProvider is bedrock; got "gpt-4.1-mini"/,
    );
    expect(() =>
      readConfig(
        reader({
          'bot:llmProvider': 'bedrock',
          'bot:chatModel': 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
          'bot:embeddingModel': 'text-embedding-3-large',
        }),
      ),
    ).toThrow(/bot:embeddingModel must be a Bedrock model id/);
    expect(() => readConfig(reader({ 'bot:chatModel': 'anthropic.claude-3-5-haiku-20241022-v1:0' }))).toThrow(
      /bot:chatModel must be an OpenAI model name .* since bot:llmProvider is openai/,
    );
    expect(() =>
      readConfig(reader({ 'bot:llmProvider': 'bedrock', 'bot:embeddingDimensions': 768 })),
    ).toThrow(/bot:embeddingDimensions must be 256, 512 or 1024 for amazon.titan-embed-text-v2:0/);
  });

  it('accepts `-c` strings as well as cdk.json values', () => {
    const config = readConfig(
      reader({
        'bot:temperature': '0.7',
        'bot:historyTtlDays': '90',
        'bot:allowedChannels': 'C0123ABCD, C0456EFGH',
        'bot:channelCollections': '{"C0123ABCD":["it"],"*":["public"]}',
        'bot:logRetentionDays': '365',
      }),
    );
    expect(config).toMatchObject({
      temperature: 0.7,
      historyTtlDays: 90,
      allowedChannels: ['C0123ABCD', 'C0456EFGH'],
      channelCollections: { C0123ABCD: ['it'], '*': ['public'] },
      logRetentionDays: 365,
    });
  });

  it('takes extra origins for the scheduled sync: web sites and S3 prefixes', () => {
    const fromJson = readConfig(
      reader({ 'bot:ingestOrigins': ['https://docs.example.internal/handbook/', 's3://wiki-export/pages/'] }),
    );
    const fromString = readConfig(
      reader({ 'bot:ingestOrigins': 'https://docs.example.internal/, s3://wiki-export' }),
    );

    expect(fromJson.ingestOrigins).toEqual([
      'https://docs.example.internal/handbook/',
      's3://wiki-export/pages/',
    ]);
    expect(fromString.ingestOrigins).toEqual(['https://docs.example.internal/', 's3://wiki-export']);
  });

  it('takes origins that declare the collection of their documents, in cdk.json or as JSON with -c', () => {
    const declared = [
      'https://docs.example.internal/handbook/',
      { uri: 's3://wiki-export/hr/', collection: 'hr' },
    ];

    const fromJson = readConfig(reader({ 'bot:ingestOrigins': declared }));
    const fromString = readConfig(reader({ 'bot:ingestOrigins': JSON.stringify(declared) }));

    expect(fromJson.ingestOrigins).toEqual(declared);
    expect(fromString.ingestOrigins).toEqual(declared);
  });

  it.each([
    ['bot:ingestOrigins', ['https://user:secret@docs.example.internal/'], /bot:ingestOrigins must be a list/],
    ['bot:ingestOrigins', ['ftp://docs.example.internal/'], /bot:ingestOrigins must be a list/],
    ['bot:ingestOrigins', ['docs/'], /bot:ingestOrigins must be a list/],
    [
      'bot:ingestOrigins',
      [{ uri: 's3://wiki-export/hr/', collection: 'h r' }],
      /bot:ingestOrigins must be a list .*\(origin s3:\/\/wiki-export\/hr\/: the collection name "h r" must be 1 to 64 letters/,
    ],
    [
      'bot:ingestOrigins',
      [{ uri: 's3://wiki-export/hr/', colection: 'hr' }],
      /bot:ingestOrigins must be .*has "colection"; an origin object takes only "uri" and "collection"/,
    ],
    ['bot:ingestOrigins', [{ collection: 'hr' }], /bot:ingestOrigins must be .*needs a "uri"/],
    ['bot:ingestOrigins', [{ uri: 'docs/hr/', collection: 'hr' }], /bot:ingestOrigins must be a list/],
    ['bot:ingestOrigins', '[{"uri": "s3://wiki-export/hr/",', /bot:ingestOrigins must be a list/],
    ['bot:temperature', '3', /bot:temperature must be a number from 0 to 2/],
    ['bot:historyTtlDays', 1.5, /bot:historyTtlDays must be a whole number/],
    ['bot:allowedChannels', 'general', /bot:allowedChannels must be a list of Slack channel ids/],
    ['bot:channelCollections', '{"C1":"it"}', /bot:channelCollections must be an object/],
    ['bot:ingestSchedule', '0 3 * * *', /bot:ingestSchedule must be an EventBridge Scheduler expression/],
    ['bot:llmProvider', 'anthropic', /bot:llmProvider must be one of openai, bedrock, local/],
    ['bot:bedrockRegion', 'virginia', /bot:bedrockRegion must be an AWS region/],
    ['bot:bedrockGuardrail', 'my guardrail', /bot:bedrockGuardrail must be a Bedrock Guardrail/],
    ['bot:logRetentionDays', 45, /bot:logRetentionDays must be one of CloudWatch Logs' retention periods/],
    ['bot:slackTeamId', 'workspace', /bot:slackTeamId must be a Slack team id/],
    ['bot:slackAppId', 'U0123ABCD', /bot:slackAppId must be a Slack app id/],
    ['bot:allowGuests', 'yes please', /bot:allowGuests must be true or false/],
    [
      'bot:conversationExecutionLog',
      'data',
      /bot:conversationExecutionLog must be one of events, all, errors/,
    ],
    ['bot:ingestExecutionLog', 'data', /bot:ingestExecutionLog must be one of events, all, errors/],
    ['bot:ackReservedConcurrency', 0, /bot:ackReservedConcurrency must be a number from 1 to 1000/],
    [
      'bot:retrieveProvisionedConcurrency',
      0,
      /bot:retrieveProvisionedConcurrency must be a number from 1 to 1000/,
    ],
    ['bot:retrieveMemoryMb', 64, /bot:retrieveMemoryMb must be a number from 128 to 10240/],
    ['bot:retrieveMemoryMb', 20_480, /bot:retrieveMemoryMb must be a number from 128 to 10240/],
    ['bot:retrieveMemoryMb', 1536.5, /bot:retrieveMemoryMb must be a whole number/],
    ['bot:ingestMaxConcurrency', 0, /bot:ingestMaxConcurrency must be a number from 1 to 1000/],
    ['bot:ingestMaxConcurrency', 2.5, /bot:ingestMaxConcurrency must be/],
    ['bot:ingestIndexTailRows', -1, /bot:ingestIndexTailRows must be a number from 0 to 10000/],
    ['bot:ingestIndexTailRows', 10_001, /bot:ingestIndexTailRows must be a number from 0 to 10000/],
  ])('refuses %s = %p, naming the key', (key, value, message) => {
    expect(() => readConfig(reader({ [key]: value }))).toThrow(BotConfigError);
    expect(() => readConfig(reader({ [key]: value }))).toThrow(message);
  });
});
