import { type Lang, textsFor } from '../i18n';
import { rateLimitedFor } from '../slack/slack-errors';

/**
 * Who may ask the bot. Two questions, asked before a mention is handled:
 *
 * - Is the delivery for this app and this workspace at all (`api_app_id`, `team_id`, `authorizations`)? If not it
 *   is refused without a word: nobody in our workspace is asking.
 * - Is the person a member of the installing workspace, in a channel only that workspace sees? Slack Connect users
 *   (their team is another one), channels shared with other organisations and guests (restricted and
 *   ultra-restricted accounts) get one short, polite reply unless the configuration allows them; the documents
 *   are the organisation's own, and an answer in a shared channel is read by everyone in it.
 *
 * On Slack Enterprise Grid the app may be installed org-wide (`Installation.enterpriseId`): then a delivery is ours
 * when it is for the installing organisation, whichever of its workspaces sent it (`team_id` is that workspace),
 * and every member of any workspace of the organisation is an insider: a person's organisation is `users.info`'s
 * `enterprise_user.enterprise_id`, since a sister workspace's team id alone cannot say it is the organisation's.
 * Channels shared with other organisations (`is_ext_shared_channel`), their people and guests are refused as on a
 * single workspace. A single-workspace install in a Grid organisation (envelopes carry `enterprise_id` too) is
 * checked as any single-workspace install: its workspace is home.
 */

/** The app and workspace the bot was installed as: the configured ids, else `auth.test`'s. */
export interface Installation {
  teamId?: string;
  /**
   * The organisation of an org-wide install on Enterprise Grid (`SLACK_TEAM_ID=E…`, else `auth.test`'s
   * `enterprise_id` when it says `is_enterprise_install`); undefined for a single-workspace install.
   */
  enterpriseId?: string;
  appId?: string;
}

/** What the configuration allows beyond members of the installing workspace. */
export interface AccessPolicy {
  allowSlackConnect: boolean;
  allowGuests: boolean;
}

/** What the ack needs to know about a person: read from `users.info`, cached. */
export interface PersonInfo {
  teamId?: string;
  /** The person's Enterprise Grid organisation (`enterprise_user.enterprise_id`), when they belong to one. */
  enterpriseId?: string;
  guest: boolean;
}

/** Looks a person up (`users.info`, needs the `users:read` scope). */
export type PersonLookup = (userId: string) => Promise<PersonInfo>;

/** The parts of an Events API envelope this module reads. */
export interface EventEnvelope {
  type?: string;
  api_app_id?: string;
  team_id?: string | null;
  /** The organisation the event happened in, on Enterprise Grid (null or absent elsewhere). */
  enterprise_id?: string | null;
  /** The organisation through which the app receives the event (Bolt's `EnvelopedEvent`). */
  context_enterprise_id?: string | null;
  is_ext_shared_channel?: boolean;
  authorizations?: Array<{
    team_id?: string | null;
    enterprise_id?: string | null;
    is_enterprise_install?: boolean;
  }>;
}

/** The parts of a message event this module reads: what Slack adds in shared channels included. */
export interface AskingEvent {
  user?: string;
  team?: string;
  user_team?: string;
  source_team?: string;
  user_profile?: { team?: string; is_restricted?: boolean; is_ultra_restricted?: boolean };
}

export const SLACK_CONNECT_NOT_ALLOWED = textsFor('en').slackConnectNotAllowed;
export const GUESTS_NOT_ALLOWED = textsFor('en').guestsNotAllowed;
/** The refusals' English texts on an org-wide install on Enterprise Grid. */
export const SLACK_CONNECT_NOT_ALLOWED_IN_ORG = textsFor('en').slackConnectNotAllowedInOrg;
export const GUESTS_NOT_ALLOWED_IN_ORG = textsFor('en').guestsNotAllowedInOrg;

/**
 * Why a delivery is not for this installation (another app, another workspace), or undefined when it is.
 * An id the installation does not know (neither configured nor in `auth.test`'s answer) is not checked.
 */
export function foreignDelivery(body: EventEnvelope, installation: Installation): string | undefined {
  if (installation.appId !== undefined && body.api_app_id !== installation.appId)
    return `api_app_id ${body.api_app_id ?? '(none)'} is not this app`;
  const { teamId, enterpriseId } = installation;
  if (enterpriseId !== undefined) {
    // An org-wide install: any workspace of the organisation may deliver (team_id is that workspace's).
    // Bolt's envelope (EnvelopedEvent) names both; either may be the one Slack filled in.
    const organisation = body.enterprise_id ?? body.context_enterprise_id;
    if (organisation !== enterpriseId)
      return `enterprise_id ${organisation ?? '(none)'} is not the installing organisation`;
    const authorizations = body.authorizations ?? [];
    if (authorizations.length > 0 && !authorizations.some((a) => a.enterprise_id === enterpriseId))
      return 'no authorization is for the installing organisation';
    return undefined;
  }
  if (teamId === undefined) return undefined;
  if (body.team_id !== teamId) return `team_id ${body.team_id ?? '(none)'} is not the installing workspace`;
  const authorizations = body.authorizations ?? [];
  if (authorizations.length > 0 && !authorizations.some((a) => a.team_id === teamId))
    return 'no authorization is for the installing workspace';
  return undefined;
}

