import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createGzip } from 'node:zlib';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import tar from 'tar-stream';
import type { ControlDB } from '../controlplane/schema.js';
import { withClient } from '../db/pg.js';
import { newId } from '../ids.js';
import { baseFile, ensureLayout, type BackupSet } from './location.js';
import { sealToFile } from './sealed-file.js';

export interface BackupDeps {
  control: Kysely<ControlDB>;
  log: Pick<Logger, 'info' | 'error'>;
}

export interface BaseBackup {
  id: string;
  set: string;
  startLsn: string;
  stopLsn: string;
  startWal: string;
  finishedAt: Date;
  bytes: number;
  sha256: string;
}

/**
 * What a base backup leaves out of the data directory, as PostgreSQL's own `pg_basebackup` does: WAL (it comes
 * from the archive), the files of the running server's processes, and directories whose contents are rebuilt
 * at start. The directories themselves are kept, empty, so the restored directory is complete.
 */
const EMPTIED_DIRS = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);
const SKIPPED_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'current_logfiles',
]);

/**
 * Takes a base backup of the server that holds `set`'s regions, with the low-level API (`pg_backup_start`, a
 * copy of the data directory, `pg_backup_stop`): the copy is not consistent by itself, the WAL archived from
 * its start to its stop makes it so, and `pg_backup_stop` waits until that WAL is archived. The copy streams
 * through tar, gzip and the seal into the region's location; nothing of it lands unsealed on disk.
 *
 * This runs where the server's data directory is readable (on the database host, as its owner, or as root):
 * the server names the directory, and the files are read from there. Tablespaces outside the data directory
 * are refused rather than silently left out.
 */
export async function takeBaseBackup(p: BackupDeps, set: BackupSet): Promise<BaseBackup> {
  if (!set.adminUrl) throw new Error(`backup set ${set.name} has no database URL`);
  const id = newId('backup');
  const file = baseFile(set, id);
  await ensureLayout(set);
  await p.control
    .insertInto('backups')
    .values({ id, server: set.server, regions: set.regions.map((r) => r.id), jurisdiction: set.jurisdiction, location: set.dir, file })
    .execute();
  try {
    const backup = await withClient(set.adminUrl, async (c) => {
      const spaces = await c.query<{ n: number }>(
        `select count(*)::int as n from pg_tablespace where spcname not in ('pg_default', 'pg_global')`,
      );
      if (spaces.rows[0]?.n) throw new Error('the server has tablespaces outside its data directory; they are not backed up');
      // pg_backup_stop waits until the backup's last WAL segment is archived: with archiving failing, forever.
      const archiver = await c.query<{ mode: string; failed: string | null }>(
        `select current_setting('archive_mode') as mode,
                case when last_failed_time > coalesce(last_archived_time, '-infinity') then last_failed_wal end as failed
           from pg_stat_archiver`,
      );
      if (archiver.rows[0]?.mode === 'off') throw new Error(`the server ${set.server} does not archive WAL (archive_mode is off)`);
      if (archiver.rows[0]?.failed)
        throw new Error(`WAL archiving on ${set.server} is failing (segment ${archiver.rows[0].failed}); see the server's log`);
      const started = await c.query<{ lsn: string; wal: string; dir: string }>(
        `select lsn::text, pg_walfile_name(lsn) as wal, current_setting('data_directory') as dir
           from pg_backup_start($1, true) as lsn`,
        [`polyclinic ${id}`],
      );
      const { lsn: startLsn, wal: startWal, dir } = started.rows[0]!;
      const pack = tar.pack();
      const sealed = sealToFile(set.key, pack.pipe(createGzip()), file);
      // Surface a failed seal (a full disk) at once rather than when the copy is done.
      sealed.catch(() => pack.destroy());
      try {
        await packDataDirectory(pack, dir);
      } catch (err) {
        await c.query('select pg_backup_stop(false)').catch(() => {});
        pack.destroy();
        throw err;
      }
      const stopped = await c.query<{ lsn: string; labelfile: string; at: Date }>(
        'select lsn::text, labelfile, clock_timestamp() as at from pg_backup_stop(true)',
      );
      const { lsn: stopLsn, labelfile, at } = stopped.rows[0]!;
      pack.entry({ name: 'backup_label', mode: 0o600 }, labelfile);
      pack.finalize();
      const { bytes, sha256 } = await sealed;
      return { id, set: set.name, startLsn, stopLsn, startWal, finishedAt: at, bytes, sha256 };
    });
    await p.control
      .updateTable('backups')
      .set({
        status: 'completed',
        start_lsn: backup.startLsn,
        stop_lsn: backup.stopLsn,
        start_wal: backup.startWal,
        finished_at: backup.finishedAt,
        bytes: backup.bytes,
        sha256: backup.sha256,
      })
      .where('id', '=', id)
      .execute();
    p.log.info({ backupId: id, set: set.name, bytes: backup.bytes }, 'base backup taken');
    return backup;
  } catch (err) {
    await rm(file, { force: true });
    await p.control
      .updateTable('backups')
      .set({ status: 'failed', finished_at: new Date(), error: err instanceof Error ? err.message : String(err) })
      .where('id', '=', id)
      .execute()
      .catch(() => {});
    p.log.error({ err, backupId: id, set: set.name }, 'base backup failed');
    throw err;
  }
}

/**
 * Adds the data directory to the tar. Each file is read whole before its entry is written, since a tar entry
 * declares its size first and a live server's files change while they are copied (WAL replay repairs that).
 * A file removed meanwhile (a dropped table) is simply not there.
 */
async function packDataDirectory(pack: tar.Pack, dir: string): Promise<void> {
  const add = (header: Parameters<tar.Pack['entry']>[0], body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
  const walk = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(path, entry.name);
      const name = relative(dir, full);
      if (entry.isDirectory()) {
        await add({ name: `${name}/`, type: 'directory', mode: 0o700 });
        if (path === dir && EMPTIED_DIRS.has(entry.name)) {
          if (entry.name === 'pg_wal') await add({ name: 'pg_wal/archive_status/', type: 'directory', mode: 0o700 });
          continue;
        }
        await walk(full);
      } else if (entry.isFile()) {
        if (path === dir && SKIPPED_FILES.has(entry.name)) continue;
        if (entry.name.startsWith('pgsql_tmp')) continue;
        let body: Buffer;
        let mode: number;
        try {
          body = await readFile(full);
          mode = (await stat(full)).mode & 0o777;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        await add({ name, mode, size: body.length }, body);
      }
    }
  };
  await walk(dir);
}
