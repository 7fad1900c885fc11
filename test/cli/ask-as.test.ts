import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingestWorkspace } from '../support/ingest';
import { runScript, shellEnv } from '../support/run-command';

/**
 * `npm run ask -- --user U… --channel C…`: a question asked as a given person, in a given channel, answered with
 * their reach under COLLECTION_AUDIENCES and CHANNEL_COLLECTIONS, their user groups from LOCAL_SLACK_USERGROUPS. The
 * samples' onboarding checklist is in the collection `people`, here open only to the user group S0PEOPLE. Real
 * processes in a workspace of their own, offline on the `local` provider.
 */

let workspace: Awaited<ReturnType<typeof ingestWorkspace>>;
let env: NodeJS.ProcessEnv;
const QUESTION = 'What do I do in my first week?';

beforeAll(async () => {
  workspace = await ingestWorkspace();
  writeFileSync(join(workspace.root, 'groups.json'), JSON.stringify({ S0PEOPLE: ['U0ALICE01'] }));
  env = shellEnv({
    LLM_PROVIDER: 'local',
    COLLECTION_AUDIENCES: JSON.stringify({ people: ['S0PEOPLE'] }),
    CHANNEL_COLLECTIONS: JSON.stringify({ C0FINANCE1: ['finance'], '*': ['people', 'it', 'finance'] }),
    LOCAL_SLACK_USERGROUPS: 'groups.json',
  });
  const synced = await runScript('ingest.ts', ['docs'], { cwd: workspace.root, env });
  expect(synced.code).toBe(0);
}, 180_000);

afterAll(async () => {
  await workspace?.remove();
});

/** The sources `npm run ask -- --json` printed for `args`. */
async function sourcesOf(args: string[]): Promise<string[]> {
  const asked = await runScript('ask.ts', ['--json', ...args, QUESTION], { cwd: workspace.root, env });
  expect(asked.code).toBe(0);
  const printed = JSON.parse(asked.stdout) as { sources: { source: string }[] };
  return printed.sources.map((s) => s.source);
}

describe('npm run ask as someone', () => {
  it('answers a member of the audience from the collection, and someone outside it without it', async () => {
    // Act
    const member = await sourcesOf(['--user', 'U0ALICE01']);
    const outsider = await sourcesOf(['--user', 'U0BOB0001']);

    // Assert
    expect(member).toContain('docs/onboarding.md');
    expect(outsider.length).toBeGreaterThan(0);
    expect(outsider).not.toContain('docs/onboarding.md');
    expect(outsider).not.toContain('docs/leave-policy-ja.md');
  }, 120_000);

  it('answers in a channel only from what the channel may read, whoever asks', async () => {
    const inFinance = await sourcesOf(['--user', 'U0ALICE01', '--channel', 'C0FINANCE1']);

    expect(inFinance).not.toContain('docs/onboarding.md');
    expect(inFinance.every((source) => source === 'docs/expense-policy.md')).toBe(true);
  }, 120_000);

  it('refuses a user groups file that does not exist, before starting anything', async () => {
    const asked = await runScript('ask.ts', ['--user', 'U0ALICE01', QUESTION], {
      cwd: workspace.root,
      env: { ...env, LOCAL_SLACK_USERGROUPS: 'missing.json' },
    });

    expect(asked.code).toBe(1);
    expect(asked.stderr).toMatch(/LOCAL_SLACK_USERGROUPS names .*missing\.json, which does not exist/);
  });
});
