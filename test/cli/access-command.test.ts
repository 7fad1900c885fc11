import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexSampleDocuments } from '../support/local-stack';
import { runScript, shellEnv } from '../support/run-command';

/**
 * `npm run access`: explain a person's reach (which collections, why, how many documents) and check the settings, as
 * an admin runs them, against the samples indexed into a store of the test's own and a user-groups file.
 */

const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
const dir = mkdtempSync(join(tmpdir(), 'access-command-'));
const lancedbUri = join(dir, 'lancedb');
const groupsFile = join(dir, 'usergroups.json');

function env(settings: Record<string, unknown>) {
  return shellEnv({
    LANCEDB_URI: lancedbUri,
    LOCAL_SLACK_USERGROUPS: groupsFile,
    ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, JSON.stringify(v)])),
  });
}

beforeAll(async () => {
  writeFileSync(groupsFile, JSON.stringify({ S0HRTEAM01: [ALICE], S0EMPTY001: [] }));
  await indexSampleDocuments(lancedbUri, { LLM_PROVIDER: 'local' });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const audiences = { people: ['S0HRTEAM01'], finance: ['U0CFO00001'] };
const places = { C0PEOPLE01: ['people', 'it'], '*': ['people', 'it', 'finance'] };

describe('npm run access -- explain', () => {
  it('says what a person may read in a channel, why, and how many documents each collection holds', async () => {
    // The working directory is the test's own: no running npm run dev's state is read.
    const run = await runScript(
      'access.ts',
      ['explain', '--user', ALICE, '--channel', 'C0PEOPLE01', '--json'],
      { cwd: dir, env: env({ COLLECTION_AUDIENCES: audiences, CHANNEL_COLLECTIONS: places }) },
    );

    expect(run.code).toBe(0);
    const explained = JSON.parse(run.stdout) as {
      groups: string[];
      collections: { collection: string | null; open: boolean; documents: number; why: string }[];
    };
    expect(explained.groups).toEqual(['S0HRTEAM01']);
    const byName = Object.fromEntries(explained.collections.map((c) => [String(c.collection), c]));
    expect(byName.people).toEqual({
      collection: 'people',
      documents: 2,
      open: true,
      why: 'user group S0HRTEAM01',
    });
    expect(byName.it).toMatchObject({
      open: true,
      documents: 1,
      why: 'not named in COLLECTION_AUDIENCES: open to everyone',
    });
    expect(byName.finance).toMatchObject({ open: false, documents: 1 });
    expect(byName.finance?.why).toContain('CHANNEL_COLLECTIONS');
  });

  it('in a DM, someone outside the group may read neither people nor finance, and is told which audience missed', async () => {
    const run = await runScript('access.ts', ['explain', '--user', BOB], {
      cwd: dir,
      env: env({ COLLECTION_AUDIENCES: audiences, CHANNEL_COLLECTIONS: places }),
    });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${BOB} in a DM or the agent pane`);
    expect(run.stdout).toMatch(/may read:\n {2}it +1 document +not named in COLLECTION_AUDIENCES/);
    expect(run.stdout).toMatch(/people +2 documents +no audience matched \(audience: S0HRTEAM01\)/);
    expect(run.stdout).toMatch(/finance +1 document +no audience matched \(audience: U0CFO00001\)/);
  });

  it('needs --user', async () => {
    const run = await runScript('access.ts', ['explain'], { cwd: dir, env: env({}) });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('explain needs --user');
  });
});

describe('npm run access -- check', () => {
  it('finds a group that does not exist, a collection open to no one, one holding no document: exit 1', async () => {
    const run = await runScript('access.ts', ['check'], {
      cwd: dir,
      env: env({
        COLLECTION_AUDIENCES: { ...audiences, board: ['S0NOTHERE1'], legal: [], payroll: ['S0EMPTY001'] },
      }),
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `error: user group S0NOTHERE1 (in "board"'s audience) does not exist in ${groupsFile}`,
    );
    expect(run.stdout).toContain('error: collection "legal" is open to no one (an empty audience)');
    expect(run.stdout).toContain(`warning: user group S0EMPTY001 (in "payroll"'s audience) has no members`);
    expect(run.stdout).toContain(
      'warning: collection "board" is named in the settings but holds no document',
    );
  });

  it('settings that hold: exit 0, no problem found', async () => {
    const run = await runScript('access.ts', ['check'], {
      cwd: dir,
      env: env({ COLLECTION_AUDIENCES: audiences, CHANNEL_COLLECTIONS: places }),
    });
    expect(run.stdout).toContain('no problem found');
    expect(run.code).toBe(0);
  });

  it('user groups named but nowhere to list them: checked in part, exit 3', async () => {
    const run = await runScript('access.ts', ['check'], {
      cwd: dir,
      env: shellEnv({ LANCEDB_URI: lancedbUri, COLLECTION_AUDIENCES: JSON.stringify(audiences) }),
    });
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('not checked: the user groups named');
  });

  it('invalid settings: exit 1 naming the variable', async () => {
    const run = await runScript('access.ts', ['check'], {
      cwd: dir,
      env: env({ COLLECTION_AUDIENCES: { hr: ['the hr team'] } }),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('COLLECTION_AUDIENCES must be JSON such as');
    expect(run.stderr).toContain('"the hr team" (in "hr") is not "*", a user group (S…)');
  });
});
