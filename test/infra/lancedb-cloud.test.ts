import { type Env, loadConfig } from '../../functions/core/config';
import { type CfnResource, resourcesOf, synthWithoutBundling } from './synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

/** Each function's description (its step) with its environment and the statements of its role's policies. */
function functionsOf(template: ReturnType<typeof synthWithoutBundling>['template']) {
  const policies = resourcesOf(template, 'AWS::IAM::Policy');
  return resourcesOf(template, 'AWS::Lambda::Function').map(([, fn]: [string, CfnResource]) => {
    const role = fn.Properties.Role['Fn::GetAtt'][0];
    const statements: Json[] = policies
      .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === role))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    return {
      step: String(fn.Properties.Description).split(' (')[0] as string,
      env: fn.Properties.Environment.Variables as Record<string, Json>,
      statements,
    };
  });
}

const lancedbObjects = (statements: Json[]) =>
  statements.filter((s) => JSON.stringify(s.Resource).includes('/lancedb/*'));

describe('bot:lancedbUri (LanceDB Cloud)', () => {
  const { template } = synthWithoutBundling({
    'bot:lancedbUri': 'db://handbook',
    'bot:lancedbRegion': 'eu-west-1',
  });
  const functions = functionsOf(template);
  const secretId = resourcesOf(template, 'AWS::SecretsManager::Secret')
    .map(([id]) => id)
    .find((id) => id.startsWith('LanceDbApiKey'));

  it('creates a secret for the key, and prints where to put it', () => {
    expect(secretId).toBeDefined();
    expect(template.toJSON().Outputs.LanceDbApiKeyArn.Value).toEqual({ Ref: secretId });
  });

  it('gives the key to exactly the functions that open the vector store, by ARN', () => {
    const withKey = functions.filter((f) => 'LANCEDB_API_KEY_ARN' in f.env).map((f) => f.step);

    expect(withKey.sort()).toEqual([
      'Conversation / Retrieve',
      'Ingest / Commit',
      'Ingest / Optimize',
      'Ingest / Plan',
    ]);
    for (const f of functions.filter((f) => 'LANCEDB_API_KEY_ARN' in f.env)) {
      expect(f.env.LANCEDB_API_KEY_ARN).toEqual({ Ref: secretId });
      expect(f.env).toMatchObject({ LANCEDB_URI: 'db://handbook', LANCEDB_REGION: 'eu-west-1' });
      const readable = f.statements
        .filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'))
        .flatMap((s) => [s.Resource].flat());
      expect(readable).toContainEqual({ Ref: secretId });
    }
    expect(functions.some((f) => Object.keys(f.env).includes('LANCEDB_API_KEY'))).toBe(false);
    const others = functions.filter((f) => !withKey.includes(f.step));
    for (const f of others) expect(JSON.stringify(f.statements)).not.toContain(String(secretId));
  });

  it('grants no function the LanceDB prefix of the data bucket, and points every ingest step at the database', () => {
    for (const f of functions) expect(lancedbObjects(f.statements)).toEqual([]);
    for (const f of functions.filter((f) => f.step.startsWith('Ingest /'))) {
      expect(f.env.LANCEDB_URI).toBe('db://handbook');
    }
  });

  it("gives every function an environment that the functions' own configuration accepts", () => {
    for (const f of functions) {
      const env: Env = { AWS_REGION: 'eu-west-1' };
      for (const [name, value] of Object.entries(f.env)) {
        env[name] =
          typeof value === 'string'
            ? value
            : name.endsWith('_ARN')
              ? 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x'
              : name.endsWith('_URI') || name === 'INGEST_ORIGINS'
                ? 's3://bucket/prefix'
                : 'resolved-by-cloudformation';
      }
      expect(() => loadConfig(env)).not.toThrow();
    }
  });

  it('refuses a URI that is not db://, or a key written into it, at synth', () => {
    expect(() => synthWithoutBundling({ 'bot:lancedbUri': 's3://bucket/lancedb' })).toThrow(
      /bot:lancedbUri must be a LanceDB Cloud URI such as db:\/\/my-database/,
    );
    expect(() => synthWithoutBundling({ 'bot:lancedbUri': 'db://handbook?api_key=sk-1' })).toThrow(
      /lancedbUri/,
    );
    expect(() =>
      synthWithoutBundling({ 'bot:lancedbUri': 'db://handbook', 'bot:lancedbRegion': 'EU' }),
    ).toThrow(/bot:lancedbRegion must be a LanceDB Cloud region/);
  });
});

describe('without bot:lancedbUri', () => {
  const { template } = synthWithoutBundling({});
  const functions = functionsOf(template);

  it('creates no LanceDB key and keeps the vectors under the data bucket, read by Retrieve and written by Commit', () => {
    expect(resourcesOf(template, 'AWS::SecretsManager::Secret').map(([id]) => id)).not.toContainEqual(
      expect.stringMatching(/^LanceDbApiKey/),
    );
    expect(functions.some((f) => 'LANCEDB_API_KEY_ARN' in f.env || 'LANCEDB_REGION' in f.env)).toBe(false);
    const retrieve = functions.find((f) => f.step === 'Conversation / Retrieve');
    expect(lancedbObjects(retrieve?.statements ?? [])).not.toEqual([]);
  });
});
