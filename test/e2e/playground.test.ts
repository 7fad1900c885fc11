import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { PLACEHOLDER_TEXT } from '../../functions/core/ack/ack-app';
import { NO_DOCUMENTS_TEXT } from '../../functions/core/conversation/generate-answer';
import { startLocalIngest } from '../../scripts/local/ingest-local';
import { type Playground, startPlayground } from '../../scripts/local/playground/playground-server';
import { DEFAULT_CHANNEL, type LocalStack, REPO_ROOT, startLocalStack } from '../../scripts/local/stack';
import { type FakeOpenAI, startFakeOpenAI } from '../../stand-ins/openai/fake-openai';
import { describeWithChromium } from '../support/chromium';
import { openAIEnv, temporaryDirectory } from '../support/local-stack';

/**
 * The local playground in a real headless Chromium: a person types in the Slack-like page, the playground delivers
 * the signed request Slack would send to the local stack's Request URL, and the page shows what the fake Slack
 * holds. Every assertion is about what the page shows. The browser is Debian's `chromium`, driven by playwright-core,
 * which downloads none.
 */

const SCREENSHOT = resolve(REPO_ROOT, 'test-artifacts/playground.png');
/** The placeholder's words, as the page shows them (its :emoji: codes drawn as emoji). */
const PLACEHOLDER_WORDS = PLACEHOLDER_TEXT.replace(/:[a-z0-9_+-]+:/g, '').trim();
/** How long the fake model waits before answering: long enough for a person (and the test) to see the placeholder. */
const MODEL_DELAY_MS = 2500;

// The first question of a run opens the store and warms the models up; CI runs other suites beside this one.
jest.setTimeout(120_000);

// Without a Chromium: skipped with its reason (test/support/chromium.ts), or failed with CI=true.
describeWithChromium('the local playground in a browser', describePlayground);

