import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { askThroughSlack } from './local/ask-client';
import { localLanceDbUri, shellSettings } from './local/cli-env';
import { renderMessage, renderTrace } from './local/render';
import { startLocalStack } from './local/stack';

/**
 * `npm run ask -- [--json] [--thread TS] "question"`: one signed mention through the local stack, answered from
 * the documents in `.local/` (or LANCEDB_URI). Thread history is kept in `.local/dynamodb`, so `--thread` with
 * the threadTs of an earlier answer asks a follow-up.
 */
async function main() {
  const { values, positionals } = parseArgs({
    options: { json: { type: 'boolean', default: false }, thread: { type: 'string' } },
    allowPositionals: true,
  });
  const question = positionals.join(' ').trim();
  if (question === '') {
    console.error('usage: npm run ask -- [--json] [--thread TS] "your question"');
    process.exit(2);
  }
  mkdirSync('.local/dynamodb', { recursive: true });
  const stack = await startLocalStack({
    lancedbUri: localLanceDbUri(),
    dynamoPath: '.local/dynamodb',
    env: shellSettings(),
  });
  try {
    const result = await askThroughSlack(stack, question, { threadTs: values.thread });
    const failed = result.execution !== undefined && result.execution.status !== 'SUCCEEDED';
    if (values.json) {
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
          ...(failed ? { error: result.execution?.error, execution: result.execution?.name } : {}),
        }),
      );
    } else {
      for (const reply of result.replies) console.log(renderMessage(reply, ''));
      if (result.execution) {
        console.log(`\nexecution ${result.execution.name} ${result.execution.status}`);
        console.log(renderTrace(result.execution.trace));
      }
      console.log(
        `\nthread: ${result.sent.threadTs}  (follow up with: npm run ask -- --thread ${result.sent.threadTs} "...")`,
      );
    }
    if (failed) process.exitCode = 1;
  } finally {
    await stack.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
