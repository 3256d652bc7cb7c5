import { createWriteStream } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import tar from 'tar-stream';
import { AppError } from '../errors.js';
import { archivedWal } from './wal-archive.js';
import { walDir, walFile, type BackupSet } from './location.js';
import { chownTree, freePort, pgBinaries, runPg, serverOwner, type ServerOwner } from './pg-server.js';
import { openSealed, unsealToFile } from './sealed-file.js';

/**
 * A scratch PostgreSQL server recovered from a base backup to a point in time: what a per-clinic restore reads
 * the clinic's rows from. It lives in a private temporary directory on this host, listens on 127.0.0.1 only,
 * archives nothing (a recovered copy writing WAL into the region's archive would fork its history), and is
 * removed with its directory when the restore is done, whatever happened.
 *
 * Recovery replays the archived WAL (opened into the scratch directory, since PostgreSQL's `restore_command`
 * is a shell command) up to the last transaction that committed at or before `targetTime`, then promotes.
 * When the archive ends before that time, PostgreSQL stops with "recovery ended before configured recovery
 * target was reached", and so does the restore.
 */
export interface RecoveredServer {
  port: number;
  /** `adminUrl` of the live server, pointed at this one (same roles and passwords: they came with the backup). */
  url(adminUrl: string, database?: string): string;
  stop(): Promise<void>;
}

export async function startRecoveredServer(opts: {
  set: BackupSet;
  backup: { id: string; file: string; startWal: string };
  targetTime: Date;
  binDir: string | undefined;
  /** The live server's admin URL: its roles and passwords came with the backup. */
  adminUrl: string;
}): Promise<RecoveredServer> {
  const bins = await pgBinaries(opts.binDir);
  const owner = await serverOwner();
  const scratch = await mkdtemp(join(tmpdir(), 'polyclinic-restore-'));
  const data = join(scratch, 'data');
  const wal = join(scratch, 'wal');
  const log = join(scratch, 'server.log');
  let started = false;
  let port = 0;
  try {
    await mkdir(data, { mode: 0o700 });
    await mkdir(wal, { mode: 0o700 });
    await extractBase(opts.set.key, opts.backup.file, data);
    for (const name of await archivedWal(walDir(opts.set))) {
      const segment = /^[0-9A-F]{24}$/.test(name);
      if ((segment && name >= opts.backup.startWal) || name.endsWith('.history'))
        await unsealToFile(opts.set.key, walFile(opts.set, name), join(wal, name));
    }
    port = await freePort();
    const q = (v: string) => `'${v.replace(/'/g, "''")}'`;
    await appendFile(
      join(data, 'postgresql.auto.conf'),
      [
        '',
        '# polyclinic restore: a private scratch server',
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = ''`,
        `archive_mode = off`,
        // Thrown away after the restore: nothing it writes needs to survive a crash.
        `fsync = off`,
        `hot_standby = off`,
        `primary_conninfo = ''`,
        `synchronous_standby_names = ''`,
        `logging_collector = off`,
        `restore_command = ${q(`cp "${wal}/%f" "%p"`)}`,
        `recovery_target_time = ${q(opts.targetTime.toISOString().replace('T', ' ').replace('Z', '+00'))}`,
        `recovery_target_action = 'promote'`,
        '',
      ].join('\n'),
    );
    await writeFile(join(data, 'recovery.signal'), '');
    await chmod(data, 0o700);
    await chownTree(scratch, owner);
    started = true;
    try {
      await runPg(bins.pgCtl, ['start', '-w', '-t', '300', '-D', data, '-l', log], owner);
    } catch (err) {
      const text = await readFile(log, 'utf8').catch(() => '');
      if (/recovery ended before configured recovery target was reached/.test(text))
        throw new AppError(
          409,
          'restore_target_unreachable',
          `The archive of ${opts.set.name} ends before ${opts.targetTime.toISOString()}: nothing was restored`,
        );
      throw new Error(`the scratch server did not start: ${lastLines(text) || (err as Error).message}`);
    }
    await untilPromoted(urlOf(opts.adminUrl, port), log);
  } catch (err) {
    await stopAndRemove(bins.pgCtl, data, scratch, owner, started);
    throw err;
  }
  return {
    port,
    url: (adminUrl, database) => urlOf(adminUrl, port, database),
    stop: () => stopAndRemove(bins.pgCtl, data, scratch, owner, true),
  };
}

function urlOf(adminUrl: string, port: number, database?: string): string {
  const u = new URL(adminUrl);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  if (database) u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function stopAndRemove(pgCtl: string, data: string, scratch: string, owner: ServerOwner | undefined, running: boolean) {
  if (running) await runPg(pgCtl, ['stop', '-m', 'immediate', '-w', '-D', data], owner).catch(() => {});
  await rm(scratch, { recursive: true, force: true });
}

/** Opens a sealed base backup into `data`; entries that would land outside it are refused. */
async function extractBase(key: Buffer, file: string, data: string): Promise<void> {
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const name = normalize(entry.header.name);
      if (isAbsolute(name) || name.startsWith('..')) throw new Error(`base backup entry outside the data directory: ${name}`);
      const path = join(data, name);
      if (entry.header.type === 'directory') {
        await mkdir(path, { recursive: true, mode: 0o700 });
        entry.resume();
      } else {
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await pipeline(entry, createWriteStream(path, { mode: entry.header.mode ?? 0o600 }));
      }
    }
  })();
  await Promise.all([pipeline(await openSealed(key, file), createGunzip(), extract), done]);
}

/**
 * pg_ctl returns once the postmaster is up; recovery may still be replaying (connections are refused until it
 * promotes, since hot standby is off). Waits for the promotion, or for the server to give up.
 */
async function untilPromoted(url: string, log: string): Promise<void> {
  for (let waited = 0; ; waited += 200) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      const r = await client.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
      if (!r.rows[0]?.recovering) return;
    } catch {
      // starting up, or gone: the log says which
    } finally {
      await client.end().catch(() => {});
    }
    const text = await readFile(log, 'utf8').catch(() => '');
    if (/recovery ended before configured recovery target was reached/.test(text))
      throw new AppError(409, 'restore_target_unreachable', 'The archive ends before the restore time: nothing was restored');
    if (
      /FATAL|PANIC/.test(text.replace(/FATAL:\s+the database system is (starting up|not (yet )?accepting connections)/g, '')) ||
      waited > 300_000
    )
      throw new Error(`the scratch server did not recover: ${lastLines(text)}`);
    await sleep(200);
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ');
}
