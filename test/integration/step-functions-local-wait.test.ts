import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../stand-ins/aws/step-functions-local';
import { temporaryDirectory } from '../support/local-stack';

/**
 * `waitForIdle` while fewer executions than asked for have started and none is running: what a slow machine shows
 * when the last acks are still starting theirs. The wait must leave the event loop free for those starts; a wait
 * that loops on settled promises alone starves them and piles up a timer each pass (load.test.ts grew to a 4 GB
 * heap so under CPU contention).
 */
describe('the local Step Functions waitForIdle', () => {
  let sfn: LocalStepFunctions;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    const dir = await temporaryDirectory('slack-rag-sfn-wait-');
    remove = dir.remove;
    const file = join(dir.path, 'pass.asl.json');
    await writeFile(file, JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } }));
    sfn = await startLocalStepFunctions({ machines: [{ name: 'pass', definitionFile: file, handlers: {} }] });
  });
  afterAll(async () => {
    await sfn.close();
    await remove();
  });

  const startOne = () =>
    fetch(sfn.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AWSStepFunctions.StartExecution',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: JSON.stringify({ stateMachineArn: sfn.arnOf('pass'), input: '{}' }),
    });

  it('lets an execution started later through the event loop (a timer, then HTTP) be waited for', async () => {
    // Arrange: nothing runs yet; the start comes after a timer, as the last ack's StartExecution does on a slow machine.
    const before = sfn.executions.length;
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
      void startOne();
    }, 50);

    // Act
    const executions = await sfn.waitForIdle({ count: before + 1, timeoutMs: 5_000 });

    // Assert
    expect(timerRan).toBe(true);
    expect(executions).toHaveLength(before + 1);
    expect(executions.every((e) => e.status === 'SUCCEEDED')).toBe(true);
  });

  it('gives up at its deadline, having let timers run meanwhile, when the executions never come', async () => {
    // Arrange
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks += 1;
    }, 10);

    // Act
    const waited = sfn.waitForIdle({ count: sfn.executions.length + 1, timeoutMs: 300 });

    // Assert
    await expect(waited).rejects.toThrow(/timed out waiting for executions/);
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(0);
  });
});
