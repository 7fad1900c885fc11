import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadConfig } from '../functions/core/config';
import { indexDocuments } from '../functions/core/ingest/index-documents';
import { createEmbeddings } from '../functions/core/llm/providers';
import { connectVectorStore } from '../functions/core/vector-store/connect-vector-store';
import { askThroughSlack } from './local/ask-client';
import { renderMessage, renderTrace } from './local/render';
import { REPO_ROOT, startLocalStack } from './local/stack';

/**
 * `npm run demo`: the whole product offline, with no configuration. A fresh local stack in a temporary
 * directory indexes the bundled sample documents, then a person mentions the bot and asks a follow-up in the
 * same thread; each reply is printed as Slack shows it, with its sources and each state's duration.
 */

const SAMPLES = join(REPO_ROOT, 'samples/docs');
const QUESTIONS = ['How do I rotate my VPN key?', 'How often do I have to do that?'];

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'slack-rag-demo-'));
  const lancedbUri = join(dir, 'lancedb');
  // The demo always runs on the offline `local` provider, whatever the shell has set.
  const env = { LLM_PROVIDER: 'local' };
  try {
    const files = await Promise.all(
      (await readdir(SAMPLES)).sort().map(async (name) => ({
        source: relative(REPO_ROOT, join(SAMPLES, name)),
        bytes: await readFile(join(SAMPLES, name)),
      })),
    );
    const connection = await connectVectorStore(lancedbUri);
    const indexed = await indexDocuments(connection, createEmbeddings(loadConfig(env).llm), files, {
      table: 'documents',
      now: Date.now(),
    });
    connection.close();
    console.log(
      `Indexed ${indexed.indexed} sample documents (${indexed.chunks} chunks) from samples/docs into ${lancedbUri}`,
    );

    const stack = await startLocalStack({ lancedbUri, env });
    console.log(
      'Local stack: fake Slack, dynalite, Step Functions running statemachine/conversation.asl.json, LanceDB',
    );
    console.log(`Slack Request URL: ${stack.eventsUrl}\n`);
    try {
      let threadTs: string | undefined;
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
      }
    } finally {
      await stack.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
