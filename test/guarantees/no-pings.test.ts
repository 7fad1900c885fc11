import { askThroughSlack } from '../../scripts/local/ask-client';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { type LocalStack, startTestStack } from '../support/local-stack';

/**
 * Nothing the model writes can notify anyone: an answer holding every kind of Slack mention, streamed end to end
 * through the local stack in each stream mode, reaches the fake Slack with none of them intact.
 */

const PINGS =
  'Ask <!channel> and <!here> (or <!everyone|everyone>), or <@U0VICTIM01> and <!subteam^S0ONCALL|@oncall> in <#C0OPS0001|ops>.';

describe.each(['native', 'update'] as const)('SLACK_STREAM_MODE=%s', (mode) => {
  let openai: FakeOpenAI;
  let stack: LocalStack;
  let close: () => Promise<void>;

  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-no-pings' });
    ({ stack, close } = await startTestStack({
      env: {
        LLM_PROVIDER: 'openai',
        OPENAI_API_KEY: 'sk-no-pings',
        OPENAI_BASE_URL: openai.url,
        SLACK_STREAM_MODE: mode,
      },
    }));
  });
  afterAll(async () => {
    await close();
    await openai.close();
  });

  it('an answer full of mentions reaches Slack with none that would notify anyone', async () => {
    // Arrange: the model (or a document it quotes) writes every kind of mention.
    openai.script(`Here is who to ask. ${PINGS} That is all.`);
    const callsBefore = stack.slack.calls.length;

    // Act
    const result = await askThroughSlack(stack, 'How do I rotate my VPN key?');

    // Assert
    expect(result.execution?.status).toBe('SUCCEEDED');
    const sent = stack.slack.calls.slice(callsBefore).filter((call) => call.method.startsWith('chat.'));
    if (mode === 'native') expect(sent.map((call) => call.method)).toContain('chat.startStream');
    expect(sent.length).toBeGreaterThan(0);
    for (const call of sent) expect(JSON.stringify(call.args)).not.toMatch(/<[!@#]/);
    const shown = result.replies.map((reply) => JSON.stringify(reply)).join('\n');
    expect(shown).not.toMatch(/<[!@#]/);
    expect(shown).toContain('VICTIM01');
  });
});
