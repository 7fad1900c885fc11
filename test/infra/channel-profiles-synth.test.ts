import { readConfig } from '../../infra/config';
import { resourcesOf, synthWithoutBundling } from './synth';

/** Issue 24, point 2: `bot:channelProfiles` is validated at synth like every setting, naming the bad entry. */

const reader = (values: Record<string, unknown>) => (key: string) => values[key];

describe('bot:channelProfiles at synth', () => {
  it('takes profiles from cdk.json (an object) or `-c` (a JSON string)', () => {
    const profiles = {
      C0123ABCD: { instructions: 'Answer briefly, in a friendly tone.', model: 'gpt-4.1', topK: 3 },
      '*': { followUps: 'off' },
    };

    const fromJson = readConfig(reader({ 'bot:channelProfiles': profiles }));
    const fromString = readConfig(reader({ 'bot:channelProfiles': JSON.stringify(profiles) }));

    expect(fromJson.channelProfiles).toEqual(profiles);
    expect(fromString.channelProfiles).toEqual(profiles);
  });

  it.each([
    [
      'a model of another provider',
      { 'bot:channelProfiles': { C0123ABCD: { model: 'anthropic.claude-3-5-sonnet-20240620-v1:0' } } },
      /bot:channelProfiles .*entry "C0123ABCD": model "anthropic\.claude.*" belongs to the bedrock provider, but this deployment's is openai/,
    ],
    [
      'the offline model on an openai deployment',
      { 'bot:channelProfiles': { '*': { model: 'local-extractive' } } },
      /entry "\*": model "local-extractive" belongs to the local provider/,
    ],
    [
      'an OpenAI model on a local deployment',
      { 'bot:llmProvider': 'local', 'bot:channelProfiles': { C0123ABCD: { model: 'gpt-4.1' } } },
      /entry "C0123ABCD": model "gpt-4\.1" belongs to the openai provider, but this deployment's is local/,
    ],
    [
      'a top-k out of range',
      { 'bot:channelProfiles': { C0123ABCD: { topK: 0 } } },
      /entry "C0123ABCD": topK/,
    ],
    [
      'an unknown follow-up policy',
      { 'bot:channelProfiles': { C0123ABCD: { followUps: 'everyone' } } },
      /entry "C0123ABCD": followUps must be one of off, asker, anyone/,
    ],
    [
      'a misspelt field',
      { 'bot:channelProfiles': { C0123ABCD: { instruction: 'Be brief' } } },
      /entry "C0123ABCD": unknown field "instruction"/,
    ],
    ['a key that is no channel', { 'bot:channelProfiles': { general: {} } }, /entry "general": the key/],
    [
      'JSON that does not parse',
      { 'bot:channelProfiles': '{"C0123ABCD":' },
      /bot:channelProfiles .*not valid JSON/,
    ],
  ])('refuses %s, naming the entry', (_, context, message) => {
    expect(() => readConfig(reader(context))).toThrow(message);
  });

  it('gives the profiles to the ack (follow-ups) and Load history (the rest), and to no other function', () => {
    const profiles = { C0123ABCD: { instructions: 'Be brief.', topK: 3 } };
    const { template } = synthWithoutBundling({ 'bot:channelProfiles': profiles });

    const withProfiles = resourcesOf(template, 'AWS::Lambda::Function')
      .filter(([, fn]) => 'CHANNEL_PROFILES' in (fn.Properties.Environment?.Variables ?? {}))
      .map(([id, fn]) => [id, JSON.parse(fn.Properties.Environment.Variables.CHANNEL_PROFILES)]);
    const ids = withProfiles.map(([id]) => id);
    expect(ids).toHaveLength(2);
    expect(ids).toEqual(
      expect.arrayContaining([expect.stringMatching(/Ack/), expect.stringMatching(/LoadHistory/)]),
    );
    for (const [, value] of withProfiles) expect(value).toEqual(profiles);
  });
});
