import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type LocalObjectStore,
  type LocalStepFunctions,
  startLocalStepFunctions,
  type TaskHandler,
} from '../../stand-ins/aws/step-functions-local';
import { temporaryDirectory } from '../support/local-stack';

/**
 * The local Step Functions stand-in's Distributed Map, on a small definition of its own: what a workflow author
 * relies on (items from S3, ItemBatcher, MaxConcurrency, the failure threshold, ResultWriter) holds as in AWS.
 */

function definition(map: Record<string, unknown>) {
  return {
    StartAt: 'Fan out',
    States: {
      'Fan out': {
        Type: 'Map',
        Label: 'FanOut',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.bucket', Key: 'items.json' },
        },
        ItemSelector: { 'n.$': '$$.Map.Item.Value', 'run.$': '$$.Execution.Name', 'tag.$': '$.tag' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'Work',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an ASL placeholder, substituted by the stand-in
          States: { Work: { Type: 'Task', Resource: '${WorkFunctionArn}', End: true } },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { 'Bucket.$': '$.bucket', Prefix: 'out' },
        },
        ResultPath: '$.run',
        End: true,
        ...map,
      },
    },
  };
}

class MemoryObjects implements LocalObjectStore {
  readonly objects = new Map<string, string>();
  async get(bucket: string, key: string) {
    const body = this.objects.get(`${bucket}/${key}`);
    return body === undefined ? undefined : Buffer.from(body);
  }
  async put(bucket: string, key: string, body: string) {
    this.objects.set(`${bucket}/${key}`, body);
  }
}

async function start(map: Record<string, unknown>, work: TaskHandler, items: unknown[]) {
  const dir = await temporaryDirectory('slack-rag-dmap-');
  const file = join(dir.path, 'fan-out.asl.json');
  await writeFile(file, JSON.stringify(definition(map)));
  const objects = new MemoryObjects();
  await objects.put('bucket', 'items.json', JSON.stringify(items));
  const sfn: LocalStepFunctions = await startLocalStepFunctions({
    machines: [{ name: 'fan-out', definitionFile: file, handlers: { WorkFunctionArn: work } }],
    objects,
  });
  const run = async () => {
    const response = await fetch(sfn.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AWSStepFunctions.StartExecution',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: JSON.stringify({
        stateMachineArn: sfn.arnOf('fan-out'),
        input: JSON.stringify({ bucket: 'bucket', tag: 't' }),
      }),
    });
    const { executionArn } = (await response.json()) as { executionArn: string };
    const record = sfn.executions.find((e) => e.executionArn === executionArn);
    await record?.done;
    if (record === undefined) throw new Error('no execution');
    return record;
  };
  return {
    objects,
    run,
    close: async () => {
      await sfn.close();
      await dir.remove();
    },
  };
}

describe('the local Distributed Map', () => {
  it('batches the items read from S3 per ItemBatcher, runs at most MaxConcurrency children at once, and writes every child to the results', async () => {
    // Arrange
    let running = 0;
    let most = 0;
    const seen: unknown[] = [];
    const work: TaskHandler = async (input) => {
      running += 1;
      most = Math.max(most, running);
      seen.push(input);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running -= 1;
      return { done: (input as { Items: unknown[] }).Items.length };
    };
    const items = Array.from({ length: 7 }, (_, i) => i);
    const local = await start({ ItemBatcher: { MaxItemsPerBatch: 2 }, MaxConcurrency: 2 }, work, items);
    try {
      // Act
      const execution = await local.run();

      // Assert
      expect(execution.status).toBe('SUCCEEDED');
      expect(execution.children).toHaveLength(4);
      expect(most).toBe(2);
      expect(seen[0]).toEqual({ Items: [0, 1].map((n) => ({ n, run: execution.name, tag: 't' })) });
      expect(seen.map((input) => (input as { Items: unknown[] }).Items.length).sort()).toEqual([1, 2, 2, 2]);
      const output = execution.output as { run: { MapRunArn: string; ResultWriterDetails: { Key: string } } };
      expect(output.run.MapRunArn).toMatch(/^arn:aws:states:[^:]+:\d+:mapRun:fan-out\/FanOut:/);
      const manifest = JSON.parse(
        local.objects.objects.get(`bucket/${output.run.ResultWriterDetails.Key}`) ?? '{}',
      );
      const succeeded = JSON.parse(
        local.objects.objects.get(`bucket/${manifest.ResultFiles.SUCCEEDED[0].Key}`) ?? '[]',
      );
      expect(succeeded).toHaveLength(4);
      expect(succeeded.map((c: { Output: string }) => JSON.parse(c.Output).done).sort()).toEqual([
        1, 2, 2, 2,
      ]);
    } finally {
      await local.close();
    }
  });

  it('tolerates failed children up to ToleratedFailurePercentage and fails the Map Run past it', async () => {
    // Arrange: one item in ten fails, then two in ten.
    let failing = new Set([3]);
    const work: TaskHandler = async (input) => {
      if (failing.has((input as { n: number }).n))
        throw Object.assign(new Error('boom'), { name: 'WorkError' });
      return 'ok';
    };
    const items = Array.from({ length: 10 }, (_, i) => i);
    const local = await start({ ToleratedFailurePercentage: 10 }, work, items);
    try {
      // Act
      const tolerated = await local.run();
      failing = new Set([3, 7]);
      const exceeded = await local.run();

      // Assert
      expect(tolerated.status).toBe('SUCCEEDED');
      expect(tolerated.children.filter((c) => c.status === 'FAILED')).toHaveLength(1);
      expect(exceeded.status).toBe('FAILED');
      expect(exceeded.cause).toMatch(/failed: 2 of its 10 items/);
    } finally {
      await local.close();
    }
  });
});
