/**
 * AWS list prices in us-east-1 (N. Virginia), the first pricing tier of each, as published on the services'
 * pricing pages and checked on 2026-11-24. Free tiers are left out: the figures are what a team pays once past
 * them. Model tokens are not priced here: the bench reports the token counts, so any model's price applies.
 */

/** Lambda, arm64 (the functions run on Graviton): https://aws.amazon.com/lambda/pricing/ (first 7.5 billion GB-s a month). */
export const LAMBDA_ARM64_USD_PER_GB_SECOND = 0.0000133334;
/** Lambda requests, any architecture: https://aws.amazon.com/lambda/pricing/ */
export const LAMBDA_USD_PER_REQUEST = 0.2 / 1_000_000;

/** Step Functions Express, per execution started: https://aws.amazon.com/step-functions/pricing/ */
export const EXPRESS_USD_PER_REQUEST = 1 / 1_000_000;
/** Express duration, first 1,000 GB-hours a month ($0.06 per GB-hour): https://aws.amazon.com/step-functions/pricing/ */
export const EXPRESS_USD_PER_GB_SECOND = 0.00001667;
/** Express bills memory in 64 MB chunks (50 MB + definition + payload fits one) and duration rounded up to 100 ms. */
export const EXPRESS_MEMORY_CHUNK_MB = 64;
export const EXPRESS_DURATION_STEP_MS = 100;

/**
 * DynamoDB on-demand, after the price cut of 1 November 2024: https://aws.amazon.com/dynamodb/pricing/on-demand/
 * A write request unit is a write of up to 1 KB; a read request unit a strongly consistent read of up to 4 KB,
 * or two eventually consistent ones.
 */
export const DYNAMODB_USD_PER_WRITE_REQUEST_UNIT = 0.625 / 1_000_000;
export const DYNAMODB_USD_PER_READ_REQUEST_UNIT = 0.125 / 1_000_000;

/** S3 Standard requests: https://aws.amazon.com/s3/pricing/ (GET and HEAD; PUT, COPY, POST and LIST). */
export const S3_USD_PER_GET = 0.0004 / 1000;
export const S3_USD_PER_PUT_OR_LIST = 0.005 / 1000;
