import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCommand, EXIT, runCommand } from './local/cli';
import { withoutMetricLines } from './local/cli-env';

/**
 * `npm run demo`: the whole product offline, with no configuration. A fresh local stack in a temporary
 * directory indexes the bundled sample documents, then a person mentions the bot and asks a follow-up in the
 * same thread; each reply is printed as Slack shows it, with its sources and each state's duration.
 */

const QUESTIONS = ['How do I rotate my VPN key?', 'How often do I have to do that?'];

const DEMO = defineCommand({
  name: 'demo',
  synopsis: '',
  summary:
    'The whole product offline, with no configuration: indexes samples/docs into a temporary directory, mentions the\n' +
    'bot with a question and a follow-up in the same thread, and prints each reply as Slack shows it, with its\n' +
    'sources and each state’s duration. Always on the offline `local` provider; leaves nothing behind.',
  options: {},
  examples: ['npm run demo'],
  exitCodes: {
    0: 'both questions answered',
    1: 'something failed (the message says what)',
    2: 'usage error',
  },
});

async function main(): Promise<number> {
  withoutMetricLines();
  // Loaded here, not above: `--help` and a usage error answer at once.
  const { askThroughSlack } = await import('./local/ask-client');
  const { startLocalIngest } = await import('./local/ingest-local');
  const { renderMessage, renderTrace } = await import('./local/render');
  const { REPO_ROOT, startLocalStack } = await import('./local/stack');
  const dir = await mkdtemp(join(tmpdir(), 'slack-rag-demo-'));
  const lancedbUri = join(dir, 'lancedb');
  // The demo always runs on the offline `local` provider, whatever the shell has set.
  const env = { LLM_PROVIDER: 'local' };
  try {
    const ingest = await startLocalIngest({ lancedbUri, env, store: 'memory', baseDir: REPO_ROOT });
    const synced = await ingest
      .sync({ origins: ['samples/docs'], prune: false })
      .finally(() => ingest.close());
    if (synced.status !== 'committed') throw new Error(`indexing the samples failed: ${synced.error}`);
    console.log(
      `Indexed ${synced.report?.added ?? 0} sample documents (${synced.report?.chunks ?? 0} chunks) from ` +
        `samples/docs into ${lancedbUri}, through statemachine/ingest.asl.json:`,
    );
    // The Map's iterations ([0], [1]…) run inside "Embed changed documents", which already counts them.
    const states = synced.execution.trace.filter((t) => !/ \[\d+\]$/.test(t.state));
    console.log(`${renderTrace(states, '    ')}\n`);

    const stack = await startLocalStack({ lancedbUri, env });
    console.log(
      'Local stack: fake Slack, dynalite, Step Functions running statemachine/conversation.asl.json, LanceDB',
    );
    console.log(`Slack Request URL: ${stack.eventsUrl}\n`);
    try {
      let threadTs: string | undefined;
      let failed = false;
      for (const question of QUESTIONS) {
        const result = await askThroughSlack(stack, question, { threadTs });
        threadTs = result.sent.threadTs;
        console.log(
          `${threadTs === result.sent.ts ? '#general' : '  ↳ in thread'}  @alice: @bot ${question}`,
        );
        if (result.standalone?.condensed) console.log(`  (condensed to: "${result.standalone.question}")`);
        for (const reply of result.replies) console.log(`\n  bot:\n${renderMessage(reply, '    ')}`);
        console.log(`\n  execution ${result.execution?.name} ${result.execution?.status}`);
        console.log(renderTrace(result.execution?.trace ?? [], '    '));
        console.log('');
        failed ||= result.execution?.status !== 'SUCCEEDED';
      }
      return failed ? EXIT.failed : EXIT.ok;
    } finally {
      await stack.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runCommand(DEMO, main);
