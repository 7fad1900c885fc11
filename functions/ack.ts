import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { type AckHandler, createAckHandler } from './core/ack/ack-app';
import { createExecutionStarter } from './core/ack/start-execution';
import { loadConfig, required } from './core/config';
import { createRuntime, type Runtime } from './core/runtime';

/** Builds the ack handler from a runtime and the two Slack secrets' current values. */
function buildHandler(runtime: Runtime, signingSecret: string, botToken: string): AckHandler {
  const { config } = runtime;
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
    teamId: config.slack.teamId,
    appId: config.slack.appId,
    allowSlackConnect: config.access.allowSlackConnect,
    allowGuests: config.access.allowGuests,
    slackSearch: config.slack.search,
    historyStore: runtime.historyStore(),
    followUps: config.slack.followUps,
    ...(config.channelProfiles === undefined ? {} : { channelProfiles: config.channelProfiles }),
    suggestedPrompts: config.slack.suggestedPrompts,
    dailyQuestionLimit: config.slack.dailyQuestionLimit,
    metrics: runtime.metrics(),
  });
}

/**
 * The ack handler for a runtime. The Slack secrets are read on every request through the secret reader's cache
 * (a few minutes in AWS), and the Bolt app is rebuilt when a value changed, so a rotated signing secret or bot
 * token takes effect in warm containers too, without a redeploy.
 */
export async function createHandler(runtime: Runtime): Promise<AckHandler> {
  const { config, secrets } = runtime;
  let current: { key: string; handler: AckHandler } | undefined;
  const handlerForCurrentSecrets = async (): Promise<AckHandler> => {
    const [signingSecret, botToken] = await Promise.all([
      secrets.read(config.secrets.slackSigningSecret, 'SLACK_SIGNING_SECRET'),
      secrets.read(config.secrets.slackBotToken, 'SLACK_BOT_TOKEN'),
    ]);
    const key = `${signingSecret}\u0000${botToken}`;
    if (current?.key !== key) current = { key, handler: buildHandler(runtime, signingSecret, botToken) };
    return current.handler;
  };
  await handlerForCurrentSecrets();
  return async (event, context) => {
    // Bolt answers a failed handler with a 500 response rather than an exception, so Lambda's Errors metric never
    // sees it: every 5xx Slack gets is counted here, and alarmed on in the stack.
    try {
      const response = await (await handlerForCurrentSecrets())(event, context);
      if (response.statusCode >= 500) runtime.metrics().count('AckServerErrors');
      return response;
    } catch (error) {
      runtime.metrics().count('AckServerErrors');
      throw error;
    }
  };
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
