import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { backupDirectory, backupServer } from '../config/backups.js';
import type { RegionConfig } from '../config/regions.js';
import { regionBackupKey } from './sealed-file.js';

/**
 * What is backed up together, and where. PostgreSQL archives WAL per server, and a server's WAL holds every
 * database on it, so the unit of a backup is a server: the regions whose stores it holds (the config loader has
 * already refused a server shared across jurisdictions, or regions of one server with different locations or
 * keys). The first of them in `POLYCLINIC_REGIONS` names the set and gives its key; the strictest retention of
 * them applies, so no copy outlives what any of its regions allows.
 *
 *   <location>/base/<backup id>.tar.gz.sealed   a base backup: the data directory as a tar, gzipped, sealed
 *   <location>/wal/<segment>.sealed             archived WAL segments and timeline history files, sealed
 */
export interface BackupSet {
  /** The first region's id: the name the CLI and the API use for the set. */
  name: string;
  server: string;
  regions: RegionConfig[];
  jurisdiction: string;
  dir: string;
  key: Buffer;
  retentionDays: number;
  /** Admin URL of a database on the server (the first region's). */
  adminUrl: string | undefined;
}

export function backupSets(config: Pick<Config, 'regions' | 'secret'>): BackupSet[] {
  const sets = new Map<string, BackupSet>();
  for (const r of config.regions) {
    if (!r.backup.location) continue;
    const server = backupServer(r);
    const set = sets.get(server);
    if (set) {
      set.regions.push(r);
      set.retentionDays = Math.min(set.retentionDays, r.backup.retentionDays);
      continue;
    }
    sets.set(server, {
      name: r.id,
      server,
      regions: [r],
      jurisdiction: r.jurisdiction,
      dir: backupDirectory(r.backup.location),
      key: regionBackupKey(r, config.secret),
      retentionDays: r.backup.retentionDays,
      adminUrl: r.databaseUrl,
    });
  }
  return [...sets.values()];
}

/** The set holding a region's backups, or undefined when the region has no backup location. */
export function backupSetOf(config: Pick<Config, 'regions' | 'secret'>, regionId: string): BackupSet | undefined {
  return backupSets(config).find((s) => s.regions.some((r) => r.id === regionId));
}

export const baseDir = (set: BackupSet) => join(set.dir, 'base');
export const walDir = (set: BackupSet) => join(set.dir, 'wal');
export const baseFile = (set: BackupSet, backupId: string) => join(baseDir(set), `${backupId}.tar.gz.sealed`);
export const walFile = (set: BackupSet, segment: string) => join(walDir(set), `${segment}.sealed`);

export async function ensureLayout(set: BackupSet): Promise<void> {
  await mkdir(baseDir(set), { recursive: true, mode: 0o700 });
  await mkdir(walDir(set), { recursive: true, mode: 0o700 });
}
