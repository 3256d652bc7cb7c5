import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClinicPoolerTarget } from '../../src/config/regions.js';
import { withClient } from '../../src/db/pg.js';
import { POOLER_AUTH_QUERY } from '../../src/tenancy/pooler-logins.js';
import { freePort } from './ports.js';
import { postgresIds, serversDir } from './pg-servers.js';

/** Debian's PgBouncer (`apt-get install pgbouncer`; `.ci/run` installs it). */
export const PGBOUNCER = '/usr/sbin/pgbouncer';
export const pgbouncerInstalled = existsSync(PGBOUNCER);

export interface PgBouncer {
  port: number;
  /** `host:port`, as `POLYCLINIC_REGION_<ID>_CLINIC_POOLER` takes it. */
  address: string;
  /** Its admin console and the `[databases]` include file, as the platform's repointing takes them. */
  target: ClinicPoolerTarget;
  /** `_CLINIC_POOLER`, `_CLINIC_POOLER_CONSOLE_URL` and `_CLINIC_POOLER_DATABASES_FILE` of `region`. */
  env(region: string): NodeJS.ProcessEnv;
  /** The operator's one-time step: the `auth_user`'s own login in the `auth_file` (then RELOAD). */
  authUser(user: string, password: string): Promise<void>;
  /** `SHOW <what>` on its admin console. */
  show(what: 'pools' | 'servers' | 'clients' | 'databases'): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/**
 * A PgBouncer in transaction mode in front of `server` (`host:port`), every database, a server pool of
 * `poolSize` per database and user, set up as docs/operations.md says: clinic logins through `auth_query`
 * (`tenancy/pooler-logins.ts`), `[databases]` from an include file the platform rewrites. Until the platform has
 * written that file (at its start) the wildcard entry names no `auth_user`. As root it runs as `postgres`
 * (PgBouncer refuses to run as root).
 */
export async function startPgBouncer(server: { host: string; port: number }, poolSize = 1): Promise<PgBouncer> {
  const dir = await serversDir();
  const port = await freePort();
  const ids = await postgresIds();
  const admin = { user: 'pgbouncer_admin', password: 'pgbouncer-admin-password' };
  const owned = (file: string, content: string) => {
    writeFileSync(file, content);
    if (ids) chownSync(file, ids.uid, ids.gid);
  };
  const authFile = join(dir, 'users.txt');
  const writeUsers = (users: Record<string, string>) =>
    owned(
      authFile,
      Object.entries({ ...users, [admin.user]: admin.password })
        .map(([u, p]) => `"${u}" "${p}"\n`)
        .join(''),
    );
  writeUsers({});
  const databasesFile = join(dir, 'databases.ini');
  owned(databasesFile, `* = host=${server.host} port=${server.port}\n`);
  const ini = join(dir, 'pgbouncer.ini');
  owned(
    ini,
    [
      '[databases]',
      `%include ${databasesFile}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${authFile}`,
      `auth_query = ${POOLER_AUTH_QUERY}`,
      `admin_users = ${admin.user}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 200',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(PGBOUNCER, [ini], { stdio: 'ignore', ...(ids ?? {}) });
  const consoleUrl = `postgres://${admin.user}:${admin.password}@127.0.0.1:${port}/pgbouncer`;
  const onConsole = <T>(fn: (c: { query(q: string): Promise<{ rows: T[] }> }) => Promise<T>) => withClient(consoleUrl, fn);
  await until(() => onConsole((c) => c.query('show version')), child);
  const target = { consoleUrl, databasesFile };
  return {
    port,
    address: `127.0.0.1:${port}`,
    target,
    env: (region) => {
      const prefix = `POLYCLINIC_REGION_${region.toUpperCase().replace(/-/g, '_')}_CLINIC_POOLER`;
      return { [prefix]: `127.0.0.1:${port}`, [`${prefix}_CONSOLE_URL`]: consoleUrl, [`${prefix}_DATABASES_FILE`]: databasesFile };
    },
    async authUser(user, password) {
      writeUsers({ [user]: password });
      await onConsole((c) => c.query('RELOAD'));
    },
    async show(what) {
      return withClient(consoleUrl, async (c) => (await c.query(`show ${what}`)).rows);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(attempt: () => Promise<unknown>, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const err = await attempt().then(
      () => undefined,
      (e: Error) => e,
    );
    if (!err) return;
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw err;
    await new Promise((r) => setTimeout(r, 50));
  }
}
