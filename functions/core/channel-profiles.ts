/**
 * Assistants per channel (`CHANNEL_PROFILES`, deployment setting `bot:channelProfiles`): a channel can carry its own
 * profile, read from the JSON of that setting and resolved in one place, `profileFor`.
 *
 * - Keys are channel ids (`C…`, `G…`) or `*`, which holds for every other channel and for DMs and the agent pane,
 *   as `CHANNEL_COLLECTIONS` does: a DM is the asker's own place, not a channel an operator configures.
 * - A channel's own entry replaces `*` as a whole (no merging field by field), so what a channel gets is what its
 *   entry says; a field it leaves out takes the deployment's setting (`OPENAI_MODEL`, `RETRIEVE_TOP_K`, `FOLLOW_UPS`).
 *
 * Loaded by both the functions' config and the CDK app, so a bad profile stops `cdk synth` naming its entry.
 */

export type FollowUpPolicy = 'off' | 'asker' | 'anyone';
export type ModelProvider = 'openai' | 'local' | 'bedrock';

export interface ChannelProfile {
  /**
   * Operator instructions added to the answer's system prompt (the team's tone, what to refuse), at most
   * {@link MAX_INSTRUCTIONS_CHARS} characters. They sit in their own block, apart from the untrusted passages.
   */
  instructions?: string;
  /** The chat model that answers here; the deployment's provider's (see {@link providerOfModel}). */
  model?: string;
  /** How many passages Retrieve gives the answer here (1 to 50). */
  topK?: number;
  /** Which replies in a thread the bot answered here are answered without a mention (as `FOLLOW_UPS`). */
  followUps?: FollowUpPolicy;
}

export type ChannelProfiles = Readonly<Record<string, ChannelProfile>>;

/** What a profile resolved for one question carries through the state machine (`$.history.profile`). */
export interface ResolvedProfile extends ChannelProfile {
  /** The entry that matched: a channel id or `*`. Absent when no entry did. */
  entry?: string;
}

export const MAX_INSTRUCTIONS_CHARS = 2_000;
const FOLLOW_UPS: readonly FollowUpPolicy[] = ['off', 'asker', 'anyone'];
const FIELDS = new Set(['instructions', 'model', 'topK', 'followUps']);
const PROFILE_KEY = /^(\*|[CG][A-Z0-9]{2,})$/;

/**
 * The provider a chat model's name belongs to: `local-…` names the offline model, a `vendor.model` id (with an
 * optional cross-region prefix, `us.anthropic.claude-…`) or a Bedrock ARN names a Bedrock model, anything else is
 * taken as an OpenAI (or OpenAI-compatible) model.
 */
export function providerOfModel(model: string): ModelProvider {
  if (model.startsWith('local-')) return 'local';
  if (model.startsWith('arn:aws:bedrock:')) return 'bedrock';
  if (/^(?:[a-z]{2,4}\.)?[a-z0-9-]+\.[a-z0-9][\w.:-]*$/.test(model) && !/^gpt-|^o\d/.test(model))
    return 'bedrock';
  return 'openai';
}

export type ParsedProfiles = { ok: true; value: ChannelProfiles } | { ok: false; problem: string };

/**
 * Validates `CHANNEL_PROFILES` (a JSON string or an already parsed object) for a deployment whose chat models come
 * from `provider` (unchecked when undefined: a function that builds no model and is not told the provider). The
 * problem names the bad entry and field: `entry "C0123ABCD": topK must be …`.
 */
export function parseChannelProfiles(raw: unknown, provider: ModelProvider | undefined): ParsedProfiles {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, problem: 'not valid JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: 'not a JSON object of channel ids (or "*") to profiles' };
  }
  const out: Record<string, ChannelProfile> = {};
  for (const [key, entry] of Object.entries(value)) {
    const bad = (problem: string): ParsedProfiles => ({ ok: false, problem: `entry "${key}": ${problem}` });
    if (!PROFILE_KEY.test(key)) return bad('the key must be a channel id (C… or G…) or "*"');
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return bad('must be an object');
    const unknown = Object.keys(entry).find((field) => !FIELDS.has(field));
    if (unknown !== undefined) {
      return bad(`unknown field "${unknown}" (a profile has instructions, model, topK, followUps)`);
    }
    const { instructions, model, topK, followUps } = entry as Record<string, unknown>;
    const profile: ChannelProfile = {};
    if (instructions !== undefined) {
      if (typeof instructions !== 'string' || instructions.trim() === '') {
        return bad('instructions must be a non-empty string');
      }
      if (instructions.length > MAX_INSTRUCTIONS_CHARS) {
        return bad(`instructions must be at most ${MAX_INSTRUCTIONS_CHARS} characters`);
      }
      profile.instructions = instructions.trim();
    }
    if (model !== undefined) {
      if (typeof model !== 'string' || model.trim() === '') return bad('model must be a non-empty string');
      const of = providerOfModel(model.trim());
      if (provider !== undefined && of !== provider) {
        return bad(`model "${model}" belongs to the ${of} provider, but this deployment's is ${provider}`);
      }
      profile.model = model.trim();
    }
    if (topK !== undefined) {
      if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > 50) {
        return bad('topK must be a whole number from 1 to 50');
      }
      profile.topK = topK;
    }
    if (followUps !== undefined) {
      if (typeof followUps !== 'string' || !FOLLOW_UPS.includes(followUps as FollowUpPolicy)) {
        return bad(`followUps must be one of ${FOLLOW_UPS.join(', ')}`);
      }
      profile.followUps = followUps as FollowUpPolicy;
    }
    out[key] = profile;
  }
  return { ok: true, value: out };
}

/**
 * The profile of a place: the channel's own entry, else `*` (every other channel, DMs and the agent pane), else
 * none. The one place profiles are resolved: Load history for a question (the states after it read
 * `$.history.profile`), the ack for the follow-up policy.
 */
export function profileFor(profiles: ChannelProfiles | undefined, channel: string): ResolvedProfile {
  if (profiles === undefined) return {};
  const own = Object.hasOwn(profiles, channel) ? profiles[channel] : undefined;
  if (own !== undefined) return { entry: channel, ...own };
  const any = profiles['*'];
  return any === undefined ? {} : { entry: '*', ...any };
}
