/**
 * An origin as a sync is given it: its address alone (`docs/`, `s3://bucket/hr/`, `https://site/handbook/`), or its
 * address with the collection of the documents it holds (`{"uri": "s3://bucket/hr/", "collection": "hr"}`), so that
 * documents that cannot carry front matter (PDF, Word, HTML, text) are placed too. Pure: the ingest functions, the
 * configuration and the CDK app read origins with it.
 *
 * A document's collection, most specific first: its own front matter, then the collection its origin declares,
 * then the sync's (`--collection`, the input's `collection`), else none.
 */

/** An origin as given. */
export type OriginSpec = string | { uri: string; collection?: string };

/** An origin read: its address, and the collection it declares, if any. */
export interface ResolvedOrigin {
  uri: string;
  collection?: string;
}

/** What a collection name may be: letters, digits, `.`, `_` and `-`, 1 to 64 of them. */
export const COLLECTION_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The rule, for messages. */
export const COLLECTION_NAME_RULE = '1 to 64 letters, digits, ".", "_" or "-"';

/** Why `name` is not a collection name, or undefined when it is one. */
export function collectionNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a collection name must be a string; got ${JSON.stringify(name)}`;
  if (!COLLECTION_NAME.test(name)) {
    return `the collection name ${JSON.stringify(name)} must be ${COLLECTION_NAME_RULE}`;
  }
  return undefined;
}

/**
 * Reads one origin: a non-empty string, or an object with a non-empty string `uri` and an optional `collection`
 * (and no other key, so a misspelt `colection` is refused rather than ignored).
 *
 * @returns the origin, or why it is not one (a sentence naming the value).
 */
export function readOriginSpec(value: unknown): ResolvedOrigin | { problem: string } {
  if (typeof value === 'string') {
    const uri = value.trim();
    return uri === '' ? { problem: 'an origin must not be empty' } : { uri };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      problem: `an origin must be a string or {"uri": "...", "collection": "..."}; got ${JSON.stringify(value)}`,
    };
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => key !== 'uri' && key !== 'collection');
  if (unknown.length > 0) {
    return {
      problem: `the origin ${JSON.stringify(value)} has ${unknown.map((k) => `"${k}"`).join(', ')}; an origin object takes only "uri" and "collection"`,
    };
  }
  if (typeof record.uri !== 'string' || record.uri.trim() === '') {
    return {
      problem: `the origin ${JSON.stringify(value)} needs a "uri": a folder, glob, s3:// prefix or web site`,
    };
  }
  const uri = record.uri.trim();
  if (record.collection === undefined) return { uri };
  const problem = collectionNameProblem(record.collection);
  if (problem !== undefined) return { problem: `origin ${uri}: ${problem}` };
  return { uri, collection: record.collection as string };
}

/**
 * Reads a list of origins, the same origin given twice kept once (the first time it declares a collection wins;
 * two different collections for the same address are refused).
 *
 * @returns the origins, or why the list is not one.
 */
export function readOriginSpecs(values: readonly unknown[]): ResolvedOrigin[] | { problem: string } {
  const byUri = new Map<string, ResolvedOrigin>();
  for (const value of values) {
    const origin = readOriginSpec(value);
    if ('problem' in origin) return origin;
    const earlier = byUri.get(origin.uri);
    if (earlier === undefined) {
      byUri.set(origin.uri, origin);
    } else if (origin.collection !== undefined) {
      if (earlier.collection !== undefined && earlier.collection !== origin.collection) {
        return {
          problem: `the origin ${origin.uri} is given twice, with the collections "${earlier.collection}" and "${origin.collection}"`,
        };
      }
      earlier.collection = origin.collection;
    }
  }
  return [...byUri.values()];
}

/** The origin as given back: its address alone when it declares no collection. */
export function originSpecOf(origin: ResolvedOrigin): OriginSpec {
  return origin.collection === undefined ? origin.uri : { uri: origin.uri, collection: origin.collection };
}

/** The address of an origin as given. */
export function uriOf(origin: OriginSpec): string {
  return typeof origin === 'string' ? origin : origin.uri;
}

/**
 * The collection the origins give a document, from those that list it: the one with the longest address among
 * those that declare a collection (`docs/hr/` before `docs/`), the first given on a tie.
 */
export function collectionOfListing(
  listedBy: readonly string[],
  collections: Readonly<Record<string, string>>,
): string | undefined {
  let best: string | undefined;
  for (const uri of listedBy) {
    if (collections[uri] === undefined) continue;
    if (best === undefined || uri.length > best.length) best = uri;
  }
  return best === undefined ? undefined : collections[best];
}
