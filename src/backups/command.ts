import type { Platform } from '../platform/platform.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { takeBaseBackup } from './base-backup.js';
import { backupSets } from './location.js';
import { restoreClinic, type RestoreReport } from './restore.js';
import { pruneBackups } from './retention.js';

/** `polyclinic clinics restore <clinicId> --at TIME [--into-new SLUG [--placement …]]`: a clinic's data as it was at TIME. */
export async function restoreCommand(
  p: Platform,
  rest: string[],
  values: { readonly [flag in 'at' | 'into-new' | 'placement']?: string | boolean },
): Promise<number> {
  const usage = 'usage: polyclinic clinics restore <clinicId> --at TIME [--into-new SLUG [--placement pooled|schema|database]]';
  const [clinicId] = rest;
  const at = typeof values.at === 'string' ? new Date(values.at) : undefined;
  const slug = values['into-new'];
  const placement = values.placement as PlacementModel | undefined;
  if (!clinicId || !at || Number.isNaN(at.getTime()) || (placement && !PLACEMENT_MODELS.includes(placement)) || (placement && !slug)) {
    console.error(usage);
    return 2;
  }
  const report = await restoreClinic(
    p,
    clinicId,
    at,
    typeof slug === 'string' ? { mode: 'new-clinic', slug, ...(placement ? { placement } : {}) } : { mode: 'in-place' },
  );
  console.log(
    `restored ${report.clinicId} to ${report.targetTime} ${report.mode === 'in-place' ? 'in place' : `into ${report.targetClinicId}`} (${report.placement}) from ${report.backupId} in ${report.durationMs} ms`,
  );
  for (const t of report.tables) console.log(`  ${t.table.padEnd(24)} ${String(t.rows).padStart(8)} rows  ${t.checksum}`);
  const chain = (name: string, v: RestoreReport['trail']) =>
    console.log(`  ${name}: ${v.ok ? 'intact' : `BROKEN: ${v.problem?.message}`}, ${v.records} record(s)`);
  chain('audit chain in the backup', report.backupTrail);
  chain('audit chain now', report.trail);
  console.log(report.ok ? 'verified' : 'NOT VERIFIED');
  return report.ok ? 0 : 1;
}

/** `polyclinic backups take|prune|list [--region R]`; null for another subcommand (the caller prints the usage). */
export async function backupsCommand(
  p: Platform,
  sub: string,
  values: { readonly [flag in 'region']?: string | boolean },
): Promise<number | null> {
  const sets = backupSets(p.config).filter((s) => !values.region || s.regions.some((r) => r.id === values.region));
  if (sub === 'take' || sub === 'prune') {
    if (sets.length === 0) {
      console.error('no region has a backup location (POLYCLINIC_REGION_<ID>_BACKUP_LOCATION)');
      return 2;
    }
    for (const set of sets) {
      if (sub === 'take') {
        const b = await takeBaseBackup(p, set);
        console.log(`${b.id}  ${set.name} (${set.regions.map((r) => r.id).join(', ')})  ${b.bytes} bytes  from WAL ${b.startWal}`);
      } else {
        const r = await pruneBackups(p, set);
        console.log(
          `${set.name}: retention ${r.retentionDays} days; ${r.prunedBackups.length} backup(s) and ${r.prunedWal} WAL file(s) removed, ${r.keptBackups} backup(s) kept`,
        );
      }
    }
    return 0;
  }
  if (sub === 'list') {
    const rows = await p.control.selectFrom('backups').selectAll().orderBy('started_at', 'desc').execute();
    for (const b of rows)
      console.log(
        [b.id, b.status.padEnd(9), b.regions.join(',').padEnd(20), b.finished_at?.toISOString() ?? '-', `${b.bytes ?? 0} bytes`].join('  '),
      );
    return 0;
  }
  return null;
}
