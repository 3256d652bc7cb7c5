import { resolve as resolvePath, sep } from 'node:path';
import { jurisdiction } from '../regions/jurisdictions.js';
import { regionVariable } from './variables.js';

/**
 * A region's backups: `location` is a directory (or `file://` URL) inside the region's jurisdiction where base
 * backups and archived WAL are written, encrypted; unset means this node takes no backups of the region.
 * `retentionDays` defaults to the jurisdiction's (regions/jurisdictions.ts); a jurisdiction without a default
 * must set `_BACKUP_RETENTION_DAYS`. `key` (at least 32 characters) encrypts them; unset, a key is derived from
 * the deployment secret and the region id.
 */
export interface RegionBackupConfig {
  location: string | undefined;
  retentionDays: number;
  key: string | undefined;
}

/** What the residency check reads of a region. */
interface BackedUpRegion {
  id: string;
  jurisdiction: string;
  databaseUrl: string | undefined;
  backup: RegionBackupConfig;
}

/**
 * Where a region's data physically sits, as far as backups are concerned: its PostgreSQL server (`host:port`),
 * or `embedded` for the one server the embedded default starts for every region.
 */
export function backupServer(region: { databaseUrl: string | undefined }): string {
  if (!region.databaseUrl) return 'embedded';
  try {
    const u = new URL(region.databaseUrl);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    return region.databaseUrl;
  }
}

/** A backup location as a normalised absolute directory path (a `file://` URL or a path). */
export function backupDirectory(location: string): string {
  const path = location.startsWith('file://') ? decodeURIComponent(new URL(location).pathname) : location;
  return resolvePath(path);
}

/**
 * Backups never carry one jurisdiction's data into another's location. WAL is written per PostgreSQL server and
 * holds every database on it, so a server shared by regions of two jurisdictions cannot be archived for one of
 * them alone; and regions on one server are backed up together, into one location. Refused at start:
 *   - a backed-up region whose server also holds a region of another jurisdiction;
 *   - two regions of different jurisdictions whose locations are the same directory or one inside the other;
 *   - regions sharing a server with different backup locations or keys.
 */
export function backupResidencyProblems(regions: readonly BackedUpRegion[]): string[] {
  const problems: string[] = [];
  const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  for (const [i, r] of regions.entries()) {
    const name = regionVariable(r.id, 'BACKUP_LOCATION');
    for (const o of regions.slice(i + 1)) {
      const sameServer = backupServer(r) === backupServer(o);
      const located = [r, o].filter((x) => x.backup.location);
      if (r.jurisdiction !== o.jurisdiction) {
        if (sameServer && located.length)
          problems.push(
            `${regionVariable(located[0]!.id, 'BACKUP_LOCATION')}: regions ${r.id} (${r.jurisdiction}) and ${o.id} (${o.jurisdiction}) share the PostgreSQL server ${backupServer(r)}; its WAL holds both, so it cannot be backed up inside one jurisdiction (give them servers of their own)`,
          );
        if (r.backup.location && o.backup.location) {
          const [a, b] = [backupDirectory(r.backup.location), backupDirectory(o.backup.location)];
          if (within(a, b) || within(b, a))
            problems.push(`${name}: the backup location of ${r.id} (${r.jurisdiction}) is shared with ${o.id} (${o.jurisdiction})`);
        }
      } else if (sameServer && located.length) {
        const [a, b] = [r.backup.location, o.backup.location].map((l) => (l ? backupDirectory(l) : undefined));
        if (a !== b)
          problems.push(
            `${name}: regions ${r.id} and ${o.id} share a PostgreSQL server, so they are backed up together: give them one location`,
          );
        else if (r.backup.key !== o.backup.key)
          problems.push(
            `${regionVariable(r.id, 'BACKUP_KEY')}: regions ${r.id} and ${o.id} share a server and a backup location: give them one key`,
          );
      }
    }
  }
  return problems;
}

/** A region's backup settings: `_BACKUP_LOCATION`, `_BACKUP_RETENTION_DAYS`, `_BACKUP_KEY`. */
export function regionBackup(env: NodeJS.ProcessEnv, id: string, code: string, problems: string[]): RegionBackupConfig {
  const locationName = regionVariable(id, 'BACKUP_LOCATION');
  const location = env[locationName] || undefined;
  if (location !== undefined && !/^(file:\/\/)?\/?[^\0]+$/.test(location))
    problems.push(`${locationName}: must be a directory path or a file:// URL`);
  const daysName = regionVariable(id, 'BACKUP_RETENTION_DAYS');
  const given = env[daysName];
  let retentionDays = jurisdiction(code)?.backupRetentionDays ?? 0;
  if (given) {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 1 || n > 3650) problems.push(`${daysName}: a whole number of days from 1 to 3650`);
    else retentionDays = n;
  } else if (!retentionDays && location) problems.push(`${daysName}: required, jurisdiction ${code} has no default retention`);
  const keyName = regionVariable(id, 'BACKUP_KEY');
  const key = env[keyName] || undefined;
  if (key !== undefined && key.length < 32) problems.push(`${keyName}: at least 32 characters`);
  return { location, retentionDays, key };
}