/**
 * The reply for a person the configuration does not allow (a Slack Connect user or channel, a guest), or
 * undefined when the person may ask. `users.info` is called only when the event does not already settle it.
 */
export async function outsiderReply(
  event: AskingEvent,
  body: EventEnvelope,
  installation: Installation,
  policy: AccessPolicy,
  lookUp: PersonLookup,
  /** The language of the reply (the question's). @default 'en' */
  lang: Lang = 'en',
): Promise<string | undefined> {
  const texts = textsFor(lang);
  const home = installation.teamId;
  const organisation = installation.enterpriseId;
  // On an org-wide install the refusals speak of the organisation: its members are asked, in any of its workspaces.
  const t =
    organisation === undefined
      ? texts
      : {
          slackConnectNotAllowed: texts.slackConnectNotAllowedInOrg,
          guestsNotAllowed: texts.guestsNotAllowedInOrg,
        };
  const teams = [event.user_team, event.user_profile?.team, event.source_team, event.team].filter(
    (team): team is string => team !== undefined && team !== '',
  );
  // On an org-wide install a team id other than one's own may be a sister workspace's: only the lookup can say.
  const externalByEvent =
    organisation === undefined && home !== undefined && teams.some((team) => team !== home);
  if (!policy.allowSlackConnect && (body.is_ext_shared_channel === true || externalByEvent))
    return t.slackConnectNotAllowed;
  if (policy.allowSlackConnect && policy.allowGuests) return undefined;
  const profile = event.user_profile;
  const person: PersonInfo =
    organisation === undefined &&
    profile !== undefined &&
    profile.is_restricted !== undefined &&
    profile.team !== undefined
      ? { teamId: profile.team, guest: profile.is_restricted || profile.is_ultra_restricted === true }
      : await lookUp(event.user ?? '');
  const outsider =
    organisation !== undefined
      ? person.enterpriseId !== organisation && (home === undefined || person.teamId !== home)
      : home !== undefined && person.teamId !== undefined && person.teamId !== home;
  if (!policy.allowSlackConnect && outsider) return t.slackConnectNotAllowed;
  if (!policy.allowGuests && person.guest) return t.guestsNotAllowed;
  return undefined;
}

/** The slice of `WebClient` a person lookup needs. */
export interface UsersInfoClient {
  users: {
    info(args: { user: string }): Promise<{
      user?: {
        team_id?: string;
        is_restricted?: boolean;
        is_ultra_restricted?: boolean;
        /** On Enterprise Grid: the person's organisation and the workspaces of it they belong to. */
        enterprise_user?: { enterprise_id?: string; teams?: string[] };
      };
    }>;
  };
}

/**
 * Slack said to wait before calling `users.info` again (a 429, or `ratelimited`): the person cannot be looked up
 * now, and nothing in the ack waits for it (Slack stops waiting for the ack after 3 s).
 */
export class PersonLookupRateLimitedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`users.info is rate limited for ${retryAfterSeconds} s`);
    this.name = 'PersonLookupRateLimitedError';
  }
}

/**
 * A `users.info` lookup cached for `ttlMs` per container: a person asking several questions costs one call, and
 * a guest promoted to member (or the reverse) is seen within the TTL. Failures are not cached. A rate-limited
 * call rejects with {@link PersonLookupRateLimitedError}, and so does every lookup until Slack's Retry-After has
 * passed, without calling Slack again (Slack asks apps to honour it).
 */
export function cachedPersonLookup(
  client: UsersInfoClient,
  options: { now(): number; ttlMs?: number; maxEntries?: number },
): PersonLookup {
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, { expiresAt: number; info: Promise<PersonInfo> }>();
  let rateLimitedUntil = 0;
  return (userId) => {
    const cached = cache.get(userId);
    if (cached !== undefined && cached.expiresAt > options.now()) return cached.info;
    const waitMs = rateLimitedUntil - options.now();
    if (waitMs > 0) return Promise.reject(new PersonLookupRateLimitedError(Math.ceil(waitMs / 1000)));
    if (cache.size >= maxEntries) cache.clear();
    const info = client.users.info({ user: userId }).then(
      ({ user }) => ({
        teamId: user?.team_id,
        enterpriseId: user?.enterprise_user?.enterprise_id,
        guest: user?.is_restricted === true || user?.is_ultra_restricted === true,
      }),
      (error: unknown) => {
        const retryAfter = rateLimitedFor(error);
        if (retryAfter === undefined) throw error;
        rateLimitedUntil = Math.max(rateLimitedUntil, options.now() + retryAfter * 1000);
        throw new PersonLookupRateLimitedError(retryAfter);
      },
    );
    cache.set(userId, { expiresAt: options.now() + ttlMs, info });
    info.catch(() => cache.delete(userId));
    return info;
  };
}
