import type { Env } from '../../functions/core/config';
import {
  type FakeBedrock,
  type FakeBedrockOptions,
  startFakeBedrock,
} from '../../stand-ins/bedrock/fake-bedrock';

/**
 * `LLM_PROVIDER=bedrock` on the local commands (`npm run dev`, `ask`, `ingest`, `eval`): no AWS account is reachable
 * here, so they start the Bedrock stand-in (stand-ins/bedrock) and point the real SDK client at it with
 * `BEDROCK_ENDPOINT`. Any other provider, or an endpoint already given (a test's own stand-in), starts nothing.
 */
export interface LocalBedrock {
  /** The settings to add to the functions' environment (`BEDROCK_ENDPOINT`), empty when nothing was started. */
  env: Env;
  /** The stand-in, when one was started: its requests, and faults to inject. */
  fake?: FakeBedrock;
  close(): Promise<void>;
}

export async function startLocalBedrock(env: Env, options: FakeBedrockOptions = {}): Promise<LocalBedrock> {
  if (env.LLM_PROVIDER?.trim().toLowerCase() !== 'bedrock' || env.BEDROCK_ENDPOINT?.trim()) {
    return { env: {}, close: async () => {} };
  }
  const fake = await startFakeBedrock(options);
  return { env: { BEDROCK_ENDPOINT: fake.url }, fake, close: () => fake.close() };
}
