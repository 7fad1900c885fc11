import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findArm64Binary, LanceDbRuntimeError } from '../../infra/lancedb-runtime';
import { REPO_ROOT } from './synth';

describe('the LanceDB arm64 binary check', () => {
  let root: string;
  beforeEach(() => {
    // A repository with LanceDB installed but without `npm run lambda:native` having run.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'lancedb-runtime-'));
    fs.mkdirSync(path.join(root, 'node_modules', '@lancedb'), { recursive: true });
    fs.symlinkSync(
      path.join(REPO_ROOT, 'node_modules', '@lancedb', 'lancedb'),
      path.join(root, 'node_modules', '@lancedb', 'lancedb'),
    );
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('fails when the binary was not fetched, naming the command that fetches it', () => {
    expect(() => findArm64Binary(root)).toThrow(LanceDbRuntimeError);
    expect(() => findArm64Binary(root)).toThrow(
      /linux-arm64 LanceDB binary .* is missing.*npm run lambda:native/,
    );
  });

  it('fails when the binary is not an AArch64 one (the x64 build copied by mistake)', () => {
    const dir = path.join(root, '.lambda-native', 'node_modules', '@lancedb', 'lancedb-linux-arm64-gnu');
    fs.mkdirSync(dir, { recursive: true });
    const version = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'node_modules', '@lancedb', 'lancedb', 'package.json'), 'utf8'),
    ).version;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', version }));
    // An x86-64 ELF header: e_machine 62.
    const header = Buffer.alloc(64);
    header.writeUInt32BE(0x7f454c46, 0);
    header.writeUInt16LE(62, 18);
    fs.writeFileSync(path.join(dir, 'lancedb.linux-arm64-gnu.node'), header);
    expect(() => findArm64Binary(root)).toThrow(
      /is not a linux-arm64 \(AArch64 ELF\) binary.*npm run lambda:native/,
    );
  });

  it('fails when the binary is another version than the installed @lancedb/lancedb', () => {
    const dir = path.join(root, '.lambda-native', 'node_modules', '@lancedb', 'lancedb-linux-arm64-gnu');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '0.0.1' }));
    fs.writeFileSync(path.join(dir, 'lancedb.linux-arm64-gnu.node'), '');
    expect(() => findArm64Binary(root)).toThrow(
      /0\.0\.1 in \.lambda-native does not match @lancedb\/lancedb/,
    );
  });
});

describe('the check that a function without the layer does not load LanceDB', () => {
  const script = path.join(REPO_ROOT, 'infra', 'check-no-lancedb.cts');
  const run = (imports: Record<string, { path: string; kind: string; external?: boolean }[]>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-no-lancedb-'));
    const metafile = path.join(dir, 'index.meta.json');
    fs.writeFileSync(
      metafile,
      JSON.stringify({
        inputs: Object.fromEntries(Object.entries(imports).map(([file, list]) => [file, { imports: list }])),
        outputs: { 'index.js': { entryPoint: 'functions/step.ts' } },
      }),
    );
    const result = spawnSync(process.execPath, [script, metafile], { encoding: 'utf8' });
    const left = fs.existsSync(metafile);
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status, stderr: result.stderr, metafileLeft: left };
  };

  it('fails on a static import chain to LanceDB, printing it', () => {
    const result = run({
      'functions/step.ts': [{ path: 'functions/core/services.ts', kind: 'import-statement' }],
      'functions/core/services.ts': [{ path: '@lancedb/lancedb', kind: 'import-statement', external: true }],
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('functions/step.ts → functions/core/services.ts → @lancedb/lancedb');
    expect(result.stderr).toContain('usesLanceDb: false');
    expect(result.metafileLeft).toBe(false);
  });

  it('lets a dynamic import of LanceDB through: it loads only when called', () => {
    const result = run({
      'functions/step.ts': [{ path: 'functions/core/connect.ts', kind: 'dynamic-import' }],
      'functions/core/connect.ts': [{ path: '@lancedb/lancedb', kind: 'import-statement', external: true }],
    });
    expect(result).toEqual({ status: 0, stderr: '', metafileLeft: false });
  });
});
