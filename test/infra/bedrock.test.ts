import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type CfnResource, resourcesOf, synthWithoutBundling } from './synth';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

const PROFILE = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const EMBEDDING = 'amazon.titan-embed-text-v2:0';

const bedrockContext = {
  'bot:llmProvider': 'bedrock',
  'bot:chatModel': PROFILE,
  'bot:embeddingModel': EMBEDDING,
  'bot:embeddingDimensions': 512,
  'bot:bedrockRegion': 'us-west-2',
  'bot:bedrockGuardrail': 'gr0policy1:3',
};

function functions(template: Template): Map<string, CfnResource> {
  return new Map(
    resourcesOf(template, 'AWS::Lambda::Function').map(([, fn]) => [
      String(fn.Properties.Description).split(' (')[0] ?? '',
      fn,
    ]),
  );
}

/** The statements of a function's role that allow a `bedrock:` action. */
function bedrockStatements(template: Template, fn: CfnResource): Json[] {
  const role = fn.Properties.Role['Fn::GetAtt'][0];
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((r: Json) => r.Ref === role))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement)
    .filter((s: Json) => [s.Action].flat().some((a: string) => a.startsWith('bedrock:')));
}

/** An ARN as the template writes it (Fn::Join of the partition and account), flattened to a readable string. */
function arnText(resource: Json): string {
  if (typeof resource === 'string') return resource;
  const [, parts] = resource['Fn::Join'];
  return parts.map((p: Json) => (typeof p === 'string' ? p : `<${p.Ref}>`)).join('');
}

describe('bot:llmProvider=bedrock with channel profiles', () => {
  const OTHER = 'amazon.nova-lite-v1:0';
  const { template } = synthWithoutBundling({
    ...bedrockContext,
    'bot:channelProfiles': { C0123ABCD: { model: OTHER }, '*': { instructions: 'Be brief.' } },
  });
  const byName = functions(template);
  const invokeResources = (name: string) =>
    bedrockStatements(template, byName.get(name) as CfnResource)
      .filter((s: Json) => [s.Action].flat().includes('bedrock:InvokeModel'))
      .flatMap((s: Json) => [s.Resource].flat().map(arnText));

  it("grants a profile's own model to the step that answers with it, and to no other", () => {
    const other = `arn:<AWS::Partition>:bedrock:us-west-2::foundation-model/${OTHER}`;
    expect(invokeResources('Conversation / GenerateAnswer')).toContain(other);
    expect(invokeResources('Conversation / GenerateAnswer')).toContain(
      `arn:<AWS::Partition>:bedrock:us-west-2:<AWS::AccountId>:inference-profile/${PROFILE}`,
    );
    expect(invokeResources('Conversation / CondenseQuestion')).not.toContain(other);
    expect(invokeResources('Conversation / Retrieve')).not.toContain(other);
  });
});

