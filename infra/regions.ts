/**
 * The AWS Regions where Lambda Function URLs (the Slack Request URL) do not exist, with their names: the one list,
 * which the synth checks and docs/deploy.md quotes. From the AWS Lambda Developer Guide, "Creating and managing Lambda
 * function URLs" (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html, the note on unsupported
 * Regions), and the AWS GovCloud (US) User Guide, "AWS Lambda in AWS GovCloud (US)" ("AWS Lambda Function URLs is
 * not available"; https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-lambda.html). A Region not
 * listed passes: AWS adds Regions and features, so only a Region known to lack them stops the synth.
 */
export const FUNCTION_URL_UNSUPPORTED_REGIONS: Readonly<Record<string, string>> = {
  'ap-east-2': 'Asia Pacific (Taipei)',
  'ap-south-2': 'Asia Pacific (Hyderabad)',
  'ap-southeast-4': 'Asia Pacific (Melbourne)',
  'ap-southeast-5': 'Asia Pacific (Malaysia)',
  'ap-southeast-6': 'Asia Pacific (New Zealand)',
  'ap-southeast-7': 'Asia Pacific (Thailand)',
  'ca-west-1': 'Canada West (Calgary)',
  'eu-central-2': 'Europe (Zurich)',
  'eu-south-2': 'Europe (Spain)',
  'il-central-1': 'Israel (Tel Aviv)',
  'me-central-1': 'Middle East (UAE)',
  'us-gov-east-1': 'AWS GovCloud (US-East)',
  'us-gov-west-1': 'AWS GovCloud (US-West)',
};

export class UnsupportedRegionError extends Error {
  override name = 'UnsupportedRegionError';
}

/** Stops the synth, in one line, when `region` is known to lack Lambda Function URLs; an unknown Region passes. */
export function assertFunctionUrlRegion(region: string | undefined): void {
  if (region === undefined || !Object.hasOwn(FUNCTION_URL_UNSUPPORTED_REGIONS, region)) return;
  throw new UnsupportedRegionError(
    `${region} (${FUNCTION_URL_UNSUPPORTED_REGIONS[region]}) has no Lambda Function URLs, which the bot's Slack ` +
      'Request URL is: deploy in another Region (AWS_REGION), see docs/deploy.md, Deploying to AWS.',
  );
}
