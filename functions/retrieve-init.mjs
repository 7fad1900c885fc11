// Retrieve's Lambda handler (`init.handler`): an ES module deployed beside the function's CommonJS bundle
// (`index.js`, built from functions/retrieve.ts), so that Lambda's init waits for the table's preload. Lambda awaits
// an ES module's top-level await before its init ends, and an on-demand function's init runs at a full vCPU (for up to
// 10 s) where its invocations get 0.58 of one at 1,024 MB: the indexes load there, and the first question finds them
// in memory. A CommonJS module cannot make the init wait. Plain JavaScript (no TypeScript source) because
// the project compiles TypeScript as CommonJS, where a top-level await is not allowed.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const retrieve = require('./index.js');

/**
 * The longest the init waits for the preload, from the process's start: Lambda fails an init past 10 s and runs it
 * again inside the first invocation. A preload still running then goes on in that invocation, as without this file.
 */
const INIT_WAIT_MS = Number(process.env.RETRIEVE_INIT_WAIT_MS) || 8_000;

const preload = retrieve.initPreload?.();
if (preload !== undefined) {
  let timer;
  const budget = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, INIT_WAIT_MS - process.uptime() * 1_000));
  });
  // The preload never rejects: a failure is logged and the first question opens the table again.
  await Promise.race([preload, budget]);
  clearTimeout(timer);
}

export const handler = retrieve.handler;
