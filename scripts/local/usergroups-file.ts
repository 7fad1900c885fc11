import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type FakeUserGroups, userGroupsProblem } from '../../stand-ins/slack/fake-slack';

/**
 * LOCAL_SLACK_USERGROUPS: the user groups the local stack's fake Slack answers `usergroups.list` and
 * `usergroups.users.list` from, read from the JSON file the variable names (issue 21, point 6), so that two people
 * asking the same question locally can get two different answers. The file maps group ids to members:
 * `{"S0HRTEAM":["U0ALICE"]}`; a group may also be `{"users":[…],"name","handle","description","disabled"}`.
 */
export const USERGROUPS_VARIABLE = 'LOCAL_SLACK_USERGROUPS';

/**
 * The user groups of the file `env.LOCAL_SLACK_USERGROUPS` names (relative to `cwd`), or undefined when the
 * variable is unset or blank. Throws an Error naming the variable, the file and what is wrong with it: missing,
 * unreadable, not JSON, or not a map of `S…` ids to lists of `U…`/`W…` ids.
 */
export function userGroupsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): FakeUserGroups | undefined {
  const named = env[USERGROUPS_VARIABLE]?.trim();
  if (!named) return undefined;
  const path = resolve(cwd, named);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'which does not exist'
        : code === 'EISDIR'
          ? 'which is a folder, not a file'
          : `which cannot be read (${(error as Error).message})`;
    throw new Error(`${USERGROUPS_VARIABLE} names ${path}, ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${USERGROUPS_VARIABLE} names ${path}, which is not JSON (${(error as Error).message}); ` +
        'write it as {"S0HRTEAM":["U0ALICE"]}',
    );
  }
  const problem = userGroupsProblem(parsed);
  if (problem !== undefined) throw new Error(`${USERGROUPS_VARIABLE} names ${path}: ${problem}`);
  return parsed as FakeUserGroups;
}
