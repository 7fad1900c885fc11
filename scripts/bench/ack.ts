import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { App, AwsLambdaReceiver, LogLevel } from '@slack/bolt';
import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { createHandler as createAckHandler } from '../../functions/ack';
import { type Env, loadConfig } from '../../functions/core/config';
import { createRuntime } from '../../functions/core/runtime';
import { ensureConversationTable, startDynalite } from '../../stand-ins/aws/dynamodb-local';
import { startLocalStepFunctions } from '../../stand-ins/aws/step-functions-local';
import { startFakeSlack } from '../../stand-ins/slack/fake-slack';
import { functionUrlEvent, mentionPayload, signedHeaders } from '../../stand-ins/slack/slack-request';
import { LOCAL_BOT_USER_ID, LOCAL_TEAM_ID } from '../local/stack';
import type { BenchContext } from './context';
import type { SectionResult } from './report';
import { percentile, summary } from './stats';

const TABLE_NAME = 'slack-rag-bot-conversations';
const CHANNEL = 'C0BENCH0001';
const WARM_UP = 30;

/**
 * The state machine the ack starts here: one Succeed state. The local Step Functions endpoint runs executions
 * in this very process, and a real conversation execution (retrieval, streaming) would compete with the ack for
 * the CPU and inflate its latency with work that in AWS runs elsewhere. StartExecution itself is unchanged: the
 * real SDK call, over loopback HTTP, to the same local endpoint.
 */
const ACCEPT_ONLY_DEFINITION = {
  Comment: 'Accepts every execution and ends it at once: the ack benchmark measures the ack alone.',
  StartAt: 'Accepted',
  States: { Accepted: { Type: 'Succeed' } },
};

type Handler = (event: AwsEvent, context?: unknown) => Promise<AwsResponse>;

/** A bare Bolt app on the same receiver: verifies the signature, routes `app_mention` to a listener that does nothing. */
function bareBoltHandler(signingSecret: string, botToken: string): Handler {
  const receiver = new AwsLambdaReceiver({ signingSecret, logLevel: LogLevel.ERROR });
  const app = new App({
    receiver,
    logLevel: LogLevel.ERROR,
    authorize: async () => ({ botToken, botUserId: LOCAL_BOT_USER_ID }),
  });
  app.event('app_mention', async () => {});
  return receiver.toHandler();
}

/**
 * Section 1: signed `app_mention` deliveries through the real ack handler (signature check, dedupe write to
 * dynalite, placeholder post to the fake Slack, StartExecution to the local endpoint), called in-process with a
 * Function URL event, so that neither an HTTP server nor the executions' own work is in the figure. The
 * baseline, a bare Bolt app that only acks, gets the same kind of request, interleaved one for one.
 */
