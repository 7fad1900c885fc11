import type { Logger } from '@aws-lambda-powertools/logger';
import { isValidSlackRequest } from '@slack/bolt';
import type { AwsEvent, AwsResponse } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';

/** Slack signs with a timestamp and rejects replays older than 5 minutes; a clock this far ahead is refused too. */
const MAX_CLOCK_SKEW_SECONDS = 300;
/** Slack's own payloads are a few kilobytes; anything this large is not from Slack. */
const MAX_BODY_BYTES = 512 * 1024;

/** The request's body as UTF-8 text, for Bolt to read; or the response that refuses the request. */
export type RequestCheck = { rawBody: string } | { refused: AwsResponse };

/**
 * The door, before Bolt: a body of Slack's size, a signature and a timestamp that are present, fresh and valid,
 * and a body Bolt can parse. A retried delivery is logged with Slack's reason.
 */
export function checkSlackRequest(
  awsEvent: AwsEvent,
  deps: { signingSecret: string; logger: Logger; now(): number },
): RequestCheck {
  const headers = (awsEvent.headers ?? {}) as Record<string, string | undefined>;
  const rawBody = awsEvent.body
    ? awsEvent.isBase64Encoded
      ? Buffer.from(awsEvent.body, 'base64').toString('utf8')
      : awsEvent.body
    : '';
  if (Buffer.byteLength(rawBody) > MAX_BODY_BYTES) return refuse(413, 'request body too large');
  const signature = header(headers, 'x-slack-signature');
  const timestamp = Number(header(headers, 'x-slack-request-timestamp'));
  if (!signature || !Number.isInteger(timestamp))
    return refuse(401, 'missing or malformed Slack signature headers');
  const nowSeconds = Math.floor(deps.now() / 1000);
  if (Math.abs(nowSeconds - timestamp) > MAX_CLOCK_SKEW_SECONDS)
    return refuse(401, 'stale or future timestamp');
  const valid = isValidSlackRequest({
    signingSecret: deps.signingSecret,
    body: rawBody,
    headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp },
    nowMilliseconds: deps.now(),
  });
  if (!valid) return refuse(401, 'invalid Slack signature');
  if (!isParsableBody(rawBody, header(headers, 'content-type')))
    return refuse(400, 'body is neither JSON nor form data');
  const retryNum = header(headers, 'x-slack-retry-num');
  if (retryNum !== undefined) {
    deps.logger.info('Slack retried a delivery', {
      retryNum,
      retryReason: header(headers, 'x-slack-retry-reason'),
    });
  }
  return { rawBody };
}

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function refuse(statusCode: number, message: string): RequestCheck {
  return { refused: { statusCode, headers: { 'Content-Type': 'text/plain' }, body: message } };
}

function isParsableBody(rawBody: string, contentType: string | undefined): boolean {
  if (contentType?.startsWith('application/x-www-form-urlencoded')) return rawBody.length > 0;
  try {
    const parsed: unknown = JSON.parse(rawBody);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}