describe('bot:llmProvider=bedrock', () => {
  const { stack, template } = synthWithoutBundling(bedrockContext);
  const byName = functions(template);

  it('creates no OpenAI secret and gives no function an OpenAI key', () => {
    const secrets = resourcesOf(template, 'AWS::SecretsManager::Secret').map(([id]) => id);
    expect(secrets.some((id) => id.startsWith('OpenAiApiKey'))).toBe(false);
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('OpenAiApiKeyArn');
    for (const fn of byName.values()) {
      expect(fn.Properties.Environment.Variables.OPENAI_API_KEY_ARN).toBeUndefined();
    }
  });

  it('grants InvokeModel on exactly the chosen models, to the steps that call them', () => {
    const chat = [
      `arn:<AWS::Partition>:bedrock:us-west-2:<AWS::AccountId>:inference-profile/${PROFILE}`,
      // The profile's foundation model, in whichever Region the profile routes to, only through the profile.
      'arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
    ];
    const embeddings = [`arn:<AWS::Partition>:bedrock:us-west-2::foundation-model/${EMBEDDING}`];
    const expected: Record<string, string[]> = {
      'Conversation / CondenseQuestion': chat,
      'Conversation / GenerateAnswer': chat,
      'Conversation / Retrieve': embeddings,
      'Ingest / Plan': embeddings,
      'Ingest / Batch': embeddings,
    };
    for (const [name, fn] of byName) {
      const invoke = bedrockStatements(template, fn).filter((s: Json) =>
        [s.Action].flat().includes('bedrock:InvokeModel'),
      );
      const resources = invoke.flatMap((s: Json) => [s.Resource].flat().map(arnText));
      expect({ name, resources: resources.sort() }).toEqual({
        name,
        resources: [...(expected[name] ?? [])].sort(),
      });
      for (const statement of invoke) {
        expect([statement.Action].flat().sort()).toEqual([
          'bedrock:InvokeModel',
          'bedrock:InvokeModelWithResponseStream',
        ]);
      }
    }
    const generate = bedrockStatements(template, byName.get('Conversation / GenerateAnswer') as CfnResource);
    const anyRegion = generate.find((s: Json) => arnText([s.Resource].flat()[0]).includes(':bedrock:*::'));
    expect(arnText(anyRegion.Condition.StringEquals['bedrock:InferenceProfileArn'])).toBe(chat[0]);
  });

  it('tells the functions the models, the region, the dimensions and the guardrail', () => {
    const generate = byName.get('Conversation / GenerateAnswer')?.Properties.Environment.Variables;
    const batch = byName.get('Ingest / Batch')?.Properties.Environment.Variables;
    expect(generate).toMatchObject({
      LLM_PROVIDER: 'bedrock',
      OPENAI_MODEL: PROFILE,
      BEDROCK_REGION: 'us-west-2',
      BEDROCK_GUARDRAIL: 'gr0policy1:3',
    });
    expect(batch).toMatchObject({
      LLM_PROVIDER: 'bedrock',
      OPENAI_EMBEDDING_MODEL: EMBEDDING,
      EMBEDDING_DIMENSIONS: '512',
    });
    const applyGuardrail = bedrockStatements(
      template,
      byName.get('Conversation / GenerateAnswer') as CfnResource,
    )
      .filter((s: Json) => s.Action === 'bedrock:ApplyGuardrail')
      .map((s: Json) => arnText(s.Resource));
    expect(applyGuardrail).toEqual([
      'arn:<AWS::Partition>:bedrock:us-west-2:<AWS::AccountId>:guardrail/gr0policy1',
    ]);
  });

  it("prices the chat model's tokens on the usage dashboard at its Bedrock list price", () => {
    const dashboards = resourcesOf(template, 'AWS::CloudWatch::Dashboard').map(([, d]) =>
      JSON.stringify(d.Properties.DashboardBody),
    );
    expect(
      dashboards.some((body) => body.includes(`${PROFILE}, USD (at $1 in / $5 out per million tokens)`)),
    ).toBe(true);
  });

  it('passes the AWS Solutions checks', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('with a foundation model id, grants that model in the Bedrock region only', () => {
    const { template: plain } = synthWithoutBundling({
      'bot:llmProvider': 'bedrock',
      'bot:chatModel': 'amazon.nova-lite-v1:0',
      'bot:embeddingModel': EMBEDDING,
    });
    const generate = functions(plain).get('Conversation / GenerateAnswer') as CfnResource;
    expect(bedrockStatements(plain, generate).flatMap((s: Json) => [s.Resource].flat().map(arnText))).toEqual(
      ['arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.nova-lite-v1:0'],
    );
  });

  it('refuses at synth a model of the other provider, naming the key', () => {
    expect(() => synthWithoutBundling({ 'bot:llmProvider': 'bedrock' })).toThrow(
      /bot:chatModel must be a Bedrock model id/,
    );
    expect(() => synthWithoutBundling({ 'bot:chatModel': PROFILE })).toThrow(
      /bot:chatModel must be an OpenAI model name/,
    );
  });
});
