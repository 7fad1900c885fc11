import * as fs from 'node:fs';
import * as path from 'node:path';
import { Arn, ArnFormat, type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StepFunctionSpec } from '../functions/conversation-functions';
import { BotFunction, type FunctionLogLevel, REPO_ROOT } from './bot-function';
import type { ExecutionLog } from './config';
import type { BotResources, StepBinder } from './step-access';

export interface WorkflowProps<P extends string> {
  /** The ASL file, relative to the repository root: the one definition, shared with the local executor. */
  definitionFile: string;
  /** The registry mapping each `${Placeholder}` of the ASL to its handler (functions/*-functions.ts). */
  functions: Record<P, StepFunctionSpec>;
  /** What each step's function may touch, keyed like `functions`. */
  access: Record<P, StepBinder>;
  resources: BotResources;
  type: sfn.StateMachineType;
  logLevel: FunctionLogLevel;
  logRetention: logs.RetentionDays;
  /**
   * What the state machine logs: `events` (every event, level ALL, without execution data), `all` (every event with
   * each state's input and output) or `errors` (only the failure events, with their error and cause).
   */
  executionLog: ExecutionLog;
  /**
   * Where the definition's Distributed Maps read their items (ItemReader, s3:getObject) and write their results
   * (ResultWriter): object key patterns in `bucket`, `*` for the execution's part. Required when the definition has a
   * Distributed Map, whose role is then granted exactly these.
   */
  distributedMapData?: { bucket: IBucket; itemKeys: string; resultPrefix: string };
  /**
   * Execution environments Lambda keeps initialised for a step's function (provisioned concurrency), keyed like
   * `functions`: such a function gets an alias `live` on its current version, with that many, and the definition
   * invokes the alias. A step not named (or 0) is invoked unqualified, with no alias.
   */
  provisionedConcurrency?: Partial<Record<P, number>>;
  /** A step's function memory in MB, in place of its registry's `memoryMb` (keyed like `functions`). */
  memoryMb?: Partial<Record<P, number>>;
}

/** The Label of each Distributed Map of a definition (`*` for one without: its children's label is generated). */
export function distributedMapLabelsOf(definition: unknown): string[] {
  const labels: string[] = [];
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const state of Object.values(states)) {
      const processor = (state.ItemProcessor ?? state.Iterator) as
        | { ProcessorConfig?: { Mode?: string }; States: Record<string, Record<string, unknown>> }
        | undefined;
      if (state.Type === 'Map' && processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') {
        labels.push(typeof state.Label === 'string' ? state.Label : '*');
      }
      if (processor !== undefined) visit(processor.States);
      for (const branch of (state.Branches ?? []) as { States: Record<string, Record<string, unknown>> }[])
        visit(branch.States);
    }
  };
  visit((definition as { States: Record<string, Record<string, unknown>> }).States);
  return labels;
}

/** The `${Name}` placeholders of an ASL text. */
export function placeholdersOf(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? ''))].sort();
}

/** The construct id of a step's function: `RetrieveFunctionArn` becomes `Retrieve`, in `Ingest` `IngestPlan…` `Plan`. */
function functionId(workflowId: string, placeholder: string): string {
  const name = placeholder.replace(/FunctionArn$/, '');
  return name.startsWith(workflowId) && name.length > workflowId.length
    ? name.slice(workflowId.length)
    : name;
}

/**
 * A state machine loaded from its ASL file with `definitionSubstitutions`, and one function per entry of its
 * registry. The file stays the single source of truth: no part of the definition is written here. Synth fails
 * when the ASL's placeholders and the registry differ. The state machine logs its executions (`executionLog`) and traces with X-Ray; its role may invoke exactly its own functions.
 */
export class Workflow<P extends string> extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<P, BotFunction>;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WorkflowProps<P>) {
    super(scope, id);
    const definition = fs.readFileSync(path.join(REPO_ROOT, props.definitionFile), 'utf8');
    const placeholders = placeholdersOf(definition);
    const registered = Object.keys(props.functions).sort();
    if (placeholders.join() !== registered.join()) {
      throw new Error(
        `${props.definitionFile} has the placeholders [${placeholders.join(', ')}] but its function registry ` +
          `has [${registered.join(', ')}]; they must be the same`,
      );
    }
    const entries = Object.entries(props.functions) as [P, StepFunctionSpec][];
    const functions = {} as Record<P, BotFunction>;
    for (const [placeholder, spec] of entries) {
      const name = functionId(id, placeholder);
      const fn = new BotFunction(this, name, {
        entry: spec.entry,
        timeout: Duration.seconds(spec.timeoutSeconds),
        memorySize: props.memoryMb?.[placeholder] ?? spec.memoryMb,
        usesLanceDb: spec.usesLanceDb,
        ...(spec.initModule === undefined ? {} : { initModule: spec.initModule }),
        description: `${id} / ${name} (${spec.entry})`,
        logLevel: props.logLevel,
        logRetention: props.logRetention,
      });
      props.access[placeholder](fn, props.resources);
      functions[placeholder] = fn;
    }
    this.functions = functions;
    // What the definition invokes for each step: the alias of a step with provisioned concurrency (its environments
    // are those of the alias's version), else the function itself.
    const invoked = {} as Record<P, string>;
    for (const [placeholder] of entries) {
      const provisioned = props.provisionedConcurrency?.[placeholder] ?? 0;
      invoked[placeholder] =
        provisioned > 0
          ? new lambda.Alias(this, `${functionId(id, placeholder)}Live`, {
              aliasName: 'live',
              version: functions[placeholder].function.currentVersion,
              provisionedConcurrentExecutions: provisioned,
              description: `${provisioned} environment(s) initialised before any invocation (provisioned concurrency)`,
            }).functionArn
          : functions[placeholder].functionArn;
    }

