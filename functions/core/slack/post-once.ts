import { ErrorCode } from '@slack/web-api';

/**
 * Whether Slack answered a failed call (an API error, a rate limit), in which case it did nothing. A timeout, a dropped
 * connection or an HTTP error says nothing about whether the call took effect.
 */
export function slackAnswered(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === ErrorCode.PlatformError || code === ErrorCode.RateLimitedError;
}

/**
 * Makes a post that must exist once in its thread with `post`, whose client never retries by itself: a post whose
 * answer is lost or late may have been made, and a blind retry would show it twice. When Slack answered a failure,
 * nothing was posted and the error stands. When it did not, `findMade` looks for the post in the thread (it names
 * itself in its metadata), and it is made again only if it is not there. When the thread cannot be read either, it is
 * made again and `unsure` says the first may be there too.
 */
export async function postOnceInThread<T>(
  post: () => Promise<T>,
  findMade: () => Promise<T | undefined>,
  onLookupError: (error: unknown) => void,
): Promise<{ posted: T; unsure: boolean }> {
  try {
    return { posted: await post(), unsure: false };
  } catch (error) {
    if (slackAnswered(error)) throw error;
    let made: T | undefined;
    try {
      made = await findMade();
    } catch (lookupError) {
      onLookupError(lookupError);
      return { posted: await post(), unsure: true };
    }
    return { posted: made ?? (await post()), unsure: false };
  }
}
