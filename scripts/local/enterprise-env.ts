/**
 * LOCAL_SLACK_ENTERPRISE: makes the local stack an org-wide install on Slack Enterprise Grid of the organisation it
 * names (`E…`, issue 22 point 1). The fake Slack's `auth.test` then says `is_enterprise_install: true`, every
 * delivery names the organisation, and its people are members of it whichever of its two workspaces they are in
 * (LOCAL_TEAM_ID, LOCAL_SISTER_TEAM_ID in stack.ts).
 */
export const ENTERPRISE_VARIABLE = 'LOCAL_SLACK_ENTERPRISE';

/** The organisation id, or undefined when the variable is unset or blank; throws naming the variable when not `E…`. */
export function enterpriseFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[ENTERPRISE_VARIABLE]?.trim();
  if (!value) return undefined;
  if (!/^E[A-Z0-9]+$/.test(value))
    throw new Error(`${ENTERPRISE_VARIABLE} must be a Slack organisation id starting with E; got "${value}"`);
  return value;
}
