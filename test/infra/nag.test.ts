import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { buildWithoutBundling, synthWithoutBundling } from './synth';

interface Acknowledged {
  path: string;
  id: string;
  reason: string;
}

/** Every `Validations.of(x).acknowledge(...)` in the tree, where it was made and why. */
function acknowledgements(root: IConstruct): Acknowledged[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

function findings(root: IConstruct): { id: string; path: string }[] {
  const report = new AwsSolutionsChecks(root).validateScope(root);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })),
  );
}

describe('cdk-nag AWS Solutions checks', () => {
  const { stack } = synthWithoutBundling();

  it('find nothing that is not acknowledged', () => {
    expect(findings(stack)).toEqual([]);
  });

  it('acknowledge each finding with a reason, and only findings that would otherwise be reported', () => {
    const acks = acknowledgements(stack);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);

    // The same stack with acknowledgements ignored: each one must be needed where it was made.
    const spy = jest.spyOn(Validations.prototype, 'acknowledge').mockImplementation(() => undefined);
    let unacknowledged: { id: string; path: string }[];
    try {
      unacknowledged = findings(buildWithoutBundling().stack);
    } finally {
      spy.mockRestore();
    }
    for (const ack of acks) {
      const matching = unacknowledged.filter((f) => f.id === ack.id && f.path.startsWith(`${ack.path}/`));
      expect({ ...ack, matches: matching.length > 0 }).toEqual({ ...ack, matches: true });
    }
    // And nothing was acknowledged wholesale: only these rules, each for a stated reason.
    expect([...new Set(acks.map((a) => a.id.replace(/\[.*$/, '')))].sort()).toEqual([
      'AwsSolutions-IAM5',
      'AwsSolutions-SMG4',
    ]);
  });

  it('acknowledge SF1 only for a state machine set to log its failures alone (bot:*ExecutionLog=errors)', () => {
    const { stack } = synthWithoutBundling({ 'bot:conversationExecutionLog': 'errors' });
    expect(findings(stack)).toEqual([]);
    expect(acknowledgements(stack).filter((a) => a.id === 'AwsSolutions-SF1')).toHaveLength(1);
  });
});

describe('the app', () => {
  it('stops the synth on a finding nobody acknowledged', () => {
    const { app, stack } = buildWithoutBundling({ 'bot:stackName': 'NagProbe' });
    new s3.Bucket(stack, 'BucketWithoutLogsOrTls');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1'[\s\S]*AwsSolutions-S10'/);
  });
});

describe('extra origins of the scheduled sync (bot:ingestOrigins)', () => {
  const origins = ['s3://wiki-export/pages/', 'https://docs.example.internal/handbook/'];
  const { stack, template } = synthWithoutBundling({ 'bot:ingestOrigins': origins });

  it('reach the Plan function beside the documents bucket, with read access to the S3 prefix only', () => {
    const plan = Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
      JSON.stringify(fn.Properties.Environment?.Variables?.INGEST_ORIGINS ?? '').includes('wiki-export'),
    );
    const value = JSON.stringify(plan?.Properties.Environment.Variables.INGEST_ORIGINS);
    expect(value).toContain(',s3://wiki-export/pages/,https://docs.example.internal/handbook/');
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).toContain('wiki-export/pages/*');
  });

  it('leave no finding unacknowledged', () => {
    expect(findings(stack)).toEqual([]);
  });
});

describe('an extra origin that declares a collection (bot:ingestOrigins)', () => {
  const { template } = synthWithoutBundling({
    'bot:ingestOrigins': [{ uri: 's3://wiki-export/hr/', collection: 'hr' }],
  });

  it('reaches the Plan function as a JSON INGEST_ORIGINS, with read access to its S3 prefix', () => {
    const plan = Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
      JSON.stringify(fn.Properties.Environment?.Variables?.INGEST_ORIGINS ?? '').includes('wiki-export'),
    );
    const value = JSON.stringify(plan?.Properties.Environment.Variables.INGEST_ORIGINS);
    expect(value).toContain('{\\"uri\\":\\"s3://wiki-export/hr/\\",\\"collection\\":\\"hr\\"}]');
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).toContain('wiki-export/hr/*');
  });
});
