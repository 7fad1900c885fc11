/**
 * Runs in every test file (jest.config.js, setupFilesAfterEnv). A CDK `App` given no `outdir` synthesizes into a new
 * `cdk.outXXXXXX` folder under the system's temporary directory and never removes it, so every synth of the infra
 * tests left one behind (1,285 of them on a machine after a day of runs). `CDK_OUTDIR`, which the App reads when
 * it is given none, points them at one folder per test file instead, removed when the file's tests end. The
 * test files synthesize one app at a time, so sharing the folder is safe; a test that needs its own passes `outdir`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const outdir = mkdtempSync(join(tmpdir(), 'slack-rag-bot-cdk-out-'));
const before = process.env.CDK_OUTDIR;
process.env.CDK_OUTDIR = outdir;

afterAll(() => {
  if (before === undefined) delete process.env.CDK_OUTDIR;
  else process.env.CDK_OUTDIR = before;
  rmSync(outdir, { recursive: true, force: true });
});
