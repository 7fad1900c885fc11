import {
  Annotations,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  TimeZone,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { conversationFunctions } from '../functions/conversation-functions';
import { stagingKeys } from '../functions/core/ingest/sync-types';
import { type FailureMetric, metricsNamesOf } from '../functions/core/metrics';
import { ingestFunctions } from '../functions/ingest-functions';
import { BotFunction } from './bot-function';
import type { BotConfig } from './config';
import { dailyTokens, UsageDashboard } from './dashboard';
import { assertFunctionUrlRegion } from './regions';
import {
  type BotResources,
  bindAck,
  conversationStepAccess,
  ingestStepAccess,
  STAGING_PREFIX,
} from './step-access';
import { Workflow } from './workflow';

export interface SlackRagBotStackProps extends StackProps {
  config: BotConfig;
}

/**
 * The whole bot in one stack: the ack behind a Function URL (Slack's Request URL), the conversation state
 * machine (Express) of small Lambdas, the ingest state machine (Standard) on a schedule, one DynamoDB table,
 * the documents and data buckets, the three secrets (a fourth with bot:lancedbUri: the LanceDB Cloud key), and alarms. Environment-agnostic: the account and region
 * are the CLI's.
 */
export class SlackRagBotStack extends Stack {
  constructor(scope: Construct, id: string, props: SlackRagBotStackProps) {
    super(scope, id, props);
    const { config } = props;
    // Environment-agnostic: the region is the CLI's (CDK_DEFAULT_REGION), unless the stack was given one.
    assertFunctionUrlRegion(Token.isUnresolved(this.region) ? process.env.CDK_DEFAULT_REGION : this.region);
    const logging = { logLevel: config.logLevel, logRetention: config.logRetentionDays };

    const table = new dynamodb.Table(this, 'ConversationTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Kept on delete and replacement, but not when a failed first deploy rolls back (nothing to keep then).
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });

    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      ...secureBucket(),
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    const documentsBucket = new s3.Bucket(this, 'DocumentsBucket', {
      ...secureBucket(),
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'documents/',
      lifecycleRules: [
        {
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(30),
        },
      ],
    });
    const dataBucket = new s3.Bucket(this, 'DataBucket', {
      ...secureBucket(),
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'data/',
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Rows staged by a sync that died before its Commit cleaned them up.
        { prefix: `${STAGING_PREFIX}/`, expiration: Duration.days(3) },
      ],
    });

    const secret = (id: string, description: string) => {
      const created = new secretsmanager.Secret(this, id, {
        description: `${description}. Put its value after deploying (docs/deploy.md, Deploying to AWS).`,
      });
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Issued by Slack, OpenAI or LanceDB, which Secrets Manager has no rotation function for: rotate it there, then ' +
          'put-secret-value (docs/deploy.md); the steps re-read it within 5 minutes, the ack on its next cold start.',
      });
      return created;
    };
    const resources: BotResources = {
      config,
      table,
      dataBucket,
      documentsBucket,
      slackSigningSecret: secret('SlackSigningSecret', "The Slack app's signing secret"),
      slackBotToken: secret('SlackBotToken', "The Slack app's bot token (xoxb-...)"),
      // Only for OpenAI: Bedrock is reached with the functions' roles, and the offline models need nothing.
      ...(config.llmProvider === 'openai'
        ? { openAiApiKey: secret('OpenAiApiKey', 'The OpenAI API key') }
        : {}),
      // Only when the vectors live in LanceDB Cloud (bot:lancedbUri); then no function reads the bucket's LanceDB prefix.
      ...(config.lancedbUri === undefined
        ? {}
        : { lancedbApiKey: secret('LanceDbApiKey', `The LanceDB Cloud API key of ${config.lancedbUri}`) }),
    };

    const conversation = new Workflow(this, 'Conversation', {
      definitionFile: 'statemachine/conversation.asl.json',
      functions: conversationFunctions,
      access: conversationStepAccess,
      resources,
      type: sfn.StateMachineType.EXPRESS,
      ...logging,
      // Every event, so the console shows every execution (an Express one is only in these logs), but without
      // the states' input and output by default: they hold the question, the thread's history and the passages,
      // which "forget this thread" cannot remove from CloudWatch Logs (bot:conversationExecutionLog).
      executionLog: config.conversationExecutionLog,
      // Opt-in (bot:retrieveProvisionedConcurrency): environments whose init has loaded the indexes before a
      // question, for organisations whose corpus makes a new container's first answer slow (docs/performance.md,
      // "How big a corpus"). Not by default, for the same quota as the ack's reservation below.
      ...(config.retrieveProvisionedConcurrency === undefined
        ? {}
        : { provisionedConcurrency: { RetrieveFunctionArn: config.retrieveProvisionedConcurrency } }),
      // bot:retrieveMemoryMb: Retrieve sizes LanceDB's index cache from its memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE),
      // and Lambda its CPU, so a corpus whose indexes outgrow a 1,024-MB function's cache gets a larger one here.
      memoryMb: { RetrieveFunctionArn: config.retrieveMemoryMb },
    });
    warnIfMemoryCannotFit(this, config.retrieveMemoryMb);

    // The Request URL. A Function URL, not API Gateway: Slack authenticates with its own HMAC signature, which
    // only the ack can verify (an IAM or JWT authorizer cannot), and there is no hop or per-request fee to add.
    const ack = new BotFunction(this, 'Ack', {
      entry: 'functions/ack.ts',
      // Slack waits 3 s; the memory buys the CPU that makes a cold start fit in them.
      timeout: Duration.seconds(10),
      memorySize: 1024,
      description: 'Slack Request URL: verifies, dedupes, posts the placeholder and starts the conversation',
      // Opt-in (bot:ackReservedConcurrency): the URL is public, and a flood of requests (forged ones are refused,
      // but each still runs the ack) is then capped here, so it can neither exhaust the account's concurrency for
      // the workflow's Lambdas nor run up the bill, and Slack's own deliveries always find this much free. Not by
      // default: Lambda keeps 100 unreserved, so a new account (quota 10) cannot reserve any and the deploy fails.
      reservedConcurrentExecutions: config.ackReservedConcurrency,
      ...logging,
    });
    warnIfConcurrencyCannotFit(this, {
      ackReservedConcurrency: config.ackReservedConcurrency,
      retrieveProvisionedConcurrency: config.retrieveProvisionedConcurrency,
    });
    bindAck(ack, resources);
    ack.bindStateMachine(conversation.stateMachine, 'CONVERSATION_STATE_MACHINE_ARN');
    const requestUrl = ack.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });

    const ingest = new Workflow(this, 'Ingest', {
      definitionFile: 'statemachine/ingest.asl.json',
      functions: ingestFunctions,
      access: ingestStepAccess,
      resources,
      type: sfn.StateMachineType.STANDARD,
      ...logging,
      executionLog: config.ingestExecutionLog,
      // The batch numbers Plan stages for each sync, and the Map Run's results beside them (sync-types.ts).
      distributedMapData: {
        bucket: dataBucket,
        itemKeys: `${STAGING_PREFIX}/${stagingKeys.items('*')}`,
        resultPrefix: `${STAGING_PREFIX}/${stagingKeys.mapResults('*')}`,
      },
    });
    new scheduler.Schedule(this, 'IngestSchedule', {
      description: 'Syncs the documents bucket into the vector store',
      schedule: scheduler.ScheduleExpression.expression(
        config.ingestSchedule,
        TimeZone.of(config.ingestScheduleTimeZone),
      ),
      // `{}`: sync INGEST_ORIGINS (the documents bucket), pruning documents that were deleted.
      target: new schedulerTargets.StepFunctionsStartExecution(ingest.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({}),
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });

    this.addAlarms(config, conversation, ingest, ack);
    new UsageDashboard(this, 'Usage', { config });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('SlackRequestUrl', requestUrl.url, "Paste into the Slack app's Event Subscriptions > Request URL");
    output(
      'DocumentsBucketName',
      documentsBucket.bucketName,
      'Upload the documents the bot answers from here',
    );
    output(
      'IngestStateMachineArn',
      ingest.stateMachine.stateMachineArn,
      'Start a sync: aws stepfunctions start-execution',
    );
    output(
      'ConversationStateMachineArn',
      conversation.stateMachine.stateMachineArn,
      'One execution per answer',
    );
    output(
      'SlackSigningSecretArn',
      resources.slackSigningSecret.secretArn,
      'Put the Slack signing secret here',
    );
    output('SlackBotTokenArn', resources.slackBotToken.secretArn, 'Put the Slack bot token (xoxb-...) here');
    if (resources.openAiApiKey !== undefined) {
      output('OpenAiApiKeyArn', resources.openAiApiKey.secretArn, 'Put the OpenAI API key here');
    }
    if (resources.lancedbApiKey !== undefined) {
      output('LanceDbApiKeyArn', resources.lancedbApiKey.secretArn, 'Put the LanceDB Cloud API key here');
    }
    output('ConversationTableName', table.tableName, 'History, event dedupe, the ingest manifest and lock');
    output(
      'AckLogGroupName',
      ack.logGroup.logGroupName,
      "The ack's logs (one line per mention, with its event id)",
    );
    output('AckFunctionName', ack.function.functionName, 'The Lambda behind the Request URL');
    output('ConversationLogGroupName', conversation.logGroup.logGroupName, 'Every answer, state by state');
    output('IngestLogGroupName', ingest.logGroup.logGroupName, 'Every sync, state by state');
  }

  private addAlarms(
    config: BotConfig,
    conversation: Workflow<string>,
    ingest: Workflow<string>,
    ack: BotFunction,
  ): void {
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Slack RAG bot alarms',
      enforceSSL: true,
    });
    if (config.alarmEmail) topic.addSubscription(new snsSubscriptions.EmailSubscription(config.alarmEmail));
    const notify = new cloudwatchActions.SnsAction(topic);
    const alarms: cloudwatch.Alarm[] = [];
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(notify);
      alarms.push(created);
      return created;
    };
    const period = Duration.minutes(5);
    for (const [name, workflow] of [
      ['Conversation', conversation],
      ['Ingest', ingest],
    ] as const) {
      const sm = workflow.stateMachine;
      alarm(
        `${name}ExecutionsFailedAlarm`,
        sm.metricFailed({ period, statistic: 'Sum' }),
        1,
        `${name} executions failed: open them in the Step Functions console (the apology in Slack names the execution).`,
      );
      alarm(
        `${name}ExecutionsTimedOutAlarm`,
        sm.metricTimedOut({ period, statistic: 'Sum' }),
        1,
        `${name} executions timed out.`,
      );
    }
    alarm(
      'AckErrorsAlarm',
      ack.function.metricErrors({ period, statistic: 'Sum' }),
      1,
      'The ack Lambda failed: Slack saw an error instead of a 200 (check its log group).',
    );
    const metricsNames = metricsNamesOf(Stack.of(this).stackName);
    const failureCount = (metricName: FailureMetric) =>
      new cloudwatch.Metric({
        namespace: metricsNames.namespace,
        metricName,
        dimensionsMap: { service: metricsNames.service },
        period,
        statistic: 'Sum',
      });
    // Bolt turns a failed mention into a 500 response, which Lambda's Errors metric never counts.
    alarm(
      'AckServerErrorsAlarm',
      failureCount('AckServerErrors'),
      1,
      'The ack answered Slack with a 5xx: a delivery failed and Slack retries it (check the ack log group).',
    );
    alarm(
      'ApologiesAlarm',
      failureCount('Apologies'),
      1,
      'A person got the apology instead of an answer: the apology names the execution to open in the console.',
    );
    if (config.dailyTokenBudget !== undefined) {
      alarm(
        'DailyTokenBudgetAlarm',
        dailyTokens(metricsNames),
        config.dailyTokenBudget,
        `Model tokens in the last 24 hours reached the budget (${config.dailyTokenBudget}, bot:dailyTokenBudget): see the usage dashboard.`,
      );
    }
    for (const [placeholder, fn] of [
      ...Object.entries<BotFunction>(conversation.functions),
      ...Object.entries<BotFunction>(ingest.functions),
    ]) {
      alarm(
        `${fn.node.id}ErrorsAlarm`,
        fn.function.metricErrors({ period, statistic: 'Sum' }),
        3,
        `${placeholder}: 3 or more errors in 5 minutes. Single transient errors are retried by the state machine.`,
      );
    }
    // The topic policy (TLS only) replaces SNS's default one, which let the account's own services publish:
    // CloudWatch may publish, on behalf of this account, for exactly this stack's alarms.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.ALLOW,
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnEquals: { 'aws:SourceArn': alarms.map((a) => a.alarmArn) },
        },
      }),
    );
    new CfnOutput(this, 'AlarmTopicArn', {
      value: topic.topicArn,
      description: 'Subscribe to be told of failed executions and Lambda errors',
    });
  }
}