export async function benchAck(ctx: BenchContext): Promise<SectionResult> {
  const requests = ctx.quick ? 500 : 1000;
  const signingSecret = crypto.randomUUID().replace(/-/g, '');
  const slack = await startFakeSlack({ botUserId: LOCAL_BOT_USER_ID, teamId: LOCAL_TEAM_ID });
  const dynamo = await startDynalite();
  await ensureConversationTable(dynamo.endpoint, TABLE_NAME);
  const definitionFile = join(ctx.workDir, 'accept-only.asl.json');
  await writeFile(definitionFile, JSON.stringify(ACCEPT_ONLY_DEFINITION));
  const stepFunctions = await startLocalStepFunctions({
    machines: [{ name: 'conversation', definitionFile, handlers: {} }],
  });
  const env: Env = {
    LOG_LEVEL: 'silent',
    // The step's EMF metric lines would share stdout with the child's one JSON result.
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    CONVERSATION_TABLE: TABLE_NAME,
    CONVERSATION_STATE_MACHINE_ARN: stepFunctions.arnOf('conversation'),
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    SFN_ENDPOINT: stepFunctions.endpoint,
    SLACK_API_URL: slack.apiUrl,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: signingSecret,
  };
  const runtime = createRuntime(loadConfig(env));
  try {
    const ack = await createAckHandler(runtime);
    const bare = bareBoltHandler(signingSecret, slack.token);

    const delivery = (text: string) => {
      const payload = mentionPayload({
        text,
        channel: CHANNEL,
        botUserId: LOCAL_BOT_USER_ID,
        teamId: LOCAL_TEAM_ID,
      });
      const body = JSON.stringify(payload);
      return functionUrlEvent(body, signedHeaders(signingSecret, body));
    };
    const call = async (handler: Handler, event: AwsEvent) => {
      const started = performance.now();
      const response = await handler(event);
      const ms = performance.now() - started;
      if (response.statusCode !== 200)
        throw new Error(`ack answered ${response.statusCode}: ${response.body}`);
      return ms;
    };

    ctx.log(`ack: ${WARM_UP} warm-up and ${requests} measured requests to each handler`);
    for (let i = 0; i < WARM_UP; i++) {
      await call(ack, delivery(`warm-up question ${i}`));
      await call(bare, delivery(`warm-up question ${i}`));
    }
    const startsBefore = stepFunctions.executions.length;
    const postsBefore = slack.calls.filter((c) => c.method === 'chat.postMessage').length;
    const ackMs: number[] = [];
    const bareMs: number[] = [];
    for (let i = 0; i < requests; i++) {
      // Alternating which goes first keeps a slow moment of the machine from landing on one side only.
      const question = `How do I rotate my VPN key? (${i})`;
      if (i % 2 === 0) {
        ackMs.push(await call(ack, delivery(question)));
        bareMs.push(await call(bare, delivery(question)));
      } else {
        bareMs.push(await call(bare, delivery(question)));
        ackMs.push(await call(ack, delivery(question)));
      }
    }
    await stepFunctions.waitForIdle();
    const started = stepFunctions.executions.length - startsBefore;
    const placeholders = slack.calls.filter((c) => c.method === 'chat.postMessage').length - postsBefore;
    if (started !== requests || placeholders !== requests) {
      throw new Error(`expected ${requests} executions and placeholders; got ${started} and ${placeholders}`);
    }

    const ack50 = percentile(ackMs, 50);
    const ack99 = percentile(ackMs, 99);
    return {
      key: 'ack',
      title: 'Ack: signed app_mention to 200',
      workload:
        `${requests} signed app_mention deliveries, one at a time, after ${WARM_UP} warm-up; the ack handler called ` +
        'in-process with a Function URL event; dedupe in dynalite, placeholder in the fake Slack, StartExecution to ' +
        'the local endpoint (an accept-only state machine), all over loopback HTTP',
      baseline:
        'a bare Bolt App on the same AwsLambdaReceiver whose app_mention listener does nothing (signature check and ack only), interleaved request for request',
      figures: [
        { name: 'p50', value: ack50, unit: 'ms', baseline: percentile(bareMs, 50) },
        { name: 'p99', value: ack99, unit: 'ms', baseline: percentile(bareMs, 99), target: { max: 50 } },
        {
          name: 'margin on Slack’s 3 s at p99',
          value: 3000 / ack99,
          unit: 'ratio',
          target: { min: 60, text: '≥ 60×' },
        },
      ],
      notes: [
        'The ack’s own work beyond the bare app is five loopback round trips (claim the event, post the placeholder, StartExecution, mark it started, set the thread’s status); in AWS each is a few ms more than here.',
      ],
      details: {
        requests,
        ack: summary(ackMs),
        bareBolt: summary(bareMs),
        executionsStarted: started,
        placeholdersPosted: placeholders,
      },
    };
  } finally {
    runtime.documentClient().destroy();
    runtime.sfnClient().destroy();
    await stepFunctions.close();
    await dynamo.close();
    await slack.close();
  }
}
