import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { createBotMetrics } from '../../functions/core/metrics';
import { FUNCTION_URL_UNSUPPORTED_REGIONS } from '../../infra/regions';
import { buildWithoutBundling, type CfnResource, resourcesOf, synthWithoutBundling } from './synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function ackOf(template: Template): CfnResource {
  const [, url] = resourcesOf(template, 'AWS::Lambda::Url')[0] as [string, CfnResource];
  return template.toJSON().Resources[url.Properties.TargetFunctionArn['Fn::GetAtt'][0]];
}

function functionByEntry(template: Template, entry: string): CfnResource {
  const found = resourcesOf(template, 'AWS::Lambda::Function').filter(([, fn]) =>
    fn.Properties.Description?.includes(`(${entry})`),
  );
  expect(found).toHaveLength(1);
  return (found[0] as [string, CfnResource])[1];
}

function statementsOfRole(template: Template, roleLogicalId: string): Json[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((r: Json) => r.Ref === roleLogicalId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}

function stateMachineOf(template: Template, type: 'EXPRESS' | 'STANDARD'): CfnResource {
  const found = resourcesOf(template, 'AWS::StepFunctions::StateMachine').filter(
    ([, sm]) => sm.Properties.StateMachineType === type,
  );
  expect(found).toHaveLength(1);
  return (found[0] as [string, CfnResource])[1];
}

/** Runs `build` as the CDK CLI would with `region` as the profile's region (it hands it over as CDK_DEFAULT_REGION). */
function withCliRegion<T>(region: string, build: () => T): T {
  const saved = process.env.CDK_DEFAULT_REGION;
  process.env.CDK_DEFAULT_REGION = region;
  try {
    return build();
  } finally {
    if (saved === undefined) delete process.env.CDK_DEFAULT_REGION;
    else process.env.CDK_DEFAULT_REGION = saved;
  }
}

describe('issue 18, point 1: the ack reserves concurrency only on request', () => {
  it('deploys in a fresh account (concurrency quota 10): by default no function reserves any concurrency', () => {
    // Arrange / Act
    const { template } = synthWithoutBundling();

    // Assert
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
    // Nor provisioned concurrency, which the same quota holds.
    expect(resourcesOf(template, 'AWS::Lambda::Alias')).toEqual([]);
  });

  it('deploys in a fresh account (memory capped at 3,008 MB): no function asks for more', () => {
    // New accounts have reduced memory quotas (Lambda quotas page); CloudFormation then refuses a MemorySize over
    // 3,008 with "Member must have value less than or equal to 3008".
    const { template } = synthWithoutBundling();

    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(10);
    const over = functions.filter(([, fn]) => (fn.Properties.MemorySize ?? 128) > 3008).map(([id]) => id);
    expect(over).toEqual([]);
  });

  it('reserves what bot:ackReservedConcurrency asks for, without a warning when a quota of 1,000 can hold it', () => {
    // Arrange / Act
    const { stack, template } = synthWithoutBundling({ 'bot:ackReservedConcurrency': 50 });

    // Assert
    expect(ackOf(template).Properties.ReservedConcurrentExecutions).toBe(50);
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('ackReservedConcurrency'));
  });

  it('warns at synth when the value cannot fit an account quota of 1,000 (Lambda keeps 100 unreserved)', () => {
    // Arrange / Act
    const { stack, template } = synthWithoutBundling({ 'bot:ackReservedConcurrency': 901 });

    // Assert
    expect(ackOf(template).Properties.ReservedConcurrentExecutions).toBe(901);
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('bot:ackReservedConcurrency.*901.*L-B99A9384'),
    );
  });
});

