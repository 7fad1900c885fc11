import type { Logger } from '@aws-lambda-powertools/logger';
import type { Embeddings } from '@langchain/core/embeddings';
import type { AppConfig } from '../config';
import { PermanentError } from '../errors';
import { memoAsync } from '../memo';
import type { Runtime } from '../runtime';
import { type InvocationContext, lambdaEntry, runStep, type StepHandler } from '../step-handler';
import { createIngestServices, type IngestServices } from './ingest-services';

/** Every ingest step's input carries the execution's name (from `$$.Execution.Name`): the sync's id. */
export interface IngestStepInput {
  executionName: string;
}

/** What an ingest step runs with. */
export interface IngestStepContext {
  config: AppConfig;
  logger: Logger;
  now(): number;
  services: IngestServices;
}

/**
 * Step Functions execution names are 1 to 80 characters without whitespace, brackets, wildcards or
 * `" # % \ ^ | ~ \` $ & , ; : /`; the name is a staging key and a lock owner, so anything else is refused.
 */
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/;

/** Rejects an input that did not come from the state machine, as a permanent error. */
export function assertIngestStepInput(input: unknown): asserts input is IngestStepInput {
  const name = (input as Partial<IngestStepInput> | null)?.executionName;
  if (typeof name !== 'string' || !EXECUTION_NAME.test(name) || name === '.' || name === '..') {
    throw new PermanentError(
      'ingest step input must have an executionName (a Step Functions execution name)',
    );
  }
}

/**
 * Defines one state of the ingest state machine as a Lambda handler, as `defineStep` does for the conversation:
 * `createHandler` takes a runtime (and, locally, the services to share), `handler` is what Lambda runs.
 * Errors leave as `TransientError` or `PermanentError` for the ASL's Retry, and every log line carries the
 * execution's name.
 *
 * @param options.embeddings the embedder of a step that embeds (`createIngestEmbeddings`), given by its entry
 *   so that only the entries that embed bundle the model clients.
 */
export function defineIngestStep<I extends IngestStepInput, O>(
  stepName: string,
  run: (context: IngestStepContext, input: I, invocation?: InvocationContext) => Promise<O>,
  options: { embeddings?: (runtime: Runtime) => Promise<Embeddings> } = {},
): {
  createHandler(runtime: Runtime, services?: IngestServices): StepHandler<I, O>;
  handler: StepHandler<I, O>;
} {
  const ownServices = (runtime: Runtime): IngestServices => {
    const { embeddings } = options;
    return createIngestServices(
      runtime,
      embeddings === undefined ? {} : { embeddings: memoAsync(() => embeddings(runtime)) },
    );
  };
  const createHandler = (runtime: Runtime, services = ownServices(runtime)): StepHandler<I, O> => {
    const context: IngestStepContext = {
      config: runtime.config,
      logger: runtime.logger,
      now: runtime.now,
      services,
    };
    return async (input, invocation) => {
      assertIngestStepInput(input);
      return runStep(runtime, stepName, { executionName: input.executionName }, () =>
        run(context, input, invocation),
      );
    };
  };
  return { createHandler, handler: lambdaEntry((runtime) => createHandler(runtime)) };
}