    // Under /aws/vendedlogs/ so Step Functions does not grow the account's one CloudWatch Logs resource policy.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${id}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: `${id} state machine: invokes its own step functions`,
    });
    // Exactly the ARNs the definition names: unqualified, or a step's `live` alias (no `:*` for other versions).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: entries.map(([placeholder]) => invoked[placeholder]),
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions logging (logs:CreateLogDelivery and the other vended-logs actions) and X-Ray tracing ' +
        'accept no resource but *. Lambda invocation is limited to the workflow’s own functions.',
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: props.type,
      // Inline (not an S3 asset), so the template shows the definition a reviewer approves.
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: Object.fromEntries(
        entries.map(([placeholder]) => [placeholder, invoked[placeholder]]),
      ),
      role,
      tracingEnabled: true,
      logs: {
        destination: this.logGroup,
        level: props.executionLog === 'errors' ? sfn.LogLevel.ERROR : sfn.LogLevel.ALL,
        includeExecutionData: props.executionLog !== 'events',
      },
    });
    this.grantDistributedMaps(definition, props);
    if (props.executionLog === 'errors') {
      Validations.of(this.stateMachine).acknowledge({
        id: 'AwsSolutions-SF1',
        reason:
          'Every event with its data would keep what the executions carry (questions, thread history, passages) ' +
          'in CloudWatch Logs beyond what "forget this thread" can delete; failures are logged with their error, ' +
          'and the X-Ray trace shows every step.',
      });
    }
  }

  /**
   * What a Distributed Map needs of the state machine's role (docs: "IAM policies for using Distributed Map
   * states"): starting its child executions of this state machine, describing and stopping them, redriving them
   * (a redriven parent redrives its Map Run), reading the items and writing the results. In a policy of its own
   * attached to the role, as CDK's DistributedMap does: it names the state machine, which itself depends on the role.
   */
  private grantDistributedMaps(definition: string, props: WorkflowProps<P>): void {
    const labels = distributedMapLabelsOf(JSON.parse(definition));
    if (labels.length === 0) return;
    const data = props.distributedMapData;
    if (data === undefined) {
      throw new Error(
        `${props.definitionFile} has a Distributed Map: give the workflow distributedMapData (where it reads and writes)`,
      );
    }
    const stack = Stack.of(this);
    const machineName = Arn.split(
      this.stateMachine.stateMachineArn,
      ArnFormat.COLON_RESOURCE_NAME,
    ).resourceName;
    const executions = (suffix: string) =>
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${machineName}/${suffix}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const policy = new iam.Policy(this, 'DistributedMapPolicy', {
      statements: [
        new iam.PolicyStatement({
          actions: ['states:StartExecution'],
          resources: [this.stateMachine.stateMachineArn],
        }),
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [executions('*')],
        }),
        new iam.PolicyStatement({
          actions: ['states:RedriveExecution'],
          resources: [...new Set(labels)].map((label) => executions(`${label}:*`)),
        }),
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [data.bucket.arnForObjects(data.itemKeys)],
        }),
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
          resources: [data.bucket.arnForObjects(`${data.resultPrefix}/*`)],
        }),
      ],
    });
    policy.attachToRole(this.stateMachine.role);
    // cdk-nag names each wildcard resource as the template writes it (logical ids, the ARN's split for the name).
    const machineId = stack.getLogicalId(this.stateMachine.node.defaultChild as CfnElement);
    const machineInArn = `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${machineId}"}]}]}`;
    const executionsFinding = (suffix: string) =>
      `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${machineInArn}/${suffix}`;
    const bucketId = stack.getLogicalId(data.bucket.node.defaultChild as CfnElement);
    const findings = [
      executionsFinding('*'),
      ...[...new Set(labels)].map((label) => executionsFinding(`${label}:*`)),
      `Resource::<${bucketId}.Arn>/${data.itemKeys}`,
      `Resource::<${bucketId}.Arn>/${data.resultPrefix}/*`,
    ];
    for (const finding of findings) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason:
          'A Distributed Map names its child executions at run time (<state machine>/<Map Run label>:<id>) and ' +
          'each sync its own staging keys (runs/<execution>/items.json, runs/<execution>/map-results/…): the ' +
          'wildcard stands for exactly that part, in this state machine or the staging prefix only.',
      });
    }
  }
}
