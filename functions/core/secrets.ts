import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretRef } from './config';
import { ConfigError } from './errors';

/** How long a secret read from Secrets Manager is reused before it is read again (rotation takes effect then). */
const SECRET_MAX_AGE_SECONDS = 300;

export interface SecretReader {
  /** The secret's value; `variable` names the setting in errors (never the value). */
  read(ref: SecretRef | undefined, variable: string): Promise<string>;
}

/**
 * Reads secrets by value (local runs) or from Secrets Manager by ARN, cached across invocations of a warm
 * Lambda with Powertools Parameters. A secret stored as JSON `{"value": "…"}` or as a plain string both work.
 */
export function createSecretReader(options: { region: string; endpoint?: string }): SecretReader {
  let provider: SecretsProvider | undefined;
  return {
    async read(ref, variable) {
      if (ref === undefined) throw new ConfigError(`${variable} (or ${variable}_ARN) is not set`);
      if ('value' in ref) return ref.value;
      provider ??= new SecretsProvider({
        awsSdkV3Client: new SecretsManagerClient({ region: options.region, endpoint: options.endpoint }),
      });
      const raw = await provider.get(ref.arn, { maxAge: SECRET_MAX_AGE_SECONDS });
      if (typeof raw !== 'string' || raw.trim() === '') {
        throw new ConfigError(`the secret named by ${variable}_ARN is empty`);
      }
      return unwrapJsonSecret(raw.trim());
    },
  };
}

function unwrapJsonSecret(raw: string): string {
  if (!raw.startsWith('{')) return raw;
  try {
    const parsed = JSON.parse(raw) as { value?: unknown };
    return typeof parsed.value === 'string' ? parsed.value : raw;
  } catch {
    return raw;
  }
}