describe('bot:retrieveProvisionedConcurrency: Retrieve environments initialised before any question', () => {
  it('gives Retrieve an alias with that provisioned concurrency, which the conversation invokes, and nothing else', () => {
    // Arrange / Act
    const { stack, template } = synthWithoutBundling({ 'bot:retrieveProvisionedConcurrency': 2 });

    // Assert: one alias, on a version of Retrieve, with 2 environments.
    const aliases = resourcesOf(template, 'AWS::Lambda::Alias');
    expect(aliases).toHaveLength(1);
    const [aliasId, alias] = aliases[0] as [string, CfnResource];
    expect(alias.Properties).toMatchObject({
      Name: 'live',
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    const version = template.toJSON().Resources[alias.Properties.FunctionVersion['Fn::GetAtt'][0]];
    expect(version.Type).toBe('AWS::Lambda::Version');
    const retrieve = functionByEntry(template, 'functions/retrieve.ts');
    const retrieveId = resourcesOf(template, 'AWS::Lambda::Function').find(([, fn]) => fn === retrieve)?.[0];
    expect(version.Properties.FunctionName).toEqual({ Ref: retrieveId });
    // The conversation invokes the alias for Retrieve (the other steps unqualified), and may invoke exactly that.
    const conversation = stateMachineOf(template, 'EXPRESS');
    expect(conversation.Properties.DefinitionSubstitutions.RetrieveFunctionArn).toEqual({ Ref: aliasId });
    const roleId = conversation.Properties.RoleArn['Fn::GetAtt'][0];
    const invoke = statementsOfRole(template, roleId).find((st) =>
      asArray(st.Action).includes('lambda:InvokeFunction'),
    );
    expect(asArray(invoke.Resource)).toContainEqual({ Ref: aliasId });
    expect(asArray(invoke.Resource)).not.toContainEqual({ 'Fn::GetAtt': [retrieveId, 'Arn'] });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('Concurrency'));
  });

  it('warns at synth when it and the ack reservation together cannot fit an account quota of 1,000', () => {
    // Arrange / Act
    const { stack } = synthWithoutBundling({
      'bot:ackReservedConcurrency': 600,
      'bot:retrieveProvisionedConcurrency': 301,
    });

    // Assert
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp(
        'bot:ackReservedConcurrency=600 and bot:retrieveProvisionedConcurrency=301 .*at least 1001.*L-B99A9384',
      ),
    );
  });
});

describe("bot:retrieveMemoryMb: the Retrieve function's memory, hence its index cache and CPU", () => {
  const memoryOf = (template: ReturnType<typeof synthWithoutBundling>['template'], entry: string) =>
    functionByEntry(template, entry).Properties.MemorySize;

  it('is 1,024 MB by default and gives Retrieve alone what it asks for', () => {
    // Arrange / Act
    const byDefault = synthWithoutBundling().template;
    const { stack, template } = synthWithoutBundling({ 'bot:retrieveMemoryMb': 3008 });

    // Assert
    expect(memoryOf(byDefault, 'functions/retrieve.ts')).toBe(1024);
    expect(memoryOf(template, 'functions/retrieve.ts')).toBe(3008);
    expect(memoryOf(template, 'functions/generate-answer.ts')).toBe(
      memoryOf(byDefault, 'functions/generate-answer.ts'),
    );
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('retrieveMemoryMb'));
  });

  it('warns at synth above the 3,008 MB a new account may give a function', () => {
    // Arrange / Act
    const { stack, template } = synthWithoutBundling({ 'bot:retrieveMemoryMb': 4096 });

    // Assert
    expect(memoryOf(template, 'functions/retrieve.ts')).toBe(4096);
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('bot:retrieveMemoryMb=4096 is above the 3,008 MB a new AWS account'),
    );
  });
});

describe('issue 18, point 2: a failed first deploy leaves nothing behind; later deletes keep the data', () => {
  it('retains the table and every bucket on update and delete, but not when their creation is rolled back', () => {
    // Arrange / Act
    const { template } = synthWithoutBundling();
    const stateful = [
      ...resourcesOf(template, 'AWS::DynamoDB::Table'),
      ...resourcesOf(template, 'AWS::S3::Bucket'),
    ];

    // Assert
    expect(stateful).toHaveLength(4);
    for (const [id] of stateful) {
      const resource = template.toJSON().Resources[id];
      expect({ id, deletion: resource.DeletionPolicy, replace: resource.UpdateReplacePolicy }).toEqual({
        id,
        deletion: 'RetainExceptOnCreate',
        replace: 'Retain',
      });
    }
  });
});

