import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from './config';
import { SlackRagBotStack } from './slack-rag-bot-stack';

/**
 * Puts the bot into `app`: its configuration from the context (`bot:*` in cdk.json or `-c`), the stack, and
 * cdk-nag's AWS Solutions checks as a validation plugin, so an unacknowledged finding stops the synth. The CLI's
 * app (infra/app.ts) and the tests build the same thing through here.
 */
export function addSlackRagBot(app: App): SlackRagBotStack {
  const config = readConfig((key) => app.node.tryGetContext(key));
  const stack = new SlackRagBotStack(app, config.stackName, {
    config,
    description:
      'Slack RAG bot: ack Lambda, Step Functions workflows, DynamoDB, LanceDB on S3 (slack-rag-bot)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
