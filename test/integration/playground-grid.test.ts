import { type Playground, startPlayground } from '../../scripts/local/playground/playground-server';
import {
  DEFAULT_CHANNEL,
  DEFAULT_USER,
  LOCAL_SHARED_CHANNEL,
  LOCAL_SISTER_TEAM_ID,
  LOCAL_SISTER_USER,
  LOCAL_TEAM_ID,
  type LocalStack,
} from '../../scripts/local/stack';
import { startTestStack } from '../support/local-stack';

/**
 * The playground on a stack that plays an Enterprise Grid organisation (LOCAL_SLACK_ENTERPRISE, issue 22 point 1):
 * the person typing may be a member of the sister workspace, who sees the channel the two workspaces share (not the
 * first workspace's #general), and whose question there reaches the bot as theirs, from their workspace, and is
 * answered. Through the playground's own HTTP API, as its page calls it.
 */

const ORG = 'E0LOCALORG1';

describe('the playground, playing an Enterprise Grid organisation of two workspaces', () => {
  let stack: LocalStack;
  let close: () => Promise<void>;
  let playground: Playground;

  beforeAll(async () => {
    ({ stack, close } = await startTestStack({ slackEnterpriseId: ORG }));
    playground = await startPlayground(stack);
  });
  afterAll(async () => {
    await playground.close();
    await close();
  });

  async function stateFor(user: string) {
    const response = await fetch(new URL(`/api/state?user=${user}`, playground.url));
    return (await response.json()) as {
      workspace: { teamId: string; people: Array<{ id: string; workspace?: string }> };
      conversations: Array<{ id: string; name: string }>;
    };
  }

  it('offers a member of each workspace to be, each seeing the channels of their workspace and the shared one', async () => {
    const local = await stateFor(DEFAULT_USER);
    const sister = await stateFor(LOCAL_SISTER_USER);

    expect(local.workspace.people).toEqual([
      expect.objectContaining({ id: DEFAULT_USER, workspace: LOCAL_TEAM_ID }),
      expect.objectContaining({ id: LOCAL_SISTER_USER, workspace: LOCAL_SISTER_TEAM_ID }),
    ]);
    expect(local.conversations.map((c) => c.id)).toEqual(
      expect.arrayContaining([DEFAULT_CHANNEL, LOCAL_SHARED_CHANNEL]),
    );
    expect(sister.workspace.teamId).toBe(LOCAL_SISTER_TEAM_ID);
    expect(sister.conversations.map((c) => c.id)).toContain(LOCAL_SHARED_CHANNEL);
    expect(sister.conversations.map((c) => c.id)).not.toContain(DEFAULT_CHANNEL);
  });

  it("a sister workspace member's question in the shared channel is answered, as theirs, from their workspace", async () => {
    const response = await fetch(new URL('/api/messages', playground.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(playground.url).origin },
      body: JSON.stringify({
        channel: LOCAL_SHARED_CHANNEL,
        text: '@docs-assistant how do I rotate my VPN key?',
        user: LOCAL_SISTER_USER,
      }),
    });
    const posted = (await response.json()) as { ts: string };
    await stack.stepFunctions.waitForIdle();

    expect(response.status).toBe(200);
    const turns = stack.stepFunctions.executions.map(
      (e) =>
        (e.input as { turn: { user: string; teamId: string; enterpriseId?: string; channel: string } }).turn,
    );
    expect(turns).toEqual([
      expect.objectContaining({
        user: LOCAL_SISTER_USER,
        teamId: LOCAL_SISTER_TEAM_ID,
        enterpriseId: ORG,
        channel: LOCAL_SHARED_CHANNEL,
      }),
    ]);
    const answer = stack.slack
      .threadReplies(LOCAL_SHARED_CHANNEL, posted.ts)
      .filter((m) => m.bot_id !== undefined)
      .at(-1);
    expect(answer?.text).toMatch(/VPN/);
  });
});