describe('issue 18, point 3: CloudWatch may publish this stack’s alarms to the alarm topic', () => {
  it('allows cloudwatch.amazonaws.com to publish, for this account and exactly this stack’s alarms, over TLS only', () => {
    // Arrange
    const { template } = synthWithoutBundling({ 'bot:alarmEmail': 'ops@example.com' });
    const [topicId] = resourcesOf(template, 'AWS::SNS::Topic')[0] as [string, CfnResource];
    const alarmArns = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([id]) => ({
      'Fn::GetAtt': [id, 'Arn'],
    }));

    // Act
    const policies = resourcesOf(template, 'AWS::SNS::TopicPolicy').filter(([, p]) =>
      p.Properties.Topics.some((t: Json) => t.Ref === topicId),
    );
    const statements: Json[] = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const allow = statements.filter((s) => s.Effect === 'Allow');

    // Assert
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: topicId },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    const sources = asArray(allow[0].Condition.ArnEquals['aws:SourceArn']);
    expect(sources).toHaveLength(alarmArns.length);
    expect(sources).toEqual(expect.arrayContaining(alarmArns));
    // The TLS-only Deny stays.
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sns:Publish',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      ]),
    );
    // Every alarm notifies that topic, and the e-mail is subscribed to it.
    for (const [, alarm] of resourcesOf(template, 'AWS::CloudWatch::Alarm')) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: topicId },
    });
  });
});

describe('issue 18, point 5: every execution shows in the console; its data is logged only on request', () => {
  it.each(['EXPRESS', 'STANDARD'] as const)(
    'by default the %s state machine logs every event (ALL) without execution data',
    (type) => {
      // Arrange / Act
      const { template } = synthWithoutBundling();

      // Assert
      expect(stateMachineOf(template, type).Properties.LoggingConfiguration).toMatchObject({
        Level: 'ALL',
        IncludeExecutionData: false,
      });
    },
  );

  it.each([
    ['bot:conversationExecutionLog', 'EXPRESS'],
    ['bot:ingestExecutionLog', 'STANDARD'],
  ] as const)('%s=all adds the data, errors logs only failure events (with error and cause)', (key, type) => {
    // Arrange / Act
    const all = synthWithoutBundling({ [key]: 'all' }).template;
    const errors = synthWithoutBundling({ [key]: 'errors' }).template;

    // Assert
    expect(stateMachineOf(all, type).Properties.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: true,
    });
    expect(stateMachineOf(errors, type).Properties.LoggingConfiguration).toMatchObject({
      Level: 'ERROR',
      IncludeExecutionData: true,
    });
  });
});

describe('issue 18, point 6: a second stack’s metrics, dashboard and alarms are its own', () => {
  it('emits, charts and alarms under a namespace and service named after the stack', () => {
    // Arrange / Act
    const { template } = synthWithoutBundling({ 'bot:stackName': 'SupportBot' });

    // Assert: the functions are told where to emit...
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: 'SupportBot',
        POWERTOOLS_SERVICE_NAME: 'support-bot',
      });
    }
    // ...the alarms on the bot's own metrics read there...
    const custom = resourcesOf(template, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .filter((a) => a.Namespace !== undefined && !a.Namespace.startsWith('AWS/'));
    expect(custom.map((a) => a.MetricName).sort()).toEqual(['AckServerErrors', 'Apologies']);
    for (const alarm of custom) {
      expect(alarm).toMatchObject({
        Namespace: 'SupportBot',
        Dimensions: [{ Name: 'service', Value: 'support-bot' }],
      });
    }
    // ...and so does the dashboard, with no trace of the default stack's namespace.
    const [, dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0] as [string, CfnResource];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('\\"SupportBot\\"');
    expect(body).toContain('support-bot');
    expect(body).not.toContain('SlackRagBot');
    expect(body).not.toContain('slack-rag-bot');
  });

  it('keeps the default stack’s namespace and service as they were', () => {
    // Arrange / Act
    const { template } = synthWithoutBundling();

    // Assert
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: 'SlackRagBot',
        POWERTOOLS_SERVICE_NAME: 'slack-rag-bot',
      });
    }
  });

  it('the functions emit into the namespace and service their environment names', () => {
    // Arrange
    const saved = { ...process.env };
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      process.env.POWERTOOLS_METRICS_NAMESPACE = 'SupportBot';
      process.env.POWERTOOLS_SERVICE_NAME = 'support-bot';
      process.env.POWERTOOLS_METRICS_DISABLED = 'false';

      // Act
      createBotMetrics().count('Questions');
    } finally {
      write.mockRestore();
      process.env = saved;
    }

    // Assert
    const emf = lines.map((line) => JSON.parse(line)).find((doc) => doc._aws !== undefined);
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('SupportBot');
    expect(emf.service).toBe('support-bot');
    expect(emf.Questions).toBe(1);
  });
});

