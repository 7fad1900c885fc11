import { mkdirSync } from 'node:fs';
import { localLanceDbUri, shellSettings } from './local/cli-env';
import { startLocalStack } from './local/stack';

/**
 * `npm run dev`: the local stack as a long-running server. Send it signed requests (curl, or your own Slack
 * payloads) and read what the bot posted from the fake Slack's transcript. It verifies signatures with
 * SLACK_SIGNING_SECRET when set, else with a local secret it prints.
 */
async function main() {
  mkdirSync('.local/dynamodb', { recursive: true });
  const port = Number(process.env.PORT ?? 3000);
  const stack = await startLocalStack({
    lancedbUri: localLanceDbUri(),
    dynamoPath: '.local/dynamodb',
    env: shellSettings(),
    signingSecret: process.env.SLACK_SIGNING_SECRET?.trim() || undefined,
    port,
  });
  const fromShell = Boolean(process.env.SLACK_SIGNING_SECRET?.trim());
  console.log(`Slack request URL:     ${stack.eventsUrl}`);
  console.log(`Fake Slack transcript: ${stack.transcriptUrl}`);
  console.log(
    fromShell
      ? 'Signing secret:        SLACK_SIGNING_SECRET from your shell'
      : `Signing secret:        ${stack.signingSecret} (local only)`,
  );
  console.log(`Vector store:          ${localLanceDbUri()}`);
  console.log('Press Ctrl+C to stop.');
  const stop = async () => {
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
