import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addSlackRagBot } from '../../infra/bot-app';
import type { SlackRagBotStack } from '../../infra/slack-rag-bot-stack';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The context a deployment gets: cdk.json's, feature flags and bot settings included. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export interface Synthesized {
  app: App;
  stack: SlackRagBotStack;
  template: Template;
}

/**
 * The app as `cdk synth` builds it from cdk.json (the cdk-nag plugin included), with `context` on top, not yet
 * synthesized; without bundling (asset contents are checked once, in the full synth test) and without CDK's
 * built-in template validation (which the full synth runs), so a template takes a second or two.
 */
export function buildWithoutBundling(context: Record<string, unknown> = {}): {
  app: App;
  stack: SlackRagBotStack;
} {
  const app = new App({
    context: {
      ...cdkJsonContext(),
      'aws:cdk:bundling-stacks': [],
      '@aws-cdk/core:validateAgainstDefaultRules': false,
      ...context,
    },
  });
  return { app, stack: addSlackRagBot(app) };
}

/** `buildWithoutBundling`, synthesized. */
export function synthWithoutBundling(context: Record<string, unknown> = {}): Synthesized {
  const { app, stack } = buildWithoutBundling(context);
  return { app, stack, template: Template.fromStack(stack) };
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources are untyped JSON
export type CfnResource = { Type: string; Properties: any; Metadata?: any };

export function resourcesOf(template: Template, type: string): [string, CfnResource][] {
  return Object.entries(template.findResources(type)) as [string, CfnResource][];
}