describe('issue 18, point 7: each ingest step gets only the DynamoDB actions it makes', () => {
  const { template } = synthWithoutBundling();
  const dynamoOf = (entry: string) => {
    const fn = functionByEntry(template, entry);
    return statementsOfRole(template, fn.Properties.Role['Fn::GetAtt'][0])
      .filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')))
      .map((s) => ({
        actions: asArray<string>(s.Action).sort(),
        keys: s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'],
      }));
  };

  it.each([
    // Takes the lock (conditional put, read on conflict) and reads the manifest.
    ['functions/ingest-plan.ts', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']],
    // Renews the lock, reads the manifest and writes it.
    [
      'functions/ingest-commit.ts',
      ['dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    ],
    // Renews the lock.
    ['functions/ingest-optimize.ts', ['dynamodb:GetItem', 'dynamodb:UpdateItem']],
    // Releases the lock.
    ['functions/ingest-report.ts', ['dynamodb:DeleteItem']],
  ])('%s may make exactly these calls, on SYNC# items only', (entry, actions) => {
    // Arrange / Act
    const statements = dynamoOf(entry).filter((s) => s.keys?.[0] !== 'TABLEVERSION#*');

    // Assert
    expect(statements).toEqual([{ actions, keys: ['SYNC#*'] }]);
  });

  it.each([
    // Record the table version they leave, for Retrieve (issue 23).
    ['functions/ingest-commit.ts', ['dynamodb:PutItem']],
    ['functions/ingest-optimize.ts', ['dynamodb:PutItem']],
    // Reads it for Retrieve, and nothing else of the ingest's.
    ['functions/load-history.ts', ['dynamodb:GetItem']],
    ['functions/ingest-plan.ts', undefined],
    ['functions/ingest-report.ts', undefined],
    ['functions/retrieve.ts', undefined],
  ])('%s may make exactly these calls on the TABLEVERSION# item', (entry, actions) => {
    // Arrange / Act
    const statements = dynamoOf(entry).filter((s) => s.keys?.includes('TABLEVERSION#*'));

    // Assert
    expect(statements).toEqual(actions === undefined ? [] : [{ actions, keys: ['TABLEVERSION#*'] }]);
  });

  it('gives Load history the store location for the record key, and no access to the store', () => {
    // Arrange / Act
    const fn = functionByEntry(template, 'functions/load-history.ts');
    const s3 = statementsOfRole(template, fn.Properties.Role['Fn::GetAtt'][0]).filter((s) =>
      asArray<string>(s.Action).some((a) => a.startsWith('s3:')),
    );

    // Assert
    expect(fn.Properties.Environment.Variables.LANCEDB_TABLE).toBe('documents');
    expect(fn.Properties.Environment.Variables.LANCEDB_URI).toBeDefined();
    expect(s3).toEqual([]);
  });

  it.each(['functions/ingest-batch.ts', 'functions/ingest-batch-failed.ts'])(
    '%s gets no DynamoDB access and no table name',
    (entry) => {
      // Arrange / Act
      const statements = dynamoOf(entry);

      // Assert
      expect(statements).toEqual([]);
      expect(functionByEntry(template, entry).Properties.Environment.Variables).not.toHaveProperty(
        'CONVERSATION_TABLE',
      );
    },
  );
});

describe('issue 18, point 8: a region without Lambda Function URLs stops the synth', () => {
  it.each(['ap-southeast-5', 'us-gov-west-1'])(
    'refuses %s with one clear line naming the region and the reason',
    (region) => {
      // Arrange / Act
      const build = () => withCliRegion(region, () => buildWithoutBundling());

      // Assert
      expect(FUNCTION_URL_UNSUPPORTED_REGIONS).toHaveProperty(region);
      expect(build).toThrow(new RegExp(`${region}.*Function URLs`));
    },
  );

  it.each(['eu-west-1', 'us-east-1', 'xx-future-1'])(
    'synthesizes in %s (a region not known to lack them passes)',
    (region) => {
      // Arrange / Act
      const build = () => withCliRegion(region, () => buildWithoutBundling());

      // Assert
      expect(build).not.toThrow();
    },
  );
});
