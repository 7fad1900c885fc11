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
