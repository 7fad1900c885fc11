#!/usr/bin/env node
// Runs first in every npm script (package.json), before anything that needs Node 24 is loaded: on an older Node,
// tsx, jest and undici fail later with errors that never name the version. Plain CommonJS with no dependencies,
// so that it runs and speaks on any Node from 16 on.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
const wanted = String(pkg.engines?.node ?? '>=24');
const required = Number(/(\d+)/.exec(wanted)?.[1] ?? 24);
const found = process.versions.node;

if (Number(found.split('.')[0]) < required) {
  process.stderr.write(
    `Node ${required} or newer is needed (package.json engines "${wanted}"); this is Node ${found} ` +
      `(${process.execPath}). Run \`nvm use\` or \`fnm use\` (.nvmrc), or put Node ${required} first on PATH.\n`,
  );
  process.exit(1);
}
