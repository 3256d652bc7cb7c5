import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { regionUrlVariable } from '../../src/config/variables.js';
import type { ResolvedConfig } from '../../src/platform/platform.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a CLI process needs to reach the same deployment as a test platform (and nothing else). */
export function cliEnv(c: ResolvedConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POLYCLINIC_')));
  Object.assign(env, {
    POLYCLINIC_INSTANCE: c.instance,
    POLYCLINIC_SECRET: c.secret,
    POLYCLINIC_CONTROL_DATABASE_URL: c.controlDatabaseUrl,
    POLYCLINIC_LOG_LEVEL: 'silent',
    // The platform's own count: a `migrate` run keeps its spares, and builds none where it keeps none.
    POLYCLINIC_SPARE_STORES: String(c.spareStores),
  });
  for (const r of c.regions) env[regionUrlVariable(r.id)] = r.databaseUrl;
  return env;
}

/** Runs the real `polyclinic` CLI as a child process. */
export function runCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return runNode(['--import', 'tsx', 'src/cli.ts', ...args], env);
}

/** Runs `node` with `args` in the repository root, as a child process, and collects its output. */
export function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The files of a clinic export (`.tar.gz`), by name. */
export async function untar(gz: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from(gunzipSync(gz)).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    files.set(entry.header.name, Buffer.concat(chunks));
  }
  return files;
}

export async function untarText(gz: Buffer): Promise<Map<string, string>> {
  return new Map([...(await untar(gz))].map(([name, body]) => [name, body.toString('utf8')]));
}
