import { App } from 'aws-cdk-lib';
import { addSlackRagBot } from './bot-app';

/**
 * The CDK app of `npx cdk synth` and `npx cdk deploy` (cdk.json). Environment-agnostic: the account and region
 * come from the CLI's credentials and profile.
 */
addSlackRagBot(new App());
