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
