import { rm, stat } from 'node:fs/promises';
import type { BackupDeps } from './base-backup.js';
import { walDir, walFile, type BackupSet } from './location.js';
import { archivedWal } from './wal-archive.js';

export interface PruneResult {
  set: string;
  retentionDays: number;
  prunedBackups: string[];
  prunedWal: number;
  keptBackups: number;
}

/**
 * Applies the set's retention (the jurisdiction's default or the region's own, `regions/jurisdictions.ts`):
 * no copy of a region's data outlives it. Every base backup finished before the cutoff is removed, and every
 * archived WAL segment older than the oldest base backup that remains (nothing can replay it any more); with
 * no backup left, every segment written before the cutoff. So the restore window is from the oldest remaining
 * backup to now, and data deleted from the live stores is gone from the backups `retentionDays` later at the
 * latest, which is what a deletion certificate promises.
 */
export async function pruneBackups(p: BackupDeps, set: BackupSet, now = new Date()): Promise<PruneResult> {
  const cutoff = new Date(now.getTime() - set.retentionDays * 86_400_000);
  const expired = await p.control
    .selectFrom('backups')
    .select(['id', 'file'])
    .where('server', '=', set.server)
    .where('location', '=', set.dir)
    .where('status', 'in', ['completed', 'failed'])
    .where('finished_at', '<', cutoff)
    .execute();
  for (const b of expired) {
    if (b.file) await rm(b.file, { force: true });
    await p.control.updateTable('backups').set({ status: 'pruned', pruned_at: now }).where('id', '=', b.id).execute();
  }
  const oldest = await p.control
    .selectFrom('backups')
    .select(['start_wal'])
    .where('server', '=', set.server)
    .where('location', '=', set.dir)
    .where('status', '=', 'completed')
    .orderBy('start_wal')
    .limit(1)
    .executeTakeFirst();
  let prunedWal = 0;
  for (const name of await archivedWal(walDir(set))) {
    // Timeline history files are tiny and say how timelines branched; they go with the last segment of their timeline.
    const segment = name.slice(0, 24);
    const file = walFile(set, name);
    const old = oldest?.start_wal ? segment < oldest.start_wal : (await stat(file)).mtime < cutoff;
    if (!old || name.endsWith('.history')) continue;
    await rm(file, { force: true });
    prunedWal++;
  }
  const kept = await p.control
    .selectFrom('backups')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('server', '=', set.server)
    .where('status', '=', 'completed')
    .executeTakeFirstOrThrow();
  p.log.info({ set: set.name, pruned: expired.length, prunedWal }, 'backup retention applied');
  return {
    set: set.name,
    retentionDays: set.retentionDays,
    prunedBackups: expired.map((b) => b.id),
    prunedWal,
    keptBackups: Number(kept.n),
  };
}
