// Retrieve's Lambda handler (`init.handler`): an ES module deployed beside the function's CommonJS bundle
// (`index.js`, built from functions/retrieve.ts), so that Lambda's init waits for the table's preload. Lambda awaits
// an ES module's top-level await before its init ends, and an on-demand function's init runs at a full vCPU (for up to
// 10 s) where its invocations get 0.58 of one at 1,024 MB: the indexes load there, and the first question finds them
// in memory. A provisioned environment's init (bot:retrieveProvisionedConcurrency) waits for all of them. A CommonJS
// module cannot make the init wait. Plain JavaScript (no TypeScript source) because the project compiles TypeScript
// as CommonJS, where a top-level await is not allowed.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const retrieve = require('./index.js');

/**
 * The longest the init waits for the preload, from the process's start. An on-demand init: `RETRIEVE_INIT_WAIT_MS`,
 * 0 to 9,000, 8,000 when unset or not a number: Lambda fails an init past 10 s and runs it again inside the first
 * invocation, so a larger value is held to 9,000. A preload still running then goes on in that invocation, as
 * without this file. An environment of provisioned concurrency (`AWS_LAMBDA_INITIALIZATION_TYPE`
 * `provisioned-concurrency`), whose init Lambda allows 130 s (Lambda developer guide, "Init phase": the 10-s limit
 * does not apply to provisioned concurrency), waits for the whole preload, up to 120 s: no question it serves finds
 * the indexes still loading, however large (Lambda would otherwise freeze the environment with the load half done).
 */
const MAX_INIT_WAIT_MS = 9_000;
const PROVISIONED_INIT_WAIT_MS = 120_000;
const setting = process.env.RETRIEVE_INIT_WAIT_MS?.trim();
const INIT_WAIT_MS = retrieve.isProvisionedEnvironment(process.env)
  ? PROVISIONED_INIT_WAIT_MS
  : setting !== undefined && setting !== '' && Number.isFinite(Number(setting)) && Number(setting) >= 0
    ? Math.min(Number(setting), MAX_INIT_WAIT_MS)
    : 8_000;

// The extension that runs the loads left behind the questions after each answer (functions/core/after-response.ts)
// registers with Lambda here: Lambda takes a registration only during the init. Loopback, a few ms; never rejects.
await retrieve.initAfterResponse?.();

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
