import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { threadKey, turnSortKey } from '../functions/core/stores/keys';
import { defineCommand, EXIT, runCommand } from './local/cli';
import { withoutMetricLines } from './local/cli-env';
import type { LocalStack, SentMention } from './local/stack';

/**
 * `npm run demo`: the whole product offline, with no configuration. A fresh local stack in a temporary
 * directory indexes the bundled sample documents, then a person mentions the bot, asks a follow-up in the same
 * thread without mentioning it, asks another question in a direct message, and votes on the first answer (👍,
 * then 👎 with a comment); each reply is printed as Slack shows it, with its sources and each state's duration.
 */

const FIRST = 'How do I rotate my VPN key?';
const FOLLOW_UP = 'How often do I have to do that?';
const IN_DM = 'What is the meal limit when travelling?';

const DEMO = defineCommand({
  name: 'demo',
  synopsis: '',
  summary:
    'The whole product offline, with no configuration: indexes samples/docs into a temporary directory, mentions the\n' +
    'bot with a question, follows up in the thread without a mention, asks in a direct message, and votes on the\n' +
    'first answer; prints each reply as Slack shows it, with its sources and each state’s duration. Always on the\n' +
    'offline `local` provider; leaves nothing behind.',
  options: {},
  examples: ['npm run demo'],
  exitCodes: {
    0: 'every question answered and the feedback stored',
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
  const { DEFAULT_USER, LOCAL_TEAM_ID, REPO_ROOT, startLocalStack } = await import('./local/stack');
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
    // The batches run in the Distributed Map's child executions, each with its own trace; "Embed changed
    // documents" counts them all.
    const states = synced.execution.trace.filter((t) => !/ \[\d+\]$/.test(t.state));
    console.log(`${renderTrace(states, '    ')}\n`);

    const stack = await startLocalStack({ lancedbUri, env });
    console.log(
      'Local stack: fake Slack, dynalite, Step Functions running statemachine/conversation.asl.json, LanceDB',
    );
    console.log(`Slack Request URL: ${stack.eventsUrl}\n`);
    try {
      let failed = false;
      const show = (
        heading: string,
        result: {
          replies: Parameters<typeof renderMessage>[0][];
          execution?: { name: string; status: string; trace: Parameters<typeof renderTrace>[0] };
          standalone?: { condensed: boolean; question: string };
        },
      ) => {
        console.log(heading);
        if (result.standalone?.condensed) console.log(`  (condensed to: "${result.standalone.question}")`);
        for (const reply of result.replies) console.log(`\n  bot:\n${renderMessage(reply, '    ')}`);
        console.log(`\n  execution ${result.execution?.name} ${result.execution?.status}`);
        console.log(renderTrace(result.execution?.trace ?? [], '    '));
        console.log('');
        failed ||= result.execution?.status !== 'SUCCEEDED';
      };

      // 1. A mention in a channel starts a thread.
      const first = await askThroughSlack(stack, FIRST);
      show(`#general  @alice: @bot ${FIRST}`, first);

      // 2. A reply in that thread, without a mention: the original asker's follow-up is answered.
      show(
        `  ↳ in thread  @alice: ${FOLLOW_UP}   (no mention: the bot answered this thread)`,
        await answerOf(
          stack,
          await stack.message({ channelType: 'channel', text: FOLLOW_UP, threadTs: first.sent.threadTs }),
        ),
      );

      // 3. A direct message: no mention needed, its own thread and history.
      show(
        `DM with @bot  @alice: ${IN_DM}`,
        await answerOf(stack, await stack.message({ channelType: 'im', text: IN_DM })),
      );

      // 4. Feedback on the first answer: 👍, then 👎 with a comment; each acknowledged to Alice alone.
      const answerTs = first.replies[0]?.ts ?? '';
      const channel = first.sent.channel;
      await stack.clickFeedback({ channel, answerTs, vote: 'positive' });
      console.log(
        `👍 on the first answer → (only Alice sees) ${stack.slack.ephemerals().at(-1)?.text ?? ''}`,
      );
      await stack.clickFeedback({ channel, answerTs, vote: 'negative' });
      console.log(
        `👎 on the first answer → (only Alice sees) ${stack.slack.ephemerals().at(-1)?.text ?? ''}`,
      );
      console.log(
        `   a form opens: "${String((stack.slack.views().at(-1)?.view.title as { text?: string })?.text)}"`,
      );
      await stack.submitComment({ comment: 'IT rotates the keys for us now.' });
      console.log(
        `   Alice sends "IT rotates the keys for us now." → ${stack.slack.ephemerals().at(-1)?.text ?? ''}`,
      );
      const item = await stack.runtime.documentClient().send(
        new GetCommand({
          TableName: stack.env.CONVERSATION_TABLE,
          Key: {
            pk: threadKey({ teamId: LOCAL_TEAM_ID, channel, threadTs: first.sent.threadTs }),
            sk: turnSortKey(first.sent.ts),
          },
        }),
      );
      const vote = (item.Item?.feedback as Record<string, { vote: string; comment?: string }> | undefined)?.[
        DEFAULT_USER
      ];
      const stored = vote?.vote === 'negative' && vote.comment !== undefined;
      console.log(`   stored with the turn in DynamoDB: ${JSON.stringify(vote ?? null)}\n`);
      return failed || !stored ? EXIT.failed : EXIT.ok;
    } finally {
      await stack.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Waits for the workflow a delivery started and reads the bot's replies to it. */
async function answerOf(stack: LocalStack, sent: SentMention) {
  const execution = stack.stepFunctions.executions.find(
    (e) => (e.input as { turn?: { eventId?: string } }).turn?.eventId === sent.eventId,
  );
  await execution?.done;
  const output = (execution?.output ?? {}) as { standalone?: { condensed: boolean; question: string } };
  const replies = stack.slack
    .threadReplies(sent.channel, sent.threadTs)
    .filter((m) => m.bot_id !== undefined && m.ts > sent.ts);
  return { replies, execution, standalone: output.standalone };
}

runCommand(DEMO, main);
