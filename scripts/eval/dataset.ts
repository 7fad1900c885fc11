import { readFile } from 'node:fs/promises';
import type { Reach } from '../../functions/core/access/reach';
import type { StoredMessage } from '../../functions/core/types';

/**
 * The eval set: one JSON object a line (JSONL).
 *
 * ```json
 * {"id": "vpn-rotate", "question": "How do I rotate my VPN key?", "sources": ["vpn-guide.md#Rotating your VPN key"],
 *  "reference": "Run corpvpn rotate-key and approve the push.", "language": "en"}
 * {"question": "How often?", "thread": [{"role": "human", "content": "How do I rotate my VPN key?"},
 *  {"role": "ai", "content": "Run corpvpn rotate-key."}], "sources": ["vpn-guide.md#Rotating your VPN key"]}
 * {"question": "Is MFA required?", "sources": []}
 * ```
 *
 * - `sources`: where the answer is. A source is a document path, or a path's end (`vpn-guide.md` matches
 *   `samples/docs/vpn-guide.md` and `s3://bucket/it/vpn-guide.md`), optionally with `#` and a section heading below the
 *   document's title (`vpn-guide.md#Troubleshooting`, matching that section and the sections under it). Empty: the
 *   documents cannot answer the question, and the bot should say so.
 * - `thread`: earlier turns of the Slack thread, oldest first, when the question is a follow-up: it is condensed with
 *   the product's condense chain before retrieval.
 * - `language`: `en` or `ja`, the language the answer should be in; by default the question's.
 * - `reference`: a reference answer, for the model-graded check.
 * - `user` (a Slack user id) and `channel`: who asks, and where (a DM by default). With them the question is
 *   answered from what that person may read there (`COLLECTION_AUDIENCES`, `CHANNEL_COLLECTIONS`, their user
 *   groups), so a set can check that a question is declined for someone outside a collection's audience. Without
 *   `user`, from every document.
 * - `reach`: instead of `user`, the collections the question may read, as a feedback export keeps them from the
 *   turn (`{"only": ["it"]}` or `{"closed": ["hr"]}`), so a real question is replayed with the reach it had.
 */
export interface EvalQuestion {
  /** Names the question in reports: `id` when given, else its line number (`line 7`). */
  id: string;
  line: number;
  question: string;
  sources: ExpectedSource[];
  reference?: string;
  thread: StoredMessage[];
  language?: 'en' | 'ja';
  /** Who asks (a Slack user id): the question is answered within their reach. */
  user?: string;
  /** Where they ask (a channel id); a DM when absent. */
  channel?: string;
  /** The reach to answer within, as a feedback export records it (instead of `user`). */
  reach?: Reach;
}

export interface ExpectedSource {
  /** The document path or the end of it. */
  path: string;
  /** A section heading below the title; undefined for any section of the document. */
  heading?: string;
}

/** A line of the eval set that cannot be read, with the line number and what is wrong. */
export class EvalSetError extends Error {
  override name = 'EvalSetError';
}

const KEYS = new Set([
  'id',
  'question',
  'sources',
  'reference',
  'thread',
  'language',
  'user',
  'channel',
  'reach',
]);

function parseSource(value: unknown, where: string): ExpectedSource {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new EvalSetError(
      `${where}: each of "sources" must be a non-empty string such as "vpn-guide.md#Connecting"`,
    );
  }
  const hash = value.indexOf('#');
  if (hash === -1) return { path: value.trim() };
  const heading = value.slice(hash + 1).trim();
  return { path: value.slice(0, hash).trim(), ...(heading === '' ? {} : { heading }) };
}

function parseThread(value: unknown, where: string): StoredMessage[] {
  if (value === undefined) return [];
  const ok =
    Array.isArray(value) &&
    value.every(
      (m) =>
        typeof m === 'object' &&
        m !== null &&
        ((m as StoredMessage).role === 'human' || (m as StoredMessage).role === 'ai') &&
        typeof (m as StoredMessage).content === 'string',
    );
  if (!ok) {
    throw new EvalSetError(
      `${where}: "thread" must be a list of {"role": "human" | "ai", "content": "..."}, oldest first`,
    );
  }
  return (value as StoredMessage[]).map((m) => ({ role: m.role, content: m.content }));
}

function isReach(value: unknown): value is Reach {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { only, closed, ...rest } = value as Record<string, unknown>;
  const names = (v: unknown) => Array.isArray(v) && v.every((c) => typeof c === 'string' && c !== '');
  return (
    Object.keys(rest).filter((k) => k !== 'groupsUnknown').length === 0 &&
    (only === undefined || names(only)) &&
    (closed === undefined || names(closed)) &&
    (only !== undefined || closed !== undefined)
  );
}

