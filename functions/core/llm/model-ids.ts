/**
 * What a model id says about where it is served, read once for the deploy's checks (infra/config.ts refuses a model
 * of the other provider at synth) and for the IAM grants (infra/step-access.ts). No SDK here: infra imports it.
 */

/**
 * The geography prefixes of Bedrock's system-defined (cross-Region) inference profiles: `us.anthropic.…`,
 * `global.anthropic.…` (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html).
 */
const PROFILE_PREFIXES = ['us', 'us-gov', 'eu', 'apac', 'jp', 'au', 'ca', 'global'];

/** `vendor.model[:version]`, the shape of every Bedrock foundation model id (`amazon.nova-lite-v1:0`). */
const FOUNDATION_MODEL = /^[a-z][a-z0-9]*\.[a-z0-9][a-z0-9._:-]*$/;

/** A Bedrock model named by its ARN: an application inference profile, a provisioned model, an imported one. */
const BEDROCK_ARN = /^arn:aws[a-z-]*:(?:bedrock):[a-z0-9-]*:\d{0,12}:[a-z-]+\/\S+$/;

export type BedrockModelId =
  | { kind: 'foundation-model'; modelId: string }
  /** A system-defined inference profile (`us.…`): the calls may land in any Region of its geography. */
  | { kind: 'inference-profile'; profileId: string; modelId: string; geography: string }
  | { kind: 'arn'; arn: string };

/** How Bedrock reads `id`, or undefined when it is no Bedrock model id (`gpt-4.1-mini`, `local-extractive`). */
export function parseBedrockModelId(id: string): BedrockModelId | undefined {
  if (BEDROCK_ARN.test(id)) return { kind: 'arn', arn: id };
  const [first = '', ...rest] = id.split('.');
  if (PROFILE_PREFIXES.includes(first) && FOUNDATION_MODEL.test(rest.join('.'))) {
    return { kind: 'inference-profile', profileId: id, modelId: rest.join('.'), geography: first };
  }
  if (FOUNDATION_MODEL.test(id) && !/^(gpt|o\d|text-embedding|chatgpt|local)/.test(id)) {
    return { kind: 'foundation-model', modelId: id };
  }
  return undefined;
}

/** The model providers of Bedrock's catalogue, the first part of a model id (`anthropic.claude-…`). */
const BEDROCK_VENDORS =
  /^(amazon|anthropic|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs|stability|google|minimax|moonshot|moonshotai|nvidia|luma)\./;

/**
 * The provider whose model `id` names, when its shape says so without doubt: an OpenAI model name, a Bedrock id of a
 * known vendor or inference profile, an ARN; undefined for any other name.
 */
export function providerOfModel(id: string): 'bedrock' | 'openai' | 'local' | undefined {
  if (id.startsWith('local-')) return 'local';
  if (/^(gpt-|o\d|chatgpt-|text-embedding-|omni-moderation)/.test(id)) return 'openai';
  const bedrock = parseBedrockModelId(id);
  if (bedrock === undefined) return undefined;
  if (bedrock.kind !== 'foundation-model' || BEDROCK_VENDORS.test(id)) return 'bedrock';
  return undefined;
}
