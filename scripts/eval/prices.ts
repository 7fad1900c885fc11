/**
 * OpenAI list prices per million tokens, standard tier, as published on https://openai.com/api/pricing/ (2025), and
 * Amazon Bedrock's on-demand ones (below).
 * Prices change: check that page before relying on a cost figure. A model missing here is reported with its tokens
 * and no cost. The offline `local` models cost nothing.
 */
export interface TokenPrice {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens (0 for embeddings). */
  output: number;
}

export const MODEL_PRICES_USD_PER_MILLION: Record<string, TokenPrice> = {
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'text-embedding-ada-002': { input: 0.1, output: 0 },
  // Amazon Bedrock, on-demand, us-east-1, per million tokens: https://aws.amazon.com/bedrock/pricing/ (the page's
  // per-1,000-token figures, as published in 2025; not re-checked from this machine, which has no internet).
  // Cross-Region inference profiles (us.…) cost the source Region's price (same page).
  'amazon.nova-micro-v1:0': { input: 0.035, output: 0.14 },
  'amazon.nova-lite-v1:0': { input: 0.06, output: 0.24 },
  'amazon.nova-pro-v1:0': { input: 0.8, output: 3.2 },
  'anthropic.claude-haiku-4-5-20251001-v1:0': { input: 1, output: 5 },
  'anthropic.claude-3-5-haiku-20241022-v1:0': { input: 0.8, output: 4 },
  'anthropic.claude-sonnet-4-5-20250929-v1:0': { input: 3, output: 15 },
  'openai.gpt-oss-120b-1:0': { input: 0.15, output: 0.6 },
  'openai.gpt-oss-20b-1:0': { input: 0.07, output: 0.3 },
  'amazon.titan-embed-text-v2:0': { input: 0.02, output: 0 },
  'cohere.embed-multilingual-v3': { input: 0.1, output: 0 },
};

/** The price of a model; free for the offline models, undefined when unknown. */
export function priceOf(model: string): TokenPrice | undefined {
  if (model.startsWith('local-')) return { input: 0, output: 0 };
  // Dated snapshots cost what their model costs: gpt-4.1-mini-2025-04-14. A Bedrock inference profile costs what its
  // model costs in the Region the request is made from: us.anthropic.claude-haiku-4-5-20251001-v1:0.
  const base = model
    .replace(/-\d{4}-\d{2}-\d{2}$/, '')
    .replace(/^(us|us-gov|eu|apac|jp|au|ca)\.(?=[a-z0-9]+\.)/, '');
  // Own keys only: a model named "constructor" has no price, not Object.prototype's.
  return Object.hasOwn(MODEL_PRICES_USD_PER_MILLION, base) ? MODEL_PRICES_USD_PER_MILLION[base] : undefined;
}

/** The cost of some tokens in USD, or undefined when the model's price is unknown. */
export function costOf(model: string, inputTokens: number, outputTokens: number): number | undefined {
  const price = priceOf(model);
  if (price === undefined) return undefined;
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}

/** Rough token count of a text when no model reports one: one per CJK character, one per four other characters. */
export function estimateTokens(text: string): number {
  let cjk = 0;
  let other = 0;
  for (const c of text) {
    if (/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(c)) cjk += 1;
    else other += 1;
  }
  return cjk + Math.ceil(other / 4);
}
