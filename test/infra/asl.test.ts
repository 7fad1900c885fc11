import * as fs from 'node:fs';
import * as path from 'node:path';
import aslValidator from 'asl-validator';
import { conversationFunctions } from '../../functions/conversation-functions';
import { ingestFunctions } from '../../functions/ingest-functions';
import { placeholdersOf } from '../../infra/workflow';
import { REPO_ROOT } from './synth';

const files = [
  { file: 'statemachine/conversation.asl.json', registry: conversationFunctions },
  { file: 'statemachine/ingest.asl.json', registry: ingestFunctions },
];

describe.each(files)('$file', ({ file, registry }) => {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

  it('is valid Amazon States Language as written, placeholder resources included', () => {
    const result = aslValidator(JSON.parse(text), { checkPaths: true, checkArn: true });
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('is valid with Lambda ARNs in place of its placeholders, as CloudFormation deploys it', () => {
    expect(placeholdersOf(text)).toEqual(Object.keys(registry).sort());
    const substituted = text.replace(
      /\$\{([A-Za-z0-9_]+)\}/g,
      (_, name: string) =>
        `arn:aws:lambda:eu-west-1:123456789012:function:${name.replace(/FunctionArn$/, '')}`,
    );
    const result = aslValidator(JSON.parse(substituted), { checkPaths: true, checkArn: true });
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });
});

describe('the validator', () => {
  it('rejects a definition whose transition leads nowhere, so the checks above are not vacuous', () => {
    const definition = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, files[0]?.file ?? ''), 'utf8'));
    definition.States['Load history'].Next = 'A state that does not exist';
    expect(aslValidator(definition, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });
});

describe('the ingest definition', () => {
  const definition = JSON.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'statemachine/ingest.asl.json'), 'utf8'),
  );
  const embed = definition.States['Embed changed documents'];

  it('embeds in a Distributed Map of Standard child executions, reading its items from and writing its results to S3', () => {
    expect(embed.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(embed.ItemReader).toMatchObject({
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { 'Bucket.$': '$.plan.items.bucket', 'Key.$': '$.plan.items.key' },
    });
    expect(embed.ItemBatcher).toMatchObject({ MaxItemsPerBatchPath: '$.plan.batchesPerChild' });
    expect(embed.ResultWriter).toMatchObject({ Resource: 'arn:aws:states:::s3:putObject' });
    expect(embed.MaxConcurrencyPath).toBe('$.plan.concurrency');
    expect(embed.ToleratedFailurePercentage).toBeGreaterThan(0);
    // A Map Run that fails past its tolerance must fail the execution there, holding the lock and the staged rows,
    // so that RedriveExecution runs again only its unsuccessful children; a Catch would release and clean up.
    expect(embed.Catch).toBeUndefined();
  });

  it('is refused by the validator with a tolerated failure percentage over 100, so the check above is not vacuous', () => {
    const broken = structuredClone(definition);
    broken.States['Embed changed documents'].ToleratedFailurePercentage = 150;
    expect(aslValidator(broken, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });
});
