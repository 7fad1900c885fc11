import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type ChannelProfile, parseChannelProfiles } from '../../functions/core/channel-profiles';

/**
 * A configuration to evaluate, as a `--compare` file names it (JSON: one variant, or a list of them). Every field
 * but `name` is optional; what a variant leaves out is the configuration the eval runs with (the environment, as the
 * product reads it).
 *
 * ```json
 * {"name": "top-k 3, vector only", "topK": 3, "search": "vector"}
 * {"name": "small chunks", "chunkSize": 400, "chunkOverlap": 60}
 * {"name": "terse prompt", "prompt": "terse-prompt.txt", "model": "gpt-4.1-nano"}
 * {"name": "#support's assistant", "profile": "C0SUPPORT1"}
 * {"name": "a brief assistant", "profile": {"instructions": "Answer in one sentence.", "topK": 3}}
 * ```
 */
export interface Variant {
  name: string;
  /** Passages retrieved per question (`RETRIEVE_TOP_K`). */
  topK?: number;
  /** `hybrid` (vector + full-text, fused by rank, when the table has a full-text index) or `vector` only. */
  search?: 'hybrid' | 'vector';
  /** Re-indexes the documents into a temporary table with this chunk size (`INGEST_CHUNK_SIZE`). */
  chunkSize?: number;
  /** …and this overlap (`INGEST_CHUNK_OVERLAP`). */
  chunkOverlap?: number;
  /** A file holding the answer chain's system prompt (with `{passages}`), relative to the variant file. */
  prompt?: string;
  /** The system prompt itself, read from `prompt`. */
  promptText?: string;
  /** The chat model (`OPENAI_MODEL`); with the `local` provider only `local-extractive` exists. */
  model?: string;
  /** The documents to re-index for chunk settings (paths or globs), relative to the working directory. */
  docs?: string[];
  /**
   * An assistant per channel (`CHANNEL_PROFILES`) to evaluate: a channel id (or `*`) whose profile the configured
   * `CHANNEL_PROFILES` holds, answered as in that channel, or a profile itself. Its instructions, model and top-k
   * apply (the variant's own `topK` and `model` win); its follow-up policy has nothing to do in an eval.
   */
  profile?: string | ChannelProfile;
}

export class VariantError extends Error {
  override name = 'VariantError';
}

const FIELDS = new Set([
  'name',
  'topK',
  'search',
  'chunkSize',
  'chunkOverlap',
  'prompt',
  'model',
  'docs',
  'profile',
]);

/** A variant's `profile`: a channel id or `*` to look up, or a profile checked as `CHANNEL_PROFILES` checks one. */
function profileOf(value: unknown, where: string): string | ChannelProfile | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!/^(\*|[CG][A-Z0-9]{2,})$/.test(value)) {
      throw new VariantError(
        `${where}: "profile" must be a channel id (or "*") of CHANNEL_PROFILES, or a profile`,
      );
    }
    return value;
  }
  const parsed = parseChannelProfiles({ '*': value }, undefined);
  if (!parsed.ok) throw new VariantError(`${where}: "profile" ${parsed.problem.replace('entry "*": ', '')}`);
  return parsed.value['*'];
}

function wholeNumber(
  value: unknown,
  field: string,
  where: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new VariantError(`${where}: "${field}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}

async function parseVariant(value: unknown, where: string, baseDir: string): Promise<Variant> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VariantError(
      `${where}: a variant must be a JSON object such as {"name": "top-k 3", "topK": 3}`,
    );
  }
  const record = value as Record<string, unknown>;
  const unknownFields = Object.keys(record).filter((key) => !FIELDS.has(key));
  if (unknownFields.length > 0) {
    throw new VariantError(
      `${where}: unknown field ${unknownFields.map((f) => `"${f}"`).join(', ')}; known: ${[...FIELDS].join(', ')}`,
    );
  }
  if (typeof record.name !== 'string' || record.name.trim() === '') {
    throw new VariantError(`${where}: "name" must be a non-empty string`);
  }
  if (record.search !== undefined && record.search !== 'hybrid' && record.search !== 'vector') {
    throw new VariantError(`${where}: "search" must be "hybrid" or "vector"`);
  }
  if (record.model !== undefined && (typeof record.model !== 'string' || record.model === '')) {
    throw new VariantError(`${where}: "model" must be a model name`);
  }
  if (
    record.docs !== undefined &&
    (!Array.isArray(record.docs) || !record.docs.every((d) => typeof d === 'string'))
  ) {
    throw new VariantError(`${where}: "docs" must be a list of paths or globs`);
  }
  const profile = profileOf(record.profile, where);
  const chunkSize = wholeNumber(record.chunkSize, 'chunkSize', where, 100, 8_000);
  const chunkOverlap = wholeNumber(record.chunkOverlap, 'chunkOverlap', where, 0, 4_000);
  if (chunkOverlap !== undefined && chunkOverlap >= (chunkSize ?? 1_000)) {
    throw new VariantError(`${where}: "chunkOverlap" must be less than the chunk size`);
  }
  let promptText: string | undefined;
  if (record.prompt !== undefined) {
    if (typeof record.prompt !== 'string') throw new VariantError(`${where}: "prompt" must be a file name`);
    const path = resolve(baseDir, record.prompt);
    try {
      promptText = await readFile(path, 'utf8');
    } catch {
      throw new VariantError(`${where}: cannot read the prompt file ${path}`);
    }
    if (!promptText.includes('{passages}')) {
      throw new VariantError(`${where}: the prompt file ${path} must hold {passages}, where the passages go`);
    }
  }
  return {
    name: record.name.trim(),
    ...(record.topK === undefined ? {} : { topK: wholeNumber(record.topK, 'topK', where, 1, 50) }),
    ...(record.search === undefined ? {} : { search: record.search }),
    ...(chunkSize === undefined ? {} : { chunkSize }),
    ...(chunkOverlap === undefined ? {} : { chunkOverlap }),
    ...(record.prompt === undefined ? {} : { prompt: record.prompt as string, promptText }),
    ...(record.model === undefined ? {} : { model: record.model as string }),
    ...(record.docs === undefined ? {} : { docs: record.docs as string[] }),
    ...(profile === undefined ? {} : { profile }),
  };
}

/** The variants of one `--compare` file: a JSON object, or a list of them. */
export async function readVariants(path: string): Promise<Variant[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new VariantError(
      `cannot read the variant file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new VariantError(`${path}: not JSON (${error instanceof Error ? error.message : error})`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0) throw new VariantError(`${path}: holds no variant`);
  const variants: Variant[] = [];
  for (const [i, item] of list.entries()) {
    variants.push(
      await parseVariant(
        item,
        Array.isArray(parsed) ? `${path}, variant ${i + 1}` : path,
        dirname(resolve(path)),
      ),
    );
  }
  return variants;
}

/** Whether a variant needs its own index (its chunking differs from the store's). */
export function needsReindex(variant: Variant): boolean {
  return variant.chunkSize !== undefined || variant.chunkOverlap !== undefined;
}