/** Polls a check until it passes; throws its last failure after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}

async function shown(locator: Locator): Promise<string> {
  return (await locator.innerText()).replace(/\u00a0/g, ' ');
}

function describePlayground(chromiumPath: string): void {
  let openai: FakeOpenAI;
  let stack: LocalStack;
  let playground: Playground;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    const dir = await temporaryDirectory('playground-e2e-');
    removeDir = dir.remove;
    // The sample documents, and one whose title is hostile HTML (the page must show it as text).
    const hostileDocs = join(dir.path, 'docs');
    await mkdir(hostileDocs);
    await writeFile(
      join(hostileDocs, 'parking.md'),
      [
        '---',
        'title: <img src=x onerror="window.__pwned=1"> Parking & <script>window.__pwned=2</script>',
        '---',
        '',
        '# Parking',
        '',
        'Parking permits for the office garage are issued by the front desk on the ground floor.',
        'Bring your badge; a permit is valid for one calendar year.',
        '',
      ].join('\n'),
    );
    openai = await startFakeOpenAI({ apiKey: 'sk-playground' });
    const env = {
      ...openAIEnv(openai, 'sk-playground'),
      OPENAI_MODEL: 'gpt-4.1-mini',
    };
    const lancedbUri = join(dir.path, 'lancedb');
    const ingest = await startLocalIngest({ lancedbUri, env, store: 'memory', baseDir: REPO_ROOT });
    try {
      const result = await ingest.sync({ origins: ['samples/docs', hostileDocs], prune: false });
      if (result.status !== 'committed') throw new Error(`indexing failed: ${result.error}`);
    } finally {
      await ingest.close();
    }
    stack = await startLocalStack({ lancedbUri, env, retryIntervalMs: 20 });
    playground = await startPlayground(stack);
    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await playground?.close();
    await stack?.close();
    await openai?.close();
    await removeDir?.();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(playground.url);
    // The first state has arrived and been drawn.
    await page.getByRole('navigation').getByRole('button', { name: '# general' }).waitFor();
  });

  afterEach(async () => {
    await page.close();
    // A script error or a blocked load is something a person would notice: a page that stops updating.
    expect(pageErrors).toEqual([]);
  });

  const channel = () => page.getByRole('main');
  const thread = () => page.getByRole('complementary', { name: 'Thread' });

  /** Types in the open conversation's composer and sends with Enter, as a person would. */
  async function say(text: string, where: 'channel' | 'thread' = 'channel'): Promise<void> {
    const box =
      where === 'channel'
        ? channel().getByRole('textbox')
        : thread().getByRole('textbox', { name: 'Reply in thread' });
    await box.fill(text);
    await box.press('Enter');
  }

  /** Asks in #general, opens the thread of the question, waits for the answer to end with its sources. */
  async function askInChannel(question: string): Promise<Locator> {
    openai.delayNext({ ms: MODEL_DELAY_MS, path: '/v1/chat/completions' });
    await say(`@docs-assistant ${question}`);
    const asked = channel().locator('article', { hasText: question }).last();
    await asked.getByRole('button', { name: '1 reply' }).click();
    return asked;
  }

  it('shows a question in #general, the placeholder in its thread, then the answer with its sources', async () => {
    const question = 'How do I rotate my VPN key?';
    openai.delayNext({ ms: MODEL_DELAY_MS, path: '/v1/chat/completions' });

    await say(`@docs-assistant ${question}`);

    const asked = channel().locator('article', { hasText: question }).last();
    expect(await shown(asked)).toContain(`@docs-assistant ${question}`);
    await asked.getByRole('button', { name: '1 reply' }).click();
    // Drawn as Slack draws it: its :mag: as the emoji.
    await eventually(async () => expect(await shown(thread())).toContain(`🔍 ${PLACEHOLDER_WORDS}`));
    await eventually(async () => {
      const text = await shown(thread());
      expect(text).toContain('corpvpn rotate-key');
      expect(text).toContain('Sources');
      expect(text).toContain('VPN guide › Rotating your VPN key');
      expect(text).toContain('Generated by gpt-4.1-mini');
      expect(text).not.toContain(PLACEHOLDER_WORDS);
    });
    const answer = thread().locator('article.from-bot');
    expect(await shown(answer.locator('.author'))).toBe('docs-assistant');
    // Slack delivered the mention twice, as app_mention and as a message event: one answer all the same.
    await page.getByText('Requests sent to the bot').click();
    const log = await shown(page.getByRole('navigation'));
    expect(log).toContain('app_mention → HTTP 200');
    expect(log).toContain('message (channel) → HTTP 200');
    await new Promise((done) => setTimeout(done, 1500));
    expect(await answer.count()).toBe(1);
    await page.screenshot({ path: SCREENSHOT });
  });

  it('leaves a channel message that does not mention the bot unanswered', async () => {
    await say('Lunch at noon, anyone?');

    const said = channel().locator('article', { hasText: 'Lunch at noon, anyone?' });
    await said.waitFor();
    await page.getByText('Requests sent to the bot').click();
    await eventually(async () =>
      expect(await shown(page.getByRole('navigation'))).toContain('message (channel) → HTTP 200'),
    );
    await new Promise((done) => setTimeout(done, 2000));
    expect(await shown(said)).not.toMatch(/\d+ repl(y|ies)/);
  });

  it('shows the thread status the bot sets while it works (assistant.threads.setStatus)', async () => {
    await askInChannel('When must expenses be submitted?');

    const status = thread().getByRole('status');
    await eventually(async () => expect(await shown(status)).toMatch(/^docs-assistant \S/), MODEL_DELAY_MS);
    await eventually(async () => expect(await shown(thread())).toContain('Expense policy › How to claim'));
    // The status is cleared right after the final edit, in a call of its own.
    await eventually(async () => expect(await status.isHidden()).toBe(true));
  });

  it('answers a follow-up that mentions the bot in the thread, in the context of the thread', async () => {
    await askInChannel('How do I rotate my VPN key?');
    await eventually(async () => expect(await shown(thread())).toContain('corpvpn rotate-key'));

    await say('@docs-assistant How often do I have to do that?', 'thread');

    await eventually(async () => {
      expect(await thread().locator('article.from-bot').count()).toBe(2);
      expect(await shown(thread().locator('article.from-bot').nth(1))).toContain('every 90 days');
    });
  });

  it('answers a follow-up in the thread without a mention', async () => {
    await askInChannel('How do I rotate my VPN key?');
    await eventually(async () => expect(await shown(thread())).toContain('corpvpn rotate-key'));

    await say('How often do I have to do that?', 'thread');

    await eventually(async () => {
      expect(await thread().locator('article.from-bot').count()).toBe(2);
      expect(await shown(thread().locator('article.from-bot').nth(1))).toContain('every 90 days');
    });
  });

  it('answers a direct message without a mention', async () => {
    await page.getByRole('navigation').getByRole('button', { name: 'docs-assistant' }).click();
    await page.getByRole('heading', { name: 'docs-assistant' }).waitFor();
    openai.delayNext({ ms: MODEL_DELAY_MS, path: '/v1/chat/completions' });

    await say('When must expenses be submitted?');

    // The bot answers in the DM itself or in a thread under the question: either is what a person reads.
    await eventually(async () => {
      const replies = channel().getByRole('button', { name: '1 reply' });
      if ((await replies.count()) > 0 && (await thread().isHidden())) await replies.first().click();
      const text = `${await shown(channel())}\n${(await thread().isVisible()) ? await shown(thread()) : ''}`;
      expect(text).toContain('Expense policy › How to claim');
      expect(text).toContain('Generated by gpt-4.1-mini');
    }, 30_000);
  });

  it('offers the agent pane: suggested prompts in the DM, a new chat with its own prompts and title', async () => {
    await page.getByRole('navigation').getByRole('button', { name: 'docs-assistant' }).click();
    // Opening the DM is opening the app's Messages tab: the bot answers with its suggested prompts.
    const dmPrompts = channel().getByRole('group', { name: 'Suggested prompts' });
    await eventually(
      async () => expect(await dmPrompts.getByRole('button').count()).toBeGreaterThan(0),
      10_000,
    );

    await channel().getByRole('button', { name: 'New chat' }).click();

    const threadPrompts = thread().getByRole('group', { name: 'Suggested prompts in this thread' });
    await eventually(
      async () => expect(await threadPrompts.getByRole('button').count()).toBeGreaterThan(0),
      10_000,
    );
    openai.delayNext({ ms: MODEL_DELAY_MS, path: '/v1/chat/completions' });
    const chosen = threadPrompts.getByRole('button', { name: 'Expenses' });
    await chosen.click();
    await eventually(async () => {
      const text = await shown(thread());
      expect(text).toContain('How do I submit an expense claim?');
      expect(text).toContain('Expense policy › How to claim');
      expect(text).toContain('Generated by gpt-4.1-mini');
    });
    // The chat is titled from its first question (assistant.threads.setTitle).
    await eventually(async () =>
      expect(await shown(thread().locator('.thread-where'))).toMatch(/^docs-assistant · \S/),
    );
    await page.screenshot({ path: resolve(SCREENSHOT, '../playground-dm.png') });
  });

  it('sends a 👍 to the bot, which thanks the person only', async () => {
    await askInChannel('How do I rotate my VPN key?');
    await eventually(async () => expect(await shown(thread())).toContain('Generated by gpt-4.1-mini'));
    const good = thread()
      .getByRole('group', { name: 'Feedback' })
      .getByRole('button', { name: 'Good answer' });
    await good.waitFor();

    await good.click();

    await eventually(async () => {
      expect(await good.getAttribute('aria-pressed')).toBe('true');
      await page.getByText('Requests sent to the bot').click();
      expect(await shown(page.getByRole('navigation'))).toMatch(/block_actions → HTTP 200/);
      // The bot's thanks, an ephemeral message in the thread.
      expect(await shown(thread().locator('article.ephemeral'))).toContain('Only visible to you');
    }, 10_000);
    expect(await good.getAttribute('aria-pressed')).toBe('true');
  });

  it('sends a 👎 to the bot, which asks what was wrong in a modal, and takes the comment', async () => {
    await askInChannel('How do I rotate my VPN key?');
    await eventually(async () => expect(await shown(thread())).toContain('Generated by gpt-4.1-mini'));
    const bad = thread().getByRole('group', { name: 'Feedback' }).getByRole('button', { name: 'Bad answer' });
    await bad.waitFor();

    await bad.click();

    const modal = page.getByRole('dialog');
    await modal.waitFor({ timeout: 10_000 });
    await modal.getByRole('textbox').fill('It should say where the VPN client is downloaded.');
    await modal.getByRole('button').last().click();
    await modal.waitFor({ state: 'detached', timeout: 10_000 });
    await page.getByText('Requests sent to the bot').click();
    await eventually(async () => {
      expect(await shown(page.getByRole('navigation'))).toMatch(/view_submission → HTTP 200/);
      // Two ephemeral replies: one for the vote, one for the comment.
      expect(await thread().locator('article.ephemeral').count()).toBe(2);
    }, 10_000);
    expect(await bad.getAttribute('aria-pressed')).toBe('true');
  });

  it('shows hostile text from documents and messages as text, never as HTML', async () => {
    await askInChannel('How do I get a parking permit for the garage?');
    await eventually(async () => {
      const text = await shown(thread());
      expect(text).toContain('front desk');
      expect(text).toContain(
        '<img src=x onerror="window.__pwned=1"> Parking & <script>window.__pwned=2</script>',
      );
    });
    // A bot message with links Slack would and would not open.
    await fetch(`${stack.slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.slack.token}` },
      body: JSON.stringify({
        channel: DEFAULT_CHANNEL,
        text: 'links',
        blocks: [
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: '*Read* <https://intranet.example.com/vpn|the VPN page> or <javascript:window.__pwned=3|this> &lt;b&gt;x&lt;/b&gt;',
            },
          },
        ],
      }),
    });

    await eventually(async () =>
      expect(await shown(channel())).toContain('the VPN page (intranet.example.com)'),
    );
    expect(await channel().locator('strong', { hasText: 'Read' }).count()).toBe(1);
    const links = channel().getByRole('link');
    expect(await links.count()).toBe(1);
    expect(await links.first().getAttribute('href')).toBe('https://intranet.example.com/vpn');
    expect(await shown(channel())).toContain('<javascript:window.__pwned=3|this> <b>x</b>');
    expect(await page.locator('.message-body img, .message-body script, .message-body b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
  });

  it('draws the emoji codes the bot writes as emoji, as Slack does, and leaves unknown codes as typed', async () => {
    // The bot's reply when nothing is indexed (generate-answer.ts), and its apology's mark.
    await fetch(`${stack.slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.slack.token}` },
      body: JSON.stringify({
        channel: DEFAULT_CHANNEL,
        text: NO_DOCUMENTS_TEXT,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: `:open_file_folder: ${NO_DOCUMENTS_TEXT}` } },
          {
            type: 'section',
            text: { type: 'mrkdwn', text: ':warning: Sorry, and :not_an_emoji_code: stays' },
          },
        ],
      }),
    });

    await eventually(async () => expect(await shown(channel())).toContain(`📂 ${NO_DOCUMENTS_TEXT}`));
    const text = await shown(channel());
    expect(text).toContain('⚠️ Sorry, and :not_an_emoji_code: stays');
    expect(text).not.toContain(':open_file_folder:');
    expect(text).not.toContain(':warning:');
  });

  it('lets the person typing choose who they are once user groups are configured: the bot hears from that person', async () => {
    // Without user groups there is no one else to be: the page has no chooser.
    const who = page.getByRole('combobox', { name: 'You are' });
    expect(await who.isHidden()).toBe(true);
    stack.slack.setUserGroups({ S0HRTEAM: ['U0ALICE'], S0ENG: ['U0BOB', 'U0ALICE'] });
    try {
      await eventually(async () => expect(await who.isVisible()).toBe(true));
      expect(await who.locator('option').allInnerTexts()).toEqual([
        'U0HUMAN001 (no user group)',
        'U0ALICE (S0HRTEAM, S0ENG)',
        'U0BOB (S0ENG)',
      ]);

      await who.selectOption('U0ALICE');
      // A question of her own (the same words as another test's would find that test's message first).
      const question = 'Alice here: how do I rotate my VPN key?';
      const asked = await askInChannel(question);
      expect(await shown(asked.locator('.author'))).toBe('you');
      await eventually(async () => expect(await shown(thread())).toContain('VPN guide'));
      await say('How often do I have to do that?', 'thread');
      await eventually(async () => expect(await thread().locator('article.from-bot').count()).toBe(2));

      // The bot was asked by Alice, the question and its follow-up alike.
      const alicesQuestions = stack.stepFunctions.executions
        .map((e) => (e.input as { turn?: { user?: string; question?: string } }).turn)
        .filter((turn) => turn?.user === 'U0ALICE')
        .map((turn) => turn?.question);
      expect(alicesQuestions).toEqual([question, 'How often do I have to do that?']);
      // Her DM with the bot is her own, as in Slack.
      await page.getByRole('navigation').getByRole('button', { name: 'docs-assistant' }).click();
      await page.getByRole('heading', { name: 'docs-assistant' }).waitFor();
      const dmQuestion = 'Alice, privately: when must expenses be submitted?';
      await say(dmQuestion);
      await channel().locator('article', { hasText: dmQuestion }).waitFor();
      const inHerDm = await eventually(async () => {
        const execution = stack.stepFunctions.executions.find(
          (e) => (e.input as { turn?: { question?: string } }).turn?.question === dmQuestion,
        );
        expect(execution?.status).toBe('SUCCEEDED');
        return (execution?.input as { turn?: { user: string; channel: string } } | undefined)?.turn;
      });
      expect(inHerDm).toEqual(expect.objectContaining({ user: 'U0ALICE', channel: 'DU0ALICE' }));

      // As the local person again: Alice's question in #general is hers, not yours; her DM is not shown.
      await who.selectOption('U0HUMAN001');
      await eventually(async () => expect(await shown(channel())).not.toContain(dmQuestion));
      expect(await page.getByRole('heading', { name: 'docs-assistant' }).isVisible()).toBe(true);
      await page.getByRole('navigation').getByRole('button', { name: '# general' }).click();
      await eventually(async () =>
        expect(
          await shown(channel().locator('article', { hasText: question }).last().locator('.author')),
        ).toBe('U0ALICE'),
      );
      // Someone no user group names cannot be chosen.
      const response = await fetch(new URL('/api/messages', playground.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: new URL(playground.url).origin },
        body: JSON.stringify({ channel: DEFAULT_CHANNEL, text: 'hello', user: 'U0MALLORY' }),
      });
      const refused = { status: response.status, body: await response.json() };
      expect(refused).toEqual({ status: 400, body: { error: 'unknown_user' } });
    } finally {
      stack.slack.setUserGroups({});
    }
  });

  it('shows a natively streamed answer live: the text as it grows, the streaming flag, the plan', async () => {
    const person = stack.slack.addMessage({
      channel: DEFAULT_CHANNEL,
      text: 'a streamed one',
      user: 'U0HUMAN001',
    });
    const api = async (method: string, args: Record<string, unknown>) => {
      const response = await fetch(`${stack.slack.apiUrl}${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.slack.token}` },
        body: JSON.stringify(args),
      });
      return (await response.json()) as { ok: boolean; ts: string };
    };
    const started = await api('chat.startStream', {
      channel: DEFAULT_CHANNEL,
      thread_ts: person.ts,
      recipient_user_id: 'U0HUMAN001',
      recipient_team_id: stack.slack.teamId,
      chunks: [
        { type: 'task_update', id: 'search', title: 'Searching the documents', status: 'in_progress' },
      ],
    });
    expect(started).toMatchObject({ ok: true });
    await channel()
      .locator('article', { hasText: 'a streamed one' })
      .getByRole('button', { name: '1 reply' })
      .click();
    const answer = thread().locator('article.from-bot');
    await eventually(async () => {
      expect(await shown(answer)).toContain('streaming…');
      expect(await answer.getByRole('list', { name: 'Plan' }).innerText()).toContain(
        'Searching the documents',
      );
    });

    await api('chat.appendStream', {
      channel: DEFAULT_CHANNEL,
      ts: started.ts,
      chunks: [
        { type: 'task_update', id: 'search', title: 'Searching the documents', status: 'complete' },
        { type: 'markdown_text', text: 'First part, ' },
      ],
    });
    await eventually(async () => {
      expect(await shown(answer)).toContain('First part,');
      expect(await answer.locator('[data-status="complete"]').count()).toBe(1);
    });
    await api('chat.appendStream', {
      channel: DEFAULT_CHANNEL,
      ts: started.ts,
      markdown_text: 'second part.',
    });
    await api('chat.stopStream', { channel: DEFAULT_CHANNEL, ts: started.ts });

    await eventually(async () => {
      const text = await shown(answer);
      expect(text).toContain('First part, second part.');
      expect(text).not.toContain('streaming…');
    });
  });
}
