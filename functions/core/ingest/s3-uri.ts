import { PermanentError } from '../errors';

/** A bucket and a key prefix, parsed from `s3://bucket/prefix`. */
export interface S3Location {
  bucket: string;
  /** The key prefix without a leading slash; `''` for the whole bucket. */
  prefix: string;
}

/** True for an `s3://` URI. */
export function isS3Uri(value: string): boolean {
  return value.startsWith('s3://');
}

/**
 * Parses `s3://bucket/prefix`.
 *
 * @throws {PermanentError} when the value is not an `s3://` URI with a bucket name.
 */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  const bucket = match?.[1];
  if (match === null || bucket === undefined || bucket === '') {
    throw new PermanentError(`"${uri}" is not an S3 location; expected s3://bucket/prefix`);
  }
  return { bucket, prefix: match[2] ?? '' };
}

/** The `s3://` URI of one object. */
export function s3UriOf(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
