import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LogLevel, WebClient } from '@slack/web-api';
import { userGroupsFromEnv } from '../../scripts/local/usergroups-file';
import { startTestStack, temporaryDirectory } from '../support/local-stack';
import { eventually, runScript, shellEnv, startScript } from '../support/run-command';

/**
 * LOCAL_SLACK_USERGROUPS (issue 21, point 6): the JSON file of user groups `npm run dev` gives its fake Slack, read as
 * the local stack's Slack client then sees them; a file that is missing, not JSON or not a map of group ids to user
 * ids stops dev with one line naming the variable and what is wrong.
 */

let dir: Awaited<ReturnType<typeof temporaryDirectory>>;

beforeAll(async () => {
  dir = await temporaryDirectory('slack-usergroups-');
});

afterAll(async () => {
  await dir?.remove();
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir.path, name);
  await writeFile(path, text);
  return path;
}

describe('LOCAL_SLACK_USERGROUPS', () => {
  it("is answered by the local stack's fake Slack, as the bot's WebClient calls it", async () => {
    // Arrange
    const path = await file(
      'groups.json',
      JSON.stringify({
        S0HRTEAM: ['U0ALICE'],
        S0ENG: { users: ['U0BOB'], name: 'Engineering', handle: 'eng' },
      }),
    );
    const groups = userGroupsFromEnv({ LOCAL_SLACK_USERGROUPS: path });
    const { stack, close } = await startTestStack({
      indexSamples: false,
      ...(groups === undefined ? {} : { slackUserGroups: groups }),
    });
    try {
      const client = new WebClient(stack.env.SLACK_BOT_TOKEN, {
        slackApiUrl: stack.env.SLACK_API_URL,
        retryConfig: { retries: 0 },
        logLevel: LogLevel.ERROR,
      });

      // Act
      const listed = await client.usergroups.list({ include_users: true });
      stack.slack.setUserGroupMembers('S0HRTEAM', []);
      const hr = await client.usergroups.users.list({ usergroup: 'S0HRTEAM' });

      // Assert
      expect(
        listed.usergroups?.map((g) => ({ id: g.id, handle: g.handle, name: g.name, users: g.users })),
      ).toEqual([
        { id: 'S0HRTEAM', handle: 's0hrteam', name: 'S0HRTEAM', users: ['U0ALICE'] },
        { id: 'S0ENG', handle: 'eng', name: 'Engineering', users: ['U0BOB'] },
      ]);
      expect(hr.users).toEqual([]);
    } finally {
      await close();
    }
  });

  it('is optional: unset or blank, there are no user groups', () => {
    expect(userGroupsFromEnv({})).toBeUndefined();
    expect(userGroupsFromEnv({ LOCAL_SLACK_USERGROUPS: '  ' })).toBeUndefined();
  });

  it('names a file relative to the working directory', async () => {
    await file('relative.json', '{"S0HRTEAM":["U0ALICE","W0CAROL"]}');

    expect(userGroupsFromEnv({ LOCAL_SLACK_USERGROUPS: 'relative.json' }, dir.path)).toEqual({
      S0HRTEAM: ['U0ALICE', 'W0CAROL'],
    });
  });

  it.each([
    ['a missing file', 'missing.json', undefined, /names .*missing\.json, which does not exist$/],
    ['a folder', 'folder', 'dir', /names .*folder, which is a folder, not a file$/],
    [
      'text that is not JSON',
      'broken.json',
      '{"S0HRTEAM": [U0ALICE]}',
      /which is not JSON \(.*\); write it as/,
    ],
    [
      'a list',
      'list.json',
      '["U0ALICE"]',
      /expected a JSON object mapping user group ids \(S…\).*not a list/,
    ],
    ['a group id that is not S…', 'id.json', '{"HR":["U0ALICE"]}', /"HR" is not a user group id/],
    ['a member that is not U… or W…', 'member.json', '{"S0HR":["alice"]}', /S0HR: "alice" is not a user id/],
    [
      'members that are not a list',
      'members.json',
      '{"S0HR":"U0ALICE"}',
      /S0HR: expected a list of user ids/,
    ],
  ])('refuses %s, naming the variable and the problem', async (_, name, content, message) => {
    if (content === 'dir') await mkdir(join(dir.path, name), { recursive: true });
    else if (content !== undefined) await file(name, content);

    const load = () => userGroupsFromEnv({ LOCAL_SLACK_USERGROUPS: join(dir.path, name) });

    expect(load).toThrow(/^LOCAL_SLACK_USERGROUPS names \//);
    expect(load).toThrow(message);
  });

  it('reaches the fake Slack of npm run dev, which says so in its banner', async () => {
    // Arrange
    const cwd = join(dir.path, 'dev');
    await mkdir(cwd);
    await writeFile(join(cwd, 'groups.json'), '{"S0HRTEAM":["U0ALICE"]}');
    const dev = startScript('dev.ts', ['--port', '0'], {
      cwd,
      env: shellEnv({ LLM_PROVIDER: 'local', LOCAL_SLACK_USERGROUPS: 'groups.json' }),
    });
    try {
      await eventually(
        'npm run dev to start',
        () => (/Press Ctrl\+C/.test(dev.output().stdout) || dev.exitCode !== null ? true : undefined),
        90_000,
      );
      const state = JSON.parse(await readFile(join(cwd, '.local/dev.json'), 'utf8')) as {
        slackApiUrl: string;
      };
      const client = new WebClient('xoxb-any', { slackApiUrl: state.slackApiUrl, logLevel: LogLevel.ERROR });

      // Act
      const listed = await client.usergroups.list({ include_users: true });

      // Assert
      expect(dev.output().stdout).toMatch(
        /^User groups: +1 from LOCAL_SLACK_USERGROUPS \(groups\.json\); choose who you are in the playground$/m,
      );
      expect(listed.usergroups?.map((g) => [g.id, g.users])).toEqual([['S0HRTEAM', ['U0ALICE']]]);
    } finally {
      if (dev.exitCode === null) dev.kill('SIGINT');
      expect((await dev.exited).code).toBe(0);
    }
  }, 120_000);

  it('stops npm run dev before it starts anything, with one line and exit code 1', async () => {
    // Act
    const run = await runScript('dev.ts', ['--port', '0'], {
      cwd: dir.path,
      env: shellEnv({ LLM_PROVIDER: 'local', LOCAL_SLACK_USERGROUPS: 'nowhere.json' }),
    });

    // Assert
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `LOCAL_SLACK_USERGROUPS names ${join(dir.path, 'nowhere.json')}, which does not exist`,
    );
    expect(run.stdout).not.toContain('Playground:');
  }, 60_000);
});
