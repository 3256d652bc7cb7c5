import { spawnSync } from 'node:child_process';
import { PLATFORM_NODE_FLAGS } from '../src/platform/node-flags.js';

/**
 * A benchmark that runs the platform in its own process runs it under the API node's V8 flags
 * (`src/platform/node-flags.ts`), as `npm start` does: imported first, this module starts the benchmark again
 * with them when they are missing. The bare baseline shares the process, so both sides of a ratio run under the
 * same flags. `BENCH_NODE_FLAGS=default` keeps V8's defaults instead (for the figures without them).
 */
const wanted = process.env.BENCH_NODE_FLAGS === 'default' ? [] : PLATFORM_NODE_FLAGS;
const missing = wanted.filter((f) => !process.execArgv.includes(f));
if (missing.length) {
  const child = spawnSync(process.execPath, [...process.execArgv, ...missing, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
export const nodeFlags = wanted.length ? wanted.join(' ') : 'V8 defaults';
