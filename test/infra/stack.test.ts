import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { conversationFunctions, type StepFunctionSpec } from '../../functions/conversation-functions';
import { type Env, loadConfig } from '../../functions/core/config';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../functions/core/metrics';
import { ingestFunctions } from '../../functions/ingest-functions';
import { DEFAULT_CONFIG } from '../../infra/config';
import { conversationStepAccess } from '../../infra/step-access';
import { placeholdersOf, Workflow } from '../../infra/workflow';
import { type CfnResource, REPO_ROOT, resourcesOf, synthWithoutBundling } from './synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

const workflows = [
  {
    name: 'Conversation',
    file: 'statemachine/conversation.asl.json',
    registry: conversationFunctions,
    type: 'EXPRESS',
  },
  { name: 'Ingest', file: 'statemachine/ingest.asl.json', registry: ingestFunctions, type: 'STANDARD' },
] as const;

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function getAttArn(logicalId: string) {
  return { 'Fn::GetAtt': [logicalId, 'Arn'] };
}

function statementsOf(template: Template, roleLogicalId: string): Json[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((r: Json) => r.Ref === roleLogicalId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}

function stateMachineOf(template: Template, type: string): [string, CfnResource] {
  const found = resourcesOf(template, 'AWS::StepFunctions::StateMachine').filter(
    ([, sm]) => sm.Properties.StateMachineType === type,
  );
  expect(found).toHaveLength(1);
  return found[0] as [string, CfnResource];
}

/** The function a substitution points at, by its logical id. */
function functionLogicalId(value: Json): string {
  expect(value['Fn::GetAtt']?.[1]).toBe('Arn');
  return value['Fn::GetAtt'][0];
}

describe('the synthesized stack (default configuration)', () => {
  const { template, stack } = synthWithoutBundling();
  const functions = Object.fromEntries(resourcesOf(template, 'AWS::Lambda::Function'));

  describe.each(workflows)('the $name state machine', ({ file, registry, type }) => {
    const [, sm] = stateMachineOf(template, type);
    const definition = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
    const substitutions: Record<string, Json> = sm.Properties.DefinitionSubstitutions;

    it(`is ${type} and its definition is ${file}, verbatim`, () => {
      expect(sm.Properties.DefinitionString).toBe(definition);
    });

    it('substitutes every placeholder of the file with the Lambda its registry names', () => {
      expect(Object.keys(substitutions).sort()).toEqual(placeholdersOf(definition));
      expect(Object.keys(substitutions).sort()).toEqual(Object.keys(registry).sort());
      for (const [placeholder, spec] of Object.entries<StepFunctionSpec>(registry)) {
        const fn = functions[functionLogicalId(substitutions[placeholder])] as CfnResource;
        expect(fn.Properties.Description).toContain(`(${spec.entry})`);
        expect(fn.Properties.Timeout).toBe(spec.timeoutSeconds);
        expect(fn.Properties.MemorySize).toBe(spec.memoryMb);
        // Only the LanceDB steps carry the LanceDB layer.
        expect(fn.Properties.Layers !== undefined).toBe(spec.usesLanceDb);
      }
    });

    it('may invoke exactly its own Lambdas, by their unqualified ARNs', () => {
      const invoke = statementsOf(template, sm.Properties.RoleArn['Fn::GetAtt'][0]).filter((s) =>
        asArray(s.Action).includes('lambda:InvokeFunction'),
      );
      expect(invoke).toHaveLength(1);
      expect(asArray(invoke[0].Action)).toEqual(['lambda:InvokeFunction']);
      const expected = Object.values(substitutions).map((v) => getAttArn(functionLogicalId(v)));
      expect(asArray(invoke[0].Resource)).toEqual(expect.arrayContaining(expected));
      expect(asArray(invoke[0].Resource)).toHaveLength(expected.length);
    });

    it('logs every execution event to CloudWatch Logs without execution data, and traces with X-Ray', () => {
      // The states carry questions, history and passages: the events show every execution in the console.
      expect(sm.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
      const logGroupId = sm.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup
        .LogGroupArn['Fn::GetAtt'][0] as string;
      const logGroup = template.toJSON().Resources[logGroupId];
      expect(logGroup.Properties.LogGroupName).toMatch(/^\/aws\/vendedlogs\/states\//);
      expect(logGroup.Properties.RetentionInDays).toBe(30);
      expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    });
  });

  it('has one conversation and one ingest state machine, and nothing else orchestrating', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
  });

  it('gives every Lambda the shared defaults: Node 24, arm64, X-Ray, JSON logs in a log group with retention', () => {
    const all = Object.values(functions);
    expect(all).toHaveLength(
      Object.keys(conversationFunctions).length + Object.keys(ingestFunctions).length + 1,
    );
    for (const fn of all) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO' },
      });
      const logGroup = template.toJSON().Resources[fn.Properties.LoggingConfig.LogGroup.Ref];
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    }
  });

  it('lets only Slack reach the ack, through its Function URL; no other Lambda can be invoked from outside', () => {
    const [urlId, url] = resourcesOf(template, 'AWS::Lambda::Url')[0] as [string, CfnResource];
    template.resourceCountIs('AWS::Lambda::Url', 1);
    expect(url.Properties).toMatchObject({ AuthType: 'NONE', InvokeMode: 'BUFFERED' });
    const ackId = url.Properties.TargetFunctionArn['Fn::GetAtt'][0];
    const permissions = resourcesOf(template, 'AWS::Lambda::Permission').map(([, p]) => p.Properties);
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) {
      expect(permission.FunctionName).toEqual(getAttArn(ackId));
      expect(permission.Principal).toBe('*');
    }
    expect(permissions.map((p) => p.Action).sort()).toEqual([
      'lambda:InvokeFunction',
      'lambda:InvokeFunctionUrl',
    ]);
    expect(permissions.find((p) => p.Action === 'lambda:InvokeFunction')?.InvokedViaFunctionUrl).toBe(true);
    template.hasOutput('SlackRequestUrl', { Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
  });

  it('reserves no concurrency for any function, so that it deploys in a new account (concurrency quota 10)', () => {
    const reserved = Object.values(functions).filter(
      (fn) => fn.Properties.ReservedConcurrentExecutions !== undefined,
    );
    expect(reserved).toEqual([]);
    expect(DEFAULT_CONFIG.ackReservedConcurrency).toBeUndefined();
  });

  it('limits the ack to starting this conversation state machine, writing dedupe records, reading threads and storing votes, and reading its secrets', () => {
    const ack = Object.values(functions).find((fn) =>
      fn.Properties.Description?.includes('Slack Request URL'),
    );
    const statements = statementsOf(template, ack?.Properties.Role['Fn::GetAtt'][0]);
    const [conversationId] = stateMachineOf(template, 'EXPRESS');
    expect(statements.map((s) => [asArray(s.Action).sort(), s.Condition ?? null])).toEqual(
      expect.arrayContaining([
        [['states:StartExecution'], null],
        [
          ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EVENT#*'] } },
        ],
        // The thread's first asker (follow-ups without a mention) and votes stored on their turn: no PutItem or
        // DeleteItem on history.
        [
          ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
          { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['THREAD#*'] } },
        ],
        [['secretsmanager:GetSecretValue'], null],
        [['logs:CreateLogStream', 'logs:PutLogEvents'], null],
        [['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], null],
      ]),
    );
    expect(statements).toHaveLength(6);
    expect(statements.find((s) => s.Action === 'states:StartExecution')?.Resource).toEqual({
      Ref: conversationId,
    });
  });

  it("lets the ingest's Distributed Map start, watch, stop and redrive its own child executions, read the plan's items and write its results, and nothing more", () => {
    const [machineId, machine] = stateMachineOf(template, 'STANDARD');
    const statements = statementsOf(template, machine.Properties.RoleArn['Fn::GetAtt'][0]);
    const machineName = { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: machineId }] }] };
    const executionArn = (suffix: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':execution:',
          machineName,
          suffix,
        ],
      ],
    });
    const byAction = (action: string) => statements.filter((s) => asArray<string>(s.Action).includes(action));
    expect(byAction('states:StartExecution').map((s) => s.Resource)).toEqual([{ Ref: machineId }]);
    expect(byAction('states:DescribeExecution').map((s) => s.Resource)).toEqual([executionArn('/*')]);
    expect(byAction('states:StopExecution').map((s) => s.Resource)).toEqual([executionArn('/*')]);
    expect(byAction('states:RedriveExecution').map((s) => s.Resource)).toEqual([
      executionArn('/EmbedBatches:*'),
    ]);
    const s3 = statements.filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('s3:')));
    const objects = s3.map((s) => JSON.stringify(s.Resource));
    expect(objects).toHaveLength(2);
    expect(objects[0]).toContain('/ingest-staging/runs/*/items.json');
    expect(asArray(s3[0]?.Action)).toEqual(['s3:GetObject']);
    expect(objects[1]).toContain('/ingest-staging/runs/*/map-results/*');
    expect(asArray<string>(s3[1]?.Action)).not.toContain('s3:DeleteObject');
  });

  it('grants no wildcard action, and `*` resources only to X-Ray and Step Functions log delivery', () => {
    for (const [, policy] of resourcesOf(template, 'AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        expect(statement.Effect).toBe('Allow');
        for (const action of asArray<string>(statement.Action)) expect(action).not.toContain('*');
        if (asArray(statement.Resource).includes('*')) {
          for (const action of asArray<string>(statement.Action)) {
            expect(action).toMatch(
              /^(xray:|logs:(Create|Get|Update|Delete|List)LogDeliver|logs:Describe|logs:PutResourcePolicy)/,
            );
          }
        }
      }
    }
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    for (const [, role] of resourcesOf(template, 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('gives each step access only to its own key prefixes of the table', () => {
    const prefixes = new Set<string>();
    for (const [, policy] of resourcesOf(template, 'AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        if (!asArray<string>(statement.Action).some((a) => a.startsWith('dynamodb:'))) continue;
        const leading = statement.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
        expect(leading).toBeDefined();
        for (const prefix of leading) prefixes.add(prefix);
      }
    }
    expect([...prefixes].sort()).toEqual(['EVENT#*', 'SYNC#*', 'TABLEVERSION#*', 'THREAD#*']);
  });

  it('keeps secrets in Secrets Manager: functions get ARNs, never values', () => {
    const secretIds = resourcesOf(template, 'AWS::SecretsManager::Secret').map(([id]) => id);
    expect(secretIds).toHaveLength(3);
    for (const fn of Object.values(functions)) {
      for (const [name, value] of Object.entries<Json>(fn.Properties.Environment.Variables)) {
        if (/SECRET|TOKEN|API_KEY/.test(name)) {
          expect(name).toMatch(/_ARN$/);
          expect(secretIds).toContain(value.Ref);
        }
      }
    }
  });

  it("gives every function an environment that the functions' own configuration accepts", () => {
    for (const fn of Object.values(functions)) {
      const env: Env = { AWS_REGION: 'eu-west-1' };
      for (const [name, value] of Object.entries<Json>(fn.Properties.Environment.Variables)) {
        // Tokens are resolved by CloudFormation; stand in plausible values of the same shape.
        env[name] =
          typeof value === 'string'
            ? value
            : name.endsWith('_ARN')
              ? 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x'
              : name.endsWith('_URI') || name === 'INGEST_ORIGINS'
                ? 's3://bucket/prefix'
                : 'resolved-by-cloudformation';
      }
      expect(() => loadConfig(env)).not.toThrow();
    }
  });

  it('keeps history, dedupe records and the ingest manifest in one table with TTL, PITR and encryption', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'RetainExceptOnCreate',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it('blocks public access to every bucket, encrypts it and refuses plain HTTP', () => {
    const buckets = resourcesOf(template, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(3);
    for (const [id, bucket] of buckets) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]).toBeDefined();
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('syncs the documents on the configured schedule, in its time zone, with an empty input', () => {
    const [ingestId] = stateMachineOf(template, 'STANDARD');
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: DEFAULT_CONFIG.ingestSchedule,
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: { Arn: { Ref: ingestId }, Input: '{}' },
    });
  });

  it('alarms on failed and timed-out executions and on Lambda errors, into one topic', () => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const byMetric = (name: string) => alarms.filter((a) => a.MetricName === name);
    expect(byMetric('ExecutionsFailed')).toHaveLength(2);
    expect(byMetric('ExecutionsTimedOut')).toHaveLength(2);
    expect(byMetric('Errors')).toHaveLength(Object.keys(functions).length);
    const [topicId] = resourcesOf(template, 'AWS::SNS::Topic')[0] as [string, CfnResource];
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('alarms on every ack 5xx and every apology, from the metrics the functions emit', () => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const metricName of ['AckServerErrors', 'Apologies']) {
      const [alarm, ...others] = alarms.filter((a) => a.MetricName === metricName);
      expect(others).toHaveLength(0);
      expect(alarm).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Dimensions: [{ Name: 'service', Value: METRICS_SERVICE }],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('prints what the docs/deploy.md walk-through needs', () => {
    for (const output of [
      'SlackRequestUrl',
      'DocumentsBucketName',
      'IngestStateMachineArn',
      'ConversationStateMachineArn',
      'SlackSigningSecretArn',
      'SlackBotTokenArn',
      'OpenAiApiKeyArn',
      'AlarmTopicArn',
    ]) {
      template.hasOutput(output, {});
    }
  });

  it('is environment-agnostic: the account and region are the CLI profile’s', () => {
    expect(Token.isUnresolved(stack.account)).toBe(true);
    expect(Token.isUnresolved(stack.region)).toBe(true);
  });
});

describe('configuration from the cdk context', () => {
  it('reaches the functions as their environment variables', () => {
    const { template } = synthWithoutBundling({
      'bot:chatModel': 'gpt-4.1',
      'bot:temperature': '0.3',
      'bot:embeddingModel': 'text-embedding-3-large',
      'bot:allowedChannels': 'C0123ABCD,C0456EFGH',
      'bot:historyTtlDays': 7,
      'bot:ingestSchedule': 'rate(6 hours)',
      'bot:ingestScheduleTimeZone': 'Europe/Paris',
      'bot:logRetentionDays': 90,
      'bot:ingestMaxConcurrency': 32,
      'bot:ingestIndexTailRows': 0,
    });
    const envs = resourcesOf(template, 'AWS::Lambda::Function').map(
      ([, fn]) => fn.Properties.Environment.Variables,
    );
    const withVar = (name: string) => envs.filter((env) => name in env).map((env) => env[name]);
    expect(new Set(withVar('OPENAI_MODEL'))).toEqual(new Set(['gpt-4.1']));
    expect(new Set(withVar('OPENAI_TEMPERATURE'))).toEqual(new Set(['0.3']));
    expect(new Set(withVar('OPENAI_EMBEDDING_MODEL'))).toEqual(new Set(['text-embedding-3-large']));
    expect(withVar('ALLOWED_CHANNELS')).toEqual(['C0123ABCD,C0456EFGH']);
    expect(new Set(withVar('HISTORY_TTL_DAYS'))).toEqual(new Set(['7']));
    // The Distributed Map's MaxConcurrency, which Plan hands it.
    expect(withVar('INGEST_CONCURRENCY')).toEqual(['32']);
    // Optimize alone decides when a sync's rows are folded into the indexes.
    expect(withVar('INGEST_INDEX_TAIL_ROWS')).toEqual(['0']);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'Europe/Paris',
    });
    for (const [, logGroup] of resourcesOf(template, 'AWS::Logs::LogGroup')) {
      expect(logGroup.Properties.RetentionInDays).toBe(90);
    }
  });

  it('gives who-may-read-what to the steps that use it, and the bot token to Load history only when a group is named', () => {
    const stepsWith = (template: Template, name: string) =>
      resourcesOf(template, 'AWS::Lambda::Function')
        .filter(([, fn]) => name in fn.Properties.Environment.Variables)
        .map(([, fn]) => String(fn.Properties.Description).split(' (')[0]);
    const withGroups = synthWithoutBundling({
      'bot:collectionAudiences': '{"hr":["S0HRTEAM"],"it":["*"]}',
      'bot:channelCollections': '{"*":["hr","it"]}',
    }).template;
    const withPeopleOnly = synthWithoutBundling({
      'bot:collectionAudiences': { hr: ['U0CFO0001'] },
    }).template;

    expect(stepsWith(withGroups, 'COLLECTION_AUDIENCES').sort()).toEqual([
      'Conversation / LoadHistory',
      'Conversation / PersistTurn',
      'Conversation / Retrieve',
    ]);
    expect(stepsWith(withGroups, 'CHANNEL_COLLECTIONS').sort()).toEqual(
      stepsWith(withGroups, 'COLLECTION_AUDIENCES').sort(),
    );
    // usergroups.list needs the bot token: only where an audience names a user group.
    expect(stepsWith(withGroups, 'SLACK_BOT_TOKEN_ARN')).toContain('Conversation / LoadHistory');
    expect(stepsWith(withPeopleOnly, 'SLACK_BOT_TOKEN_ARN')).not.toContain('Conversation / LoadHistory');
    expect(() => synthWithoutBundling({ 'bot:collectionAudiences': '{"hr":["the hr team"]}' })).toThrow(
      /bot:collectionAudiences must be an object mapping collection names to audiences .*"the hr team" \(in "hr"\) is not/,
    );
  });

  it('bot:slackSearch: SLACK_SEARCH on the ack and Retrieve, and the bot token to Retrieve, only when on; a bad value fails synth', () => {
    const stepsWith = (template: Template, name: string) =>
      resourcesOf(template, 'AWS::Lambda::Function')
        .filter(([, fn]) => name in fn.Properties.Environment.Variables)
        .map(([, fn]) => String(fn.Properties.Description).split(' (')[0]);
    const on = synthWithoutBundling({ 'bot:slackSearch': true }).template;
    const off = synthWithoutBundling({}).template;

    expect(stepsWith(on, 'SLACK_SEARCH')).toHaveLength(2);
    expect(stepsWith(on, 'SLACK_SEARCH')).toContain('Conversation / Retrieve');
    expect(stepsWith(on, 'SLACK_BOT_TOKEN_ARN')).toContain('Conversation / Retrieve');
    expect(stepsWith(off, 'SLACK_SEARCH')).toEqual([]);
    expect(stepsWith(off, 'SLACK_BOT_TOKEN_ARN')).not.toContain('Conversation / Retrieve');
    expect(() => synthWithoutBundling({ 'bot:slackSearch': 'sometimes' })).toThrow(/slackSearch/);
  });

  it("sets who may ask and the ack's reserved concurrency from the context", () => {
    const ackOf = (template: Template) => {
      const [, url] = resourcesOf(template, 'AWS::Lambda::Url')[0] as [string, CfnResource];
      return template.toJSON().Resources[url.Properties.TargetFunctionArn['Fn::GetAtt'][0]];
    };
    const open = ackOf(
      synthWithoutBundling({
        'bot:slackTeamId': 'T0123ABCD',
        'bot:slackAppId': 'A0123ABCD',
        'bot:allowSlackConnect': true,
        'bot:allowGuests': 'true',
        'bot:ackReservedConcurrency': 50,
      }).template,
    );
    const closed = ackOf(synthWithoutBundling({ 'bot:ackReservedConcurrency': 'none' }).template);

    expect(open.Properties.Environment.Variables).toMatchObject({
      SLACK_TEAM_ID: 'T0123ABCD',
      SLACK_APP_ID: 'A0123ABCD',
      ALLOW_SLACK_CONNECT: 'true',
      ALLOW_GUESTS: 'true',
    });
    expect(open.Properties.ReservedConcurrentExecutions).toBe(50);
    expect(closed.Properties.ReservedConcurrentExecutions).toBeUndefined();
    // By default only members are answered: neither switch is set.
    expect(closed.Properties.Environment.Variables).not.toHaveProperty('ALLOW_SLACK_CONNECT');
    expect(closed.Properties.Environment.Variables).not.toHaveProperty('ALLOW_GUESTS');
  });

  it('logs every state of the conversation, with its data, only when bot:conversationExecutionLog is all', () => {
    const { template } = synthWithoutBundling({ 'bot:conversationExecutionLog': 'all' });
    const [, conversation] = stateMachineOf(template, 'EXPRESS');
    expect(conversation.Properties.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: true,
    });
  });

  it('with the local provider, gives no function the OpenAI key', () => {
    const { template } = synthWithoutBundling({ 'bot:llmProvider': 'local' });
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties.Environment.Variables.OPENAI_API_KEY_ARN).toBeUndefined();
    }
  });
});

describe('the workflow construct', () => {
  it('refuses a registry that does not match the placeholders of its ASL file', () => {
    const { RetrieveFunctionArn: _missing, ...incomplete } = conversationFunctions;
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
    expect(
      () =>
        new Workflow(stack, 'Conversation', {
          definitionFile: 'statemachine/conversation.asl.json',
          functions: incomplete as typeof conversationFunctions,
          access: conversationStepAccess,
          resources: {} as never,
          type: sfn.StateMachineType.EXPRESS,
          logLevel: 'info',
          logRetention: 30,
          executionLog: 'events',
        }),
    ).toThrow(/RetrieveFunctionArn/);
  });
});
