/**
 * What AWS adds to a question's path that the local stand-ins do not have, in milliseconds, each with where the
 * figure comes from (checked 2026-11-30). AWS publishes few latency figures: where it does, the figure is quoted
 * with its page; where it does not, the figure is an assumption and says so. Every Lambda and the state machine
 * run with X-Ray active tracing (infra/bot-function.ts, infra/workflow.ts), whose trace timeline shows each of
 * these per execution once the stack is deployed: replace the assumptions with what it shows.
 */

export interface AwsLatency {
  ms: number;
  /** True when AWS publishes no figure and this one is assumed. */
  assumed: boolean;
  source: string;
}

/**
 * One call from a Lambda to DynamoDB, Step Functions (StartExecution) or Secrets Manager in the same Region,
 * over a kept-alive connection. DynamoDB "delivers single-digit millisecond performance at any scale"
 * (https://aws.amazon.com/dynamodb/, quoted in its developer guide's introduction): the bound, 10 ms, is taken,
 * and the same for the other two services, which publish no latency. Added to the loopback call measured here.
 */
export const AWS_API_CALL: AwsLatency = {
  ms: 10,
  assumed: false,
  source:
    'DynamoDB: "single-digit millisecond performance at any scale" (aws.amazon.com/dynamodb), taken as 10 ms; ' +
    'Step Functions and Secrets Manager calls assumed the same (AWS publishes no figure)',
};

/** Slack's request reaching the ack through its Function URL, and the response going back: a Lambda invoke. */
export const FUNCTION_URL_INVOKE: AwsLatency = {
  ms: 15,
  assumed: true,
  source: 'assumed: AWS publishes no latency for a Function URL request or a synchronous Lambda invoke',
};

/** From StartExecution accepted (async Express) to the first Task's invoke: the execution starting. */
export const EXPRESS_START: AwsLatency = {
  ms: 25,
  assumed: true,
  source: 'assumed: AWS publishes no start latency for Express executions',
};

/** Each Task of the state machine: Step Functions invoking the warm Lambda and taking its result. */
export const TASK_INVOKE: AwsLatency = {
  ms: 20,
  assumed: true,
  source: 'assumed: AWS publishes no latency for a Lambda Task (state transition plus Invoke)',
};

/**
 * Lambda's own part of a cold start, before Node starts: the execution environment and the code. The Lambda
 * developer guide says "The duration of a cold start varies from under 100 ms to over 1 second"
 * (docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#cold-start-latency) for the whole of it,
 * without a split: its low end is added per cold function, on top of what is measured here (Node's boot, the
 * bundle's load and the first invocation's extra work).
 */
export const COLD_START_PLATFORM: AwsLatency = {
  ms: 100,
  assumed: false,
  source:
    'Lambda developer guide, lambda-runtime-environment#cold-start-latency: "The duration of a cold start varies from ' +
    'under 100 ms to over 1 second" (the whole; its low end taken for the platform part, which AWS does not split out)',
};
