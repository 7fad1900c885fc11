import type { LocalStack } from '../../scripts/local/stack';
import type { ExecutionRecord } from '../../stand-ins/aws/step-functions-local';
import { startTestStack, visibleText } from '../support/local-stack';

/**
 * `SLACK_STREAM_MODE=native`: a `chat.startStream` Slack refuses makes that answer edit its placeholder instead.
 * Only a refusal that says the workspace cannot stream at all (its plan, the feature, the token's type or scopes)
 * turns native streaming off for the workspace for a while; a refusal of one request (its content, its channel, a
 * rate limit) falls back for that answer only, and the next answer streams again.
 */

async function executionFor(stack: LocalStack, eventId: string): Promise<ExecutionRecord | undefined> {
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === eventId,
  );
  await execution?.done;
  return execution;
}

function botReplies(stack: LocalStack, channel: string, threadTs: string, afterTs: string) {
  return stack.slack.threadReplies(channel, threadTs).filter((m) => m.bot_id !== undefined && m.ts > afterTs);
}

describe('native streaming after Slack refuses to start a stream', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ stack, close } = await startTestStack({ env: { SLACK_STREAM_MODE: 'native' } }));
  });
  afterEach(() => close());

  it.each(['invalid_chunks', 'msg_too_long', 'not_in_channel'])(
    'a refusal of one request (%s) falls back for that answer only: the next answer streams with its task cards',
    async (error) => {
      // Arrange
      stack.slack.failNext('chat.startStream', { error });

      // Act
      const first = await stack.mention({ text: 'How do I rotate my VPN key?' });
      const firstExecution = await executionFor(stack, first.eventId);
      const second = await stack.mention({ text: 'How often do I have to rotate my VPN key?' });
      await executionFor(stack, second.eventId);

      // Assert: the first answer is in its placeholder (no task cards), the second is a native stream (task cards).
      expect(firstExecution?.status).toBe('SUCCEEDED');
      const [firstAnswer] = botReplies(stack, first.channel, first.threadTs, first.ts);
      expect(visibleText(firstAnswer as never)).toContain('corpvpn rotate-key');
      expect(firstAnswer?.tasks).toBeUndefined();
      const [secondAnswer] = botReplies(stack, second.channel, second.threadTs, second.ts);
      expect(secondAnswer?.tasks?.map((t) => [t.id, t.status])).toEqual([
        ['search', 'complete'],
        ['write', 'complete'],
      ]);
      expect(secondAnswer?.text).toMatch(/90 days/);
    },
  );

  it.each(['not_allowed_token_type', 'feature_not_enabled'])(
    'a refusal that means the workspace cannot stream (%s) is remembered: the next answer edits its placeholder at once',
    async (error) => {
      // Arrange
      stack.slack.failNext('chat.startStream', { error });

      // Act
      const first = await stack.mention({ text: 'How do I rotate my VPN key?' });
      await executionFor(stack, first.eventId);
      const second = await stack.mention({ text: 'How often do I have to rotate my VPN key?' });
      await executionFor(stack, second.eventId);

      // Assert
      expect(stack.slack.calls.filter((c) => c.method === 'chat.startStream')).toHaveLength(1);
      const [secondAnswer] = botReplies(stack, second.channel, second.threadTs, second.ts);
      expect(secondAnswer?.tasks).toBeUndefined();
      expect(visibleText(secondAnswer as never)).toMatch(/90 days/);
    },
  );
});
