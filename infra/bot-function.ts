import * as path from 'node:path';
import { type CfnElement, type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { metricsNamesOf } from '../functions/core/metrics';
import { INIT_MODULE_FILE, nodejsBundling } from './lambda-bundling';
import { LanceDbLayer } from './lancedb-layer';

/** The repository root: handler entries, package-lock.json and `.lambda-native/` are relative to it. */
export const REPO_ROOT = path.resolve(__dirname, '..');

export type FunctionLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface BotFunctionProps {
  /** The handler module, relative to the repository root (`functions/retrieve.ts`); it exports `handler`. */
  entry: string;
  /** Sized per step: a little under the Task's `TimeoutSeconds` in the ASL. */
  timeout: Duration;
  memorySize: number;
  /**
   * Loads LanceDB: the bundle leaves it and apache-arrow to the LanceDB layer (linux-arm64 native module).
   * @default false
   */
  usesLanceDb?: boolean;
  /**
   * An ES module deployed as `init.mjs` beside the bundle and made the handler (`init.handler`), relative to the
   * repository root (StepFunctionSpec `initModule`). @default undefined: the bundle's `handler`
   */
  initModule?: string;
  description?: string;
  /**
   * Concurrency reserved for (and capping) this function. @default undefined: the account's unreserved pool
   */
  reservedConcurrentExecutions?: number;
  /** `LOG_LEVEL` for Powertools Logger, and the application log level Lambda lets through. */
  logLevel: FunctionLogLevel;
  logRetention: logs.RetentionDays;
}

/** The DynamoDB actions a function may be granted; listed so a grant can never be a wildcard. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:ConditionCheckItem';

export interface TableAccess {
  actions: TableAction[];
  /** Partition-key prefixes (`THREAD#`) the function may touch: `dynamodb:LeadingKeys`. */
  keyPrefixes: string[];
}

export type PrefixAccess = 'read' | 'read-write';

const APPLICATION_LOG_LEVEL: Record<FunctionLogLevel, lambda.ApplicationLogLevel> = {
  debug: lambda.ApplicationLogLevel.DEBUG,
  info: lambda.ApplicationLogLevel.INFO,
  warn: lambda.ApplicationLogLevel.WARN,
  error: lambda.ApplicationLogLevel.ERROR,
};

/**
 * One Lambda of the bot, with the defaults every one of them shares: Node 24 on arm64, X-Ray active tracing,
 * JSON logs into its own log group with a retention, its own role (only what the `bind*` helpers add), and a
 * local esbuild bundle (never Docker). Each `bind*` helper grants the access and sets the environment variable
 * naming the resource in one call, so a function never holds a name it cannot use, nor a grant it is not told of.
 */
