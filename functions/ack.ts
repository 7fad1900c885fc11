import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { type AckHandler, createAckHandler } from './core/ack/ack-app';
import { createExecutionStarter } from './core/ack/start-execution';
import { loadConfig, required } from './core/config';
import { createRuntime, type Runtime } from './core/runtime';

/** Builds the ack handler from a runtime: reads the two Slack secrets, wires the event store and StartExecution. */
export async function createHandler(runtime: Runtime): Promise<AckHandler> {
  const { config, secrets } = runtime;
  const [signingSecret, botToken] = await Promise.all([
    secrets.read(config.secrets.slackSigningSecret, 'SLACK_SIGNING_SECRET'),
    secrets.read(config.secrets.slackBotToken, 'SLACK_BOT_TOKEN'),
  ]);
  return createAckHandler({
    signingSecret,
    botToken,
    slackApiUrl: config.endpoints.slackApi,
    botUserId: config.slack.botUserId,
    eventStore: runtime.eventStore(),
    startExecution: createExecutionStarter(
      runtime.sfnClient(),
      required(config.stateMachineArn, 'CONVERSATION_STATE_MACHINE_ARN'),
    ),
    logger: runtime.logger,
    now: runtime.now,
    maxQuestionChars: config.maxQuestionChars,
    allowedChannels: config.access.allowedChannels,
  });
}

let cached: Promise<AckHandler> | undefined;

/** The ack Lambda behind the Slack Request URL. */
export async function handler(event: AwsEvent, context?: unknown): Promise<AwsResponse> {
  cached ??= createHandler(createRuntime(loadConfig())).catch((error: unknown) => {
    // A failed cold start (say, Secrets Manager throttled) must not poison the warm container.
    cached = undefined;
    throw error;
  });
  return (await cached)(event, context);
}
