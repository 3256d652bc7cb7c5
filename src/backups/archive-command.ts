import { loadConfig } from '../config.js';
import { backupSetOf } from './location.js';
import { archiveWalSegment } from './wal-archive.js';

/**
 * The program PostgreSQL runs as `archive_command` (see `wal-archive.ts`): `archive-command.ts <region> %p %f`.
 * Small on purpose, since it starts once per WAL segment: the config loader and the sealing, nothing else.
 */
const [region, path, name] = process.argv.slice(2);
try {
  if (!region || !path || !name) throw new Error('usage: archive-command.ts <region> <%p> <%f>');
  const set = backupSetOf(loadConfig(), region);
  if (!set) throw new Error(`region ${region} has no backup location (POLYCLINIC_REGION_<ID>_BACKUP_LOCATION)`);
  await archiveWalSegment(set, path, name);
} catch (err) {
  process.stderr.write(`polyclinic archive-command: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