/** Parses the text of an eval set; blank lines and lines starting with `//` are skipped. */
export function parseEvalSet(text: string, name = 'the eval set'): EvalQuestion[] {
  const questions: EvalQuestion[] = [];
  const ids = new Set<string>();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('//')) continue;
    const where = `${name}, line ${index + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new EvalSetError(`${where}: not JSON (${error instanceof Error ? error.message : error})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new EvalSetError(`${where}: each line must be one JSON object`);
    }
    const record = parsed as Record<string, unknown>;
    const unknownKeys = Object.keys(record).filter((key) => !KEYS.has(key));
    if (unknownKeys.length > 0) {
      throw new EvalSetError(
        `${where}: unknown field ${unknownKeys.map((k) => `"${k}"`).join(', ')}; known: ${[...KEYS].join(', ')}`,
      );
    }
    if (typeof record.question !== 'string' || record.question.trim() === '') {
      throw new EvalSetError(`${where}: "question" must be a non-empty string`);
    }
    if (!Array.isArray(record.sources)) {
      throw new EvalSetError(
        `${where}: "sources" must be a list (empty when the documents cannot answer it)`,
      );
    }
    if (record.language !== undefined && record.language !== 'en' && record.language !== 'ja') {
      throw new EvalSetError(`${where}: "language" must be "en" or "ja"`);
    }
    if (record.reference !== undefined && typeof record.reference !== 'string') {
      throw new EvalSetError(`${where}: "reference" must be a string`);
    }
    if (record.id !== undefined && (typeof record.id !== 'string' || record.id === '')) {
      throw new EvalSetError(`${where}: "id" must be a non-empty string`);
    }
    if (
      record.user !== undefined &&
      (typeof record.user !== 'string' || !/^[UW][A-Z0-9]{2,}$/.test(record.user))
    ) {
      throw new EvalSetError(`${where}: "user" must be a Slack user id such as U0123ABCD`);
    }
    if (
      record.channel !== undefined &&
      (typeof record.channel !== 'string' || !/^[CGD][A-Z0-9]{2,}$/.test(record.channel))
    ) {
      throw new EvalSetError(`${where}: "channel" must be a Slack channel id such as C0123ABCD`);
    }
    if (record.channel !== undefined && record.user === undefined) {
      throw new EvalSetError(`${where}: "channel" needs "user" (who asks there)`);
    }
    if (record.reach !== undefined && !isReach(record.reach)) {
      throw new EvalSetError(
        `${where}: "reach" must be {"only": [collections…]} or {"closed": [collections…]}, as npm run feedback -- export writes it`,
      );
    }
    if (record.reach !== undefined && record.user !== undefined) {
      throw new EvalSetError(`${where}: give "user" or "reach", not both`);
    }
    const id = (record.id as string | undefined) ?? `line ${index + 1}`;
    if (ids.has(id)) throw new EvalSetError(`${where}: the id "${id}" is used twice`);
    ids.add(id);
    questions.push({
      id,
      line: index + 1,
      question: record.question.trim(),
      sources: record.sources.map((s) => parseSource(s, where)),
      ...(record.reference === undefined ? {} : { reference: record.reference as string }),
      thread: parseThread(record.thread, where),
      ...(record.language === undefined ? {} : { language: record.language as 'en' | 'ja' }),
      ...(record.user === undefined ? {} : { user: record.user as string }),
      ...(record.channel === undefined ? {} : { channel: record.channel as string }),
      ...(record.reach === undefined
        ? {}
        : { reach: { ...(record.reach as Reach), closed: (record.reach as Reach).closed ?? [] } }),
    });
  }
  if (questions.length === 0) throw new EvalSetError(`${name} holds no questions`);
  return questions;
}

export async function readEvalSet(path: string): Promise<EvalQuestion[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new EvalSetError(
      `cannot read the eval set ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  return parseEvalSet(text, path);
}

/** Whether a passage's section is one the question expects: the path's end matches, and the heading when given. */
export function matchesExpected(
  expected: ExpectedSource,
  section: { source: string; heading: string },
): boolean {
  const source = section.source.replace(/\\/g, '/');
  const path = expected.path.replace(/\\/g, '/').replace(/^\.\//, '');
  const pathMatches = source === path || source.endsWith(`/${path}`);
  if (!pathMatches) return false;
  if (expected.heading === undefined) return true;
  const want = expected.heading.toLowerCase();
  const heading = section.heading.toLowerCase();
  return heading === want || heading.startsWith(`${want} › `);
}
