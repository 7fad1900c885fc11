import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type AskOutcome,
  askOutcome,
  askThroughRunningStack,
  askThroughSlack,
  describeFailure,
} from './local/ask-client';
import { defineCommand, EXIT, runCommand, UsageError } from './local/cli';
import { localLanceDbUri, shellSettings, withoutMetricLines } from './local/cli-env';
import { localStoreInUse, runningDev } from './local/local-store-lock';
import { renderMessage, renderTrace } from './local/render';
import { checkChannelOption, checkUserOption } from './local/slack-ids';
import { userGroupsFromEnv } from './local/usergroups-file';

/**
 * `npm run ask -- [--json] [--thread TS] [--user U…] [--channel C…] "question"`: one signed mention through the
 * local stack, answered from the documents in `.local/` (or LANCEDB_URI). Thread history is kept in
 * `.local/dynamodb`, so `--thread` with the threadTs of an earlier answer asks a follow-up. `--user` and `--channel`
 * ask as that person, there, so that COLLECTION_AUDIENCES and CHANNEL_COLLECTIONS answer them with their reach (the
 * user groups from LOCAL_SLACK_USERGROUPS, as `npm run dev` reads them). While `npm run dev` runs, the question goes
 * to it (it holds `.local/dynamodb`, and its settings and user groups apply), and its transcript shows the thread.
 */

const DYNAMO_PATH = '.local/dynamodb';
/** A Slack message ts: seconds, a dot, six digits. */
const SLACK_TS = /^\d{9,10}\.\d{6}$/;

const ASK = defineCommand({
  name: 'ask',
  synopsis: '[--json] [--thread TS] [--user U…] [--channel C…] "question"',
  summary:
    'Mentions the bot once through the local stack, as a person in Slack would, and prints the reply with its\n' +
    'sources and each state’s duration. Answers from .local/lancedb (or LANCEDB_URI); thread history is kept in\n' +
    '.local/dynamodb. While `npm run dev` runs, the question goes to it and shows in its transcript.',
  options: {
    thread: {
      type: 'string',
      valueName: 'TS',
      description: 'ask a follow-up in the thread of an earlier answer (the thread ts it printed)',
      validate: (value: string) =>
        SLACK_TS.test(value)
          ? undefined
          : `--thread takes the thread ts an earlier answer printed, such as 1712345678.123456, not ${JSON.stringify(value)}`,
    },
    user: {
      type: 'string',
      valueName: 'U…',
      description:
        'ask as this Slack user (default U0HUMAN001): COLLECTION_AUDIENCES answers them with their reach, their user\n' +
        'groups from LOCAL_SLACK_USERGROUPS (a JSON file such as {"S0HRTEAM":["U0ALICE01"]})',
      validate: checkUserOption,
    },
    channel: {
      type: 'string',
      valueName: 'C…',
      description: 'ask in this channel (default C0GENERAL01), whose CHANNEL_COLLECTIONS entry applies',
      validate: checkChannelOption,
    },
    json: {
      type: 'boolean',
      description:
        'print one JSON object: {"answer","sources":[{"source","heading","score"}],"model","threadTs",\n' +
        '"trace":[{"state","ms","attempts"}]}, with "error" and "execution" when the question failed',
    },
  },
  positionals: { name: 'a question, in quotes', min: 1 },
  examples: [
    'npm run ask -- "How do I rotate my VPN key?"',
    'npm run ask -- --thread 1712345678.123456 "How often do I have to do that?"',
    'LOCAL_SLACK_USERGROUPS=groups.json npm run ask -- --user U0ALICE01 "How many leave days do I get?"',
  ],
  exitCodes: {
    0: 'answered (or the bot replied by itself, to an empty mention say)',
    1: 'no answer: the execution failed (its cause is printed), or the local stack could not start',
    2: 'usage error',
  },
});

runCommand(ASK, async ({ values, positionals }) => {
  withoutMetricLines();
  const question = positionals.join(' ').trim();
  if (question === '') throw new UsageError('needs a question that is not empty');
  const asker: Asker = {
    ...(values.thread === undefined ? {} : { threadTs: values.thread }),
    ...(values.user === undefined ? {} : { user: values.user }),
    ...(values.channel === undefined ? {} : { channel: values.channel }),
  };

  const outcome = await ask(question, asker, values.json === true);
  print(outcome, values.json === true);
  return outcome.failure !== undefined ? EXIT.failed : EXIT.ok;
});

/** Where and as whom the question is asked; each unset is the local stack's default. */
interface Asker {
  threadTs?: string;
  user?: string;
  channel?: string;
}

async function ask(question: string, asker: Asker, json: boolean): Promise<AskOutcome> {
  const dev = await runningDev();
  if (dev !== undefined) {
    if (!json) {
      console.error(`(asking the running npm run dev, pid ${dev.pid}, ${dev.eventsUrl}: its settings apply)`);
      if (resolve(dev.lancedbUri) !== resolve(localLanceDbUri())) {
        console.error(`note: npm run dev answers from ${dev.lancedbUri}, not ${localLanceDbUri()}`);
      }
      console.error('');
    }
    return askThroughRunningStack(dev, question, asker);
  }
  // Read before anything starts, so that a missing or malformed file is refused at once.
  const userGroups = userGroupsFromEnv();
  mkdirSync(DYNAMO_PATH, { recursive: true });
  const busy = await localStoreInUse(DYNAMO_PATH);
  if (busy !== undefined) throw new Error(busy);
  // Loaded only when this process runs the stack itself: --help and usage errors answer at once.
  const { startLocalStack } = await import('./local/stack');
  const stack = await startLocalStack({
    lancedbUri: localLanceDbUri(),
    dynamoPath: DYNAMO_PATH,
    env: shellSettings(),
    ...(userGroups === undefined ? {} : { slackUserGroups: userGroups }),
  });
  try {
    return askOutcome(await askThroughSlack(stack, question, asker));
  } finally {
    await stack.close();
  }
}

function print(result: AskOutcome, json: boolean): void {
  if (json) {
    const text = result.answer?.text ?? result.replies.map((r) => r.text).join('\n');
    console.log(
      JSON.stringify({
        answer: text,
        sources: (result.retrieval?.passages ?? []).map((p) => ({
          source: p.source,
          heading: p.heading,
          score: p.score,
        })),
        model: result.answer?.model ?? null,
        threadTs: result.sent.threadTs,
        trace: (result.execution?.trace ?? []).map((t) => ({
          state: t.state,
          ms: t.ms,
          attempts: t.attempts,
        })),
        ...(result.failure !== undefined
          ? { error: describeFailure(result.failure), execution: result.execution?.name }
          : {}),
      }),
    );
    return;
  }
  for (const reply of result.replies) console.log(renderMessage(reply, ''));
  if (result.execution) {
    console.log(`\nexecution ${result.execution.name} ${result.execution.status}`);
    console.log(renderTrace(result.execution.trace));
  }
  if (result.failure !== undefined)
    console.error(`\nthe question failed: ${describeFailure(result.failure)}`);
  console.log(
    `\nthread: ${result.sent.threadTs}  (follow up with: npm run ask -- --thread ${result.sent.threadTs} "...")`,
  );
}
