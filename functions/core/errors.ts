/**
 * Errors named for the retry decision they drive. A Lambda's `errorType` is the thrown error's `name`, and the
 * state machine's Retry matches on it: `TransientError` is retried with backoff, `PermanentError` never is.
 */

/** A failure that may succeed if tried again: throttling, a 5xx, a timeout, a dropped connection. */
export class TransientError extends Error {
  override name = 'TransientError';
}

/** A failure that will fail the same way again: bad input, a missing permission, a bad key. Not retried. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Configuration is missing or malformed: names the variable, and is never retried. */
export class ConfigError extends PermanentError {
  override name = 'ConfigError';
}

const TRANSIENT_NAMES = new Set([
  'TransientError',
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'InternalServerError',
  'InternalServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'AbortError',
  'RateLimitError',
  'APIConnectionError',
  'APIConnectionTimeoutError',
  'slack_webapi_rate_limited_error',
  'slack_webapi_request_error',
  'slack_webapi_http_error',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

const SLACK_TRANSIENT_ERRORS = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

function statusOf(error: Record<string, unknown>): number | undefined {
  const meta = error.$metadata as { httpStatusCode?: number } | undefined;
  if (typeof meta?.httpStatusCode === 'number') return meta.httpStatusCode;
  if (typeof error.status === 'number') return error.status;
  if (typeof error.statusCode === 'number') return error.statusCode;
  const original = error.original as { response?: { status?: number } } | undefined;
  return original?.response?.status;
}

/** True when trying the same call again may succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof PermanentError) return false;
  if (typeof error !== 'object' || error === null) return false;
  const record = error as Record<string, unknown>;
  for (const key of ['name', 'code']) {
    const value = record[key];
    if (typeof value === 'string' && TRANSIENT_NAMES.has(value)) return true;
  }
  // Slack answers some transient conditions with HTTP 200 and `ok: false`; the WebClient never retries those.
  const slackError = (record.data as { error?: unknown } | undefined)?.error;
  if (typeof slackError === 'string' && SLACK_TRANSIENT_ERRORS.has(slackError)) return true;
  const status = statusOf(record);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  // LanceDB surfaces object-store failures as plain Errors; their text is the only signal.
  if (error instanceof Error && TRANSIENT_MESSAGE.test(error.message)) return true;
  const cause = record.cause;
  return cause !== undefined && cause !== error && isTransient(cause);
}

const TRANSIENT_MESSAGE =
  /\b(timed? ?out|timeout|connection (reset|refused|closed)|temporarily unavailable|service unavailable|slow ?down|throttl|too many requests|503|500 internal)\b/i;

/**
 * Turns any failure into the error the state machine should see: a `TransientError` or a `PermanentError`,
 * keeping the original message (which never carries a secret: clients print none) and the cause.
 */
export function toStepError(error: unknown, what: string): TransientError | PermanentError {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  return isTransient(error)
    ? new TransientError(message, { cause: error })
    : new PermanentError(message, { cause: error });
}