/** The concurrency Lambda keeps unreserved for the functions without a reservation (Lambda quotas, reserved concurrency). */
export const LAMBDA_UNRESERVED_MINIMUM = 100;
/** Lambda's default concurrency quota per account and region, once a new account's reduced quota is raised. */
export const DEFAULT_ACCOUNT_CONCURRENCY = 1000;

/**
 * A warning at synth (the deploy goes on) when the concurrency the stack sets aside (the ack's reservation and
 * Retrieve's provisioned environments, which Lambda counts alike) cannot fit an account whose concurrency quota is
 * the default 1,000: such a deploy fails unless the quota was raised, which only the account can tell.
 */
function warnIfConcurrencyCannotFit(
  stack: Construct,
  setAside: { ackReservedConcurrency?: number; retrieveProvisionedConcurrency?: number },
): void {
  const named = Object.entries(setAside).filter((entry): entry is [string, number] => entry[1] !== undefined);
  const total = named.reduce((sum, [, value]) => sum + value, 0);
  if (total <= DEFAULT_ACCOUNT_CONCURRENCY - LAMBDA_UNRESERVED_MINIMUM) return;
  const settings = named.map(([name, value]) => `bot:${name}=${value}`).join(' and ');
  Annotations.of(stack).addWarningV2(
    'slack-rag-bot:concurrencySetAside',
    `${settings} cannot fit an account concurrency quota of ` +
      `${DEFAULT_ACCOUNT_CONCURRENCY.toLocaleString('en-US')}: Lambda keeps ${LAMBDA_UNRESERVED_MINIMUM} unreserved, ` +
      `so the deploy fails unless this account's quota is at least ${total + LAMBDA_UNRESERVED_MINIMUM} ` +
      '(aws service-quotas get-service-quota --service-code lambda --quota-code L-B99A9384).',
  );
}

/** The most memory a function may have in an account whose Lambda quotas are still a new account's. */
export const NEW_ACCOUNT_MEMORY_MB = 3008;

/**
 * A warning at synth when `bot:retrieveMemoryMb` is above what a new account allows a function: CloudFormation refuses
 * such a `MemorySize` there until the account's quota is raised, which only the account can tell.
 */
function warnIfMemoryCannotFit(stack: Construct, retrieveMemoryMb: number): void {
  if (retrieveMemoryMb <= NEW_ACCOUNT_MEMORY_MB) return;
  Annotations.of(stack).addWarningV2(
    'slack-rag-bot:retrieveMemory',
    `bot:retrieveMemoryMb=${retrieveMemoryMb} is above the ${NEW_ACCOUNT_MEMORY_MB.toLocaleString('en-US')} MB a new ` +
      'AWS account may give a function: new accounts have reduced Lambda memory quotas, which AWS raises with use ' +
      'or on request (Service Quotas), and until then the deploy fails there. 3008 fits every account.',
  );
}

/** Every bucket: no public access, TLS only, SSE-S3, owner-enforced objects. */
function secureBucket(): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: s3.BucketEncryption.S3_MANAGED,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
  };
}
