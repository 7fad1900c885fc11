import { App, AwsLambdaReceiver, LogLevel } from '@slack/bolt';
import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { AckDependencies } from './ack-dependencies';
import { botIdentityOnce } from './bot-identity';
import { refuseForeignDeliveries } from './foreign-deliveries';
import { registerListeners } from './listeners';
import { createAnswer } from './question';
import { createRefusals } from './refusals';
import { checkSlackRequest } from './request-check';
import { cachedPersonLookup } from './who-may-ask';

export type { AckDependencies, FollowUpPolicy, SuggestedPrompt } from './ack-dependencies';
export { CLAIM_STALE_MS } from './claim';
export { NOT_ENABLED_HERE, TEXT_ONLY, USAGE_HINT } from './immediate-replies';
export { PLACEHOLDER_TEXT } from './question';

export type AckHandler = (event: AwsEvent, context?: unknown) => Promise<AwsResponse>;

/**
 * The ack Lambda: checks the request at the door, lets Bolt verify and route it, and for an `app_mention`
 * claims the event, posts the placeholder and starts the conversation state machine. Nothing slow runs here:
 * no model call, no vector search; Slack gets its 200 within its 3 seconds.
 */
export function createAckHandler(deps: AckDependencies): AckHandler {
  const receiver = new AwsLambdaReceiver({ signingSecret: deps.signingSecret, logLevel: LogLevel.ERROR });
  // Slack waits 3 s for the ack: one quick retry at most, no call may hang, and a 429 is never waited on
  // (WebClient would otherwise sleep for its Retry-After, seconds past Slack's patience): it fails the call at once.
  const clientOptions: WebClientOptions = {
    slackApiUrl: deps.slackApiUrl,
    retryConfig: { retries: 1, minTimeout: 100, maxTimeout: 500 },
    timeout: 2_000,
    rejectRateLimitedCalls: true,
  };
  const identity = botIdentityOnce(new WebClient(deps.botToken, clientOptions), deps);
  // A person lookup runs before the placeholder, inside Slack's 3 s: one try, a short timeout, a cache.
  const lookUpPerson = cachedPersonLookup(
    new WebClient(deps.botToken, { ...clientOptions, retryConfig: { retries: 0 }, timeout: 1_200 }),
    { now: deps.now },
  );
  const app = new App({
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions,
    authorize: async () => {
      const { botUserId, botId } = await identity();
      return { botToken: deps.botToken, botUserId, botId };
    },
  });

  app.use(refuseForeignDeliveries(identity, deps.logger));

  const access = {
    allowSlackConnect: deps.allowSlackConnect === true,
    allowGuests: deps.allowGuests === true,
  };
  const refusals = createRefusals({ identity, lookUpPerson, access, logger: deps.logger });
  // The placeholder's post is never retried blindly: a post whose answer is late may have been made (claim.ts).
  const poster = new WebClient(deps.botToken, { ...clientOptions, retryConfig: { retries: 0 } });
  registerListeners(app, {
    deps,
    answer: createAnswer(deps, identity, refusals, poster),
    refusals,
    identity,
  });

  const boltHandler = receiver.toHandler();
  return async (awsEvent) => {
    const checked = checkSlackRequest(awsEvent, deps);
    if ('refused' in checked) return checked.refused;
    // Bolt reads the body as ASCII when it is base64-encoded; hand it the decoded UTF-8 text instead.
    return boltHandler({ ...awsEvent, body: checked.rawBody, isBase64Encoded: false } as AwsEvent, undefined);
  };
}