export class BotFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BotFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An explicit role instead of AWSLambdaBasicExecutionRole, whose logs grant covers every log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${id}: runs ${props.entry}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords accept no resource but *.',
    });
    if (Stack.of(this).bundlingRequired) assertLocalEsbuild();
    const usesLanceDb = props.usesLanceDb ?? false;
    const metricsNames = metricsNamesOf(Stack.of(this).stackName);
    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(REPO_ROOT, props.entry),
      // NodejsFunction takes a handler with a dot as the whole `file.export`.
      handler: props.initModule === undefined ? 'handler' : 'init.handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role: this.role,
      layers: usesLanceDb ? [LanceDbLayer.of(this).layer] : undefined,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: APPLICATION_LOG_LEVEL[props.logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      environment: {
        // LanceDB's threads are sized by connectVectorStore in every process (lancedb-threads.ts), not here.
        LOG_LEVEL: props.logLevel,
        // The stack's own metrics namespace and service, which its dashboard and alarms read (metrics.ts).
        POWERTOOLS_METRICS_NAMESPACE: metricsNames.namespace,
        POWERTOOLS_SERVICE_NAME: metricsNames.service,
      },
      bundling: {
        // The one definition the bench and tests bundle with too (infra/lambda-bundling.ts): target, minify,
        // names kept, no source map, module-first main fields, UTF-8, LanceDB left out, the aliases.
        ...nodejsBundling(usesLanceDb),
        format: OutputFormat.CJS,
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
        // esbuild's metafile feeds the check below, which then deletes it.
        metafile: !usesLanceDb,
        commandHooks: afterBundling([
          ...(usesLanceDb ? [] : [checkNoLanceDbAtLoad]),
          ...(props.initModule === undefined ? [] : [copyInitModule(props.initModule)]),
        ]),
      },
    });
  }

  get functionArn(): string {
    return this.function.functionArn;
  }

  /** Sets one environment variable (configuration, never a secret value). */
  setEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /**
   * Sets `variable` to the table's name and allows exactly `access.actions` on the items whose partition key
   * starts with one of `access.keyPrefixes`.
   */
  bindTable(table: ITable, variable: string, access: TableAccess): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...new Set(access.actions)].sort(),
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': access.keyPrefixes.map((p) => `${p}*`) },
        },
      }),
    );
    return this.setEnvironment(variable, table.tableName);
  }

  /** Sets `${variable}_ARN` to the secret's ARN and allows reading it (the function caches it for minutes). */
  bindSecret(secret: ISecret, variable: string): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
    );
    return this.setEnvironment(`${variable}_ARN`, secret.secretArn);
  }

  /** Sets `variable` to the state machine's ARN and allows starting executions of it, nothing else. */
  bindStateMachine(stateMachine: IStateMachine, variable: string): this {
    stateMachine.grantStartExecution(this.role);
    return this.setEnvironment(variable, stateMachine.stateMachineArn);
  }

  /**
   * Allows reading (and, for `read-write`, writing and deleting) the objects under `prefix` of `bucket`, and
   * listing that prefix only. With `variable`, sets it to `s3://bucket/prefix`.
   */
  bindBucketPrefix(bucket: IBucket, prefix: string, access: PrefixAccess, variable?: string): this {
    const objects = prefix === '' ? bucket.arnForObjects('*') : bucket.arnForObjects(`${prefix}/*`);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions:
          access === 'read'
            ? ['s3:GetObject']
            : ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        resources: [objects],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        ...(prefix === '' ? {} : { conditions: { StringLike: { 's3:prefix': [prefix, `${prefix}/*`] } } }),
      }),
    );
    const bucketResource = bucket.node.defaultChild as CfnElement | undefined;
    if (bucketResource) {
      const logicalId = Stack.of(this).getLogicalId(bucketResource);
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix === '' ? '' : `${prefix}/`}*]`,
        reason:
          `Object-level access to ${prefix === '' ? 'the bucket' : `the ${prefix}/ prefix`} the function works on: ` +
          'the object keys are only known at run time. Listing is limited to the same prefix.',
      });
    }
    if (variable) {
      this.setEnvironment(variable, prefix === '' ? bucket.s3UrlForObject() : bucket.s3UrlForObject(prefix));
    }
    return this;
  }
}

/** Commands run on a function's asset once it is bundled, given its output directory. */
type AfterBundling = (outputDir: string) => string[];

/** NodejsFunction's command hooks running `steps` after bundling, in order; none when there are no steps. */
function afterBundling(steps: AfterBundling[]) {
  if (steps.length === 0) return undefined;
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) => steps.flatMap((step) => step(outputDir)),
  };
}

/**
 * A bundling hook for a function not marked `usesLanceDb`: checks, from esbuild's metafile, that its entry does
 * not load `@lancedb/lancedb` at module load (infra/check-no-lancedb.cts). Such a function ships without the
 * native module and would fail on Lambda, so synth fails instead, printing the import chain.
 */
const checkNoLanceDbAtLoad: AfterBundling = (outputDir) => [
  `"${process.execPath}" "${path.join(REPO_ROOT, 'infra', 'check-no-lancedb.cts')}" "${path.join(outputDir, 'index.meta.json')}"`,
];

/** Copies the function's init module into its asset, beside the bundle (with Node, as the other hook runs). */
function copyInitModule(initModule: string): AfterBundling {
  const source = path.join(REPO_ROOT, initModule);
  return (outputDir) => [
    `"${process.execPath}" -e "require('node:fs').copyFileSync(process.argv[1], process.argv[2])" "${source}" "${path.join(outputDir, INIT_MODULE_FILE)}"`,
  ];
}

/**
 * NodejsFunction falls back to bundling in Docker (pulling an image) when it finds no local esbuild; this project
 * bundles locally only, so synth stops instead, naming the fix.
 */
function assertLocalEsbuild(): void {
  try {
    require.resolve('esbuild', { paths: [REPO_ROOT] });
  } catch {
    throw new Error(
      'esbuild is not installed: run `npm ci` (it is a devDependency). The functions are bundled locally with ' +
        'esbuild, never in Docker.',
    );
  }
}
