import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withClient } from '../../src/db/pg.js';
import { freePort } from './ports.js';
import { postgresIds, serversDir } from './pg-servers.js';

/** Debian's PgBouncer (`apt-get install pgbouncer`; `.ci/run` installs it). */
export const PGBOUNCER = '/usr/sbin/pgbouncer';
export const pgbouncerInstalled = existsSync(PGBOUNCER);

export interface PgBouncer {
  port: number;
  /** `host:port`, as `POLYCLINIC_REGION_<ID>_CLINIC_POOLER` takes it. */
  address: string;
  /** Sets the logins it knows (role → password) and reloads; resolves once `probe` logs in through it. */
  logins(users: Record<string, string>, probe: { user: string; database: string }): Promise<void>;
  /** `SHOW <what>` on its admin console. */
  show(what: 'pools' | 'servers' | 'clients'): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/**
 * A PgBouncer in transaction mode in front of `server` (`host:port`), every database, a server pool of
 * `poolSize` per database and user. As root it runs as `postgres` (PgBouncer refuses to run as root).
 */
export async function startPgBouncer(server: { host: string; port: number }, poolSize = 1): Promise<PgBouncer> {
  const dir = await serversDir();
  const port = await freePort();
  const ids = await postgresIds();
  const admin = { user: 'pgbouncer_admin', password: 'pgbouncer-admin-password' };
  const authFile = join(dir, 'users.txt');
  const writeUsers = (users: Record<string, string>) => {
    const all = { ...users, [admin.user]: admin.password };
    writeFileSync(
      authFile,
      Object.entries(all)
        .map(([u, p]) => `"${u}" "${p}"\n`)
        .join(''),
    );
    if (ids) chownSync(authFile, ids.uid, ids.gid);
  };
  writeUsers({});
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${server.host} port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${authFile}`,
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
  if (ids) chownSync(ini, ids.uid, ids.gid);
  const child: ChildProcess = spawn(PGBOUNCER, [ini], { stdio: 'ignore', ...(ids ?? {}) });
  const consoleUrl = `postgres://${admin.user}:${admin.password}@127.0.0.1:${port}/pgbouncer`;
  await until(() => withClient(consoleUrl, (c) => c.query('show version')), child);
  return {
    port,
    address: `127.0.0.1:${port}`,
    async logins(users, probe) {
      writeUsers(users);
      process.kill(child.pid!, 'SIGHUP');
      const url = `postgres://${encodeURIComponent(probe.user)}:${encodeURIComponent(users[probe.user]!)}@127.0.0.1:${port}/${probe.database}`;
      await until(() => withClient(url, (c) => c.query('select 1')), child);
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
