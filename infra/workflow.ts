import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
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
        memorySize: spec.memoryMb,
        usesLanceDb: spec.usesLanceDb,
        description: `${id} / ${name} (${spec.entry})`,
        logLevel: props.logLevel,
        logRetention: props.logRetention,
      });
      props.access[placeholder](fn, props.resources);
      functions[placeholder] = fn;
    }
    this.functions = functions;

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
    // The ASL names unqualified function ARNs, so exactly those (no `:*` for versions and aliases).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: entries.map(([placeholder]) => functions[placeholder].functionArn),
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
        entries.map(([placeholder]) => [placeholder, functions[placeholder].functionArn]),
      ),
      role,
      tracingEnabled: true,
      logs: {
        destination: this.logGroup,
        level: props.executionLog === 'errors' ? sfn.LogLevel.ERROR : sfn.LogLevel.ALL,
        includeExecutionData: props.executionLog !== 'events',
      },
    });
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
}
