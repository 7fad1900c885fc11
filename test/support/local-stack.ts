import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../functions/core/config';
import { indexSampleDocuments } from '../../scripts/local/ingest-local';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../scripts/local/stack';

export type { LocalStack };
export { indexSampleDocuments };

/** A temporary directory removed by the returned function. */
export async function temporaryDirectory(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A local stack over a fresh temporary vector store, optionally with the sample documents indexed. */
export async function startTestStack(
  options: {
    env?: Env;
    indexSamples?: boolean;
    timeoutOverrides?: Record<string, number>;
    timeScale?: { scale: number; minTaskSeconds?: number };
    /** @default 20 ms for every Retry pause; `null` keeps the ASL's pauses (scaled with `timeScale`). */
    retryIntervalMs?: number | null;
    slackRateLimits?: LocalStackOptions['slackRateLimits'];
    /** The fake Slack's user groups, as LOCAL_SLACK_USERGROUPS gives them to npm run dev: `{ S0HRTEAM: ['U0ALICE'] }`. */
    slackUserGroups?: LocalStackOptions['slackUserGroups'];
    /** An org-wide install on Enterprise Grid of this organisation, as LOCAL_SLACK_ENTERPRISE gives it to npm run dev. */
    slackEnterpriseId?: LocalStackOptions['slackEnterpriseId'];
    /** With `LLM_PROVIDER=bedrock`: what the Bedrock stand-in allows (enabled models, a guardrail). */
    bedrock?: LocalStackOptions['bedrock'];
  } = {},
): Promise<{
  stack: LocalStack;
  close(): Promise<void>;
}> {
  const dir = await temporaryDirectory('slack-rag-test-');
  const lancedbUri = join(dir.path, 'lancedb');
  const env = { LLM_PROVIDER: 'local', ...options.env };
  if (options.indexSamples !== false) await indexSampleDocuments(lancedbUri, env);
  const stack = await startLocalStack({
    lancedbUri,
    env,
    ...(options.retryIntervalMs === null ? {} : { retryIntervalMs: options.retryIntervalMs ?? 20 }),
    timeoutOverrides: options.timeoutOverrides,
    ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
    ...(options.slackRateLimits === undefined ? {} : { slackRateLimits: options.slackRateLimits }),
    ...(options.slackUserGroups === undefined ? {} : { slackUserGroups: options.slackUserGroups }),
    ...(options.slackEnterpriseId === undefined ? {} : { slackEnterpriseId: options.slackEnterpriseId }),
    ...(options.bedrock === undefined ? {} : { bedrock: options.bedrock }),
  });
  return {
    stack,
    async close() {
      await stack.close();
      await dir.remove();
    },
  };
}

/** The text a person reads in a bot message: its blocks' texts, else its text. */
export function visibleText(message: { text: string; blocks?: unknown[] }): string {
  const blocks = (message.blocks ?? []) as {
    type: string;
    text?: { text?: string };
    elements?: { text?: string }[];
  }[];
  if (blocks.length === 0) return message.text;
  return blocks
    .map((b) => b.text?.text ?? (b.elements ?? []).map((e) => e.text ?? '').join(' '))
    .filter((t) => t !== '')
    .join('\n');
}

/** The settings that point the stack's chat model and embeddings at a fake OpenAI server, with no retries. */
export function openAIEnv(openai: { url: string }, apiKey: string): Env {
  return {
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: openai.url,
    OPENAI_MAX_RETRIES: '0',
  };
}
