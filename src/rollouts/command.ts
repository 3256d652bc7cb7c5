import type { Platform } from '../platform/platform.js';
import type { StoreResult } from '../tenancy/fleet-stores.js';
import { migrateControlPlaneOnly } from '../tenancy/fleet.js';
import { planRollout } from './plan.js';
import { listRollouts, rolloutProgress, type RolloutProgress } from './progress.js';
import { pauseRollout, runRollout } from './runner.js';

/**
 * `polyclinic rollout start|resume|pause|status`: staged rollouts of this build's tenant migrations, printed wave
 * by wave; null for another subcommand (the caller prints the usage).
 */
export async function rolloutCommand(
  p: Platform,
  sub: string | undefined,
  rest: string[],
  values: { readonly [flag in 'max-failure-rate' | 'canary']?: string | boolean },
): Promise<number | null> {
  const onResult = (wave: string, r: StoreResult) =>
    console.log(
      `[${wave}] ${r.store.key} ${r.outcome}${r.version !== undefined ? ` v${r.version}` : ''} (${r.clinicIds.length} clinic${r.clinicIds.length === 1 ? '' : 's'})${r.error ? `: ${r.error}` : ''}`,
    );
  const [id] = rest;
  if (sub === 'start') {
    const rate = values['max-failure-rate'] === undefined ? 0.1 : Number(values['max-failure-rate']);
    if (!(rate >= 0 && rate <= 1)) {
      console.error('--max-failure-rate: a share between 0 and 1');
      return 2;
    }
    const control = await migrateControlPlaneOnly(p);
    console.log(`control plane v${control.from} -> v${control.to}`);
    const canary =
      typeof values.canary === 'string'
        ? values.canary
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    const rolloutId = await planRollout(p, { ...(canary ? { canary } : {}), maxFailureRate: rate, createdBy: 'cli' });
    await runRollout(p, rolloutId, { onResult });
    return printRollout(await rolloutProgress(p.control, rolloutId));
  }
  if (sub === 'resume' && id) {
    await runRollout(p, id, { onResult });
    return printRollout(await rolloutProgress(p.control, id));
  }
  if (sub === 'pause' && id) {
    await pauseRollout(p, id, 'cli');
    return printRollout(await rolloutProgress(p.control, id));
  }
  if (sub === 'status') {
    const progress = id ? await rolloutProgress(p.control, id) : (await listRollouts(p.control, 1))[0];
    if (!progress) {
      console.log('no rollouts yet');
      return 0;
    }
    return printRollout(progress);
  }
  return null;
}

/** The rollout as a table; exit 0 when it completed, 1 otherwise (paused, held, still running). */
function printRollout(r: RolloutProgress): number {
  console.log(`${r.id} to v${r.targetVersion}: ${r.status}${r.statusReason ? ` (${r.statusReason})` : ''}`);
  for (const w of r.waves) {
    const c = w.counts;
    console.log(
      `  ${w.name.padEnd(24)} ${w.status.padEnd(8)} ${String(c.migrated + c['up-to-date']).padStart(5)}/${String(w.total).padEnd(5)} done  ${c.failed} failed  ${c.pinned} pinned  ${c.pending} pending`,
    );
  }
  for (const f of r.failures) console.log(`  FAILED ${f.clinicId} (${f.slug}, ${f.wave}): ${f.error}`);
  for (const h of r.held) console.log(`  PINNED ${h.clinicId} (${h.slug}) at v${h.version ?? '?'}`);
  return r.status === 'completed' ? 0 : 1;
}
