import { sql } from 'kysely';
import type { Platform } from '../platform/platform.js';
import { AppError, notFound } from '../errors.js';
import { latestTenantVersion } from '../tenancy/migrations.js';
import { prepareRegions, withFleetLock } from '../tenancy/fleet.js';
import { migrateStores, storesOf, type StoreResult } from '../tenancy/fleet-stores.js';
import { versionPins } from '../tenancy/pins.js';
import { CANARY_MAX_FAILURE_RATE } from './plan.js';

/**
 * Runs a planned rollout (`plan.ts`) wave by wave, under the fleet lock that `polyclinic migrate` takes too.
 *
 * Within a wave the stores migrate in parallel (`tenancy/fleet-stores.ts`); each clinic's outcome is written
 * as soon as it is known, so the operator API and the console show progress while it runs. A wave stops
 * starting stores once its failed share can no longer stay within the threshold (for the canary: at the
 * first failure), and the rollout is paused there: later waves never run. Resuming runs every clinic of the
 * current wave that has not succeeded again (the failed ones once their cause is fixed, the ones never
 * started, the pinned ones whose pin was lifted), then carries on. A runner that died leaves the rollout
 * `running` without a lock holder: resuming takes it over. Pinned clinics go no further than their pin; once
 * every wave ran, a rollout with pinned clinics is `held` until they are unpinned and it is resumed.
 */
export interface RunOptions {
  /** Called once the fleet lock is held and the rollout marked running (the API answers then). */
  onStarted?: () => void;
  onResult?: (wave: string, r: StoreResult) => void;
}

export async function runRollout(p: Platform, rolloutId: string, opts: RunOptions = {}): Promise<void> {
  const found = await p.control.selectFrom('rollouts').selectAll().where('id', '=', rolloutId).executeTakeFirst();
  if (!found) throw notFound('rollout');
  if (found.status === 'completed') throw new AppError(409, 'rollout_completed', 'This rollout has finished');
  const latest = latestTenantVersion(p.tenantMigrations);
  if (latest < found.target_version)
    throw new AppError(409, 'rollout_target_unknown', `This build knows tenant versions up to ${latest}, not ${found.target_version}`);
  const migrations = p.tenantMigrations.filter((m) => m.version <= found.target_version);

  await withFleetLock(p, async () => {
    await setStatus(p, rolloutId, 'running', null);
    opts.onStarted?.();
    const failedRegions = await prepareRegions(p);
    const waves = await p.control.selectFrom('rollout_waves').selectAll().where('rollout_id', '=', rolloutId).orderBy('position').execute();
    for (const wave of waves) {
      const finish = (status: 'pending' | 'passed' | 'failed') =>
        p.control
          .updateTable('rollout_waves')
          .set({ status, finished_at: status === 'pending' ? null : new Date() })
          .where('rollout_id', '=', rolloutId)
          .where('position', '=', wave.position)
          .execute();
      const rows = await p.control
        .selectFrom('rollout_clinics')
        .select(['clinic_id', 'outcome'])
        .where('rollout_id', '=', rolloutId)
        .where('position', '=', wave.position)
        .execute();
      // A wave that passed still holds work when a clinic of it was pinned and may now go on.
      const todo = new Set(rows.filter((r) => r.outcome !== 'migrated' && r.outcome !== 'up-to-date').map((r) => r.clinic_id));
      if (todo.size === 0) {
        if (wave.status !== 'passed') await finish('passed');
        continue;
      }
      const clinics = (await p.clinics.all()).filter((c) => todo.has(c.id));
      const total = rows.length;
      const threshold = wave.name === 'canary' ? CANARY_MAX_FAILURE_RATE : found.max_failure_rate;
      let failed = 0;
      await p.control
        .updateTable('rollout_waves')
        .set({ status: 'running', started_at: wave.started_at ?? new Date(), finished_at: null })
        .where('rollout_id', '=', rolloutId)
        .where('position', '=', wave.position)
        .execute();
      await migrateStores(p, storesOf(p, clinics), {
        migrations,
        concurrency: p.config.migrateConcurrency,
        pins: await versionPins(p.control),
        failedRegions,
        // Another store is started only while the wave can still pass and no operator asked for a pause.
        proceed: async () => failed / total <= threshold && (await statusOf(p, rolloutId)) === 'running',
        onResult: async (r) => {
          if (r.outcome === 'failed') failed += r.clinicIds.filter((id) => todo.has(id)).length;
          await p.control
            .updateTable('rollout_clinics')
            .set({ outcome: r.outcome, version: r.version ?? null, error: r.error ?? null, updated_at: new Date() })
            .where('rollout_id', '=', rolloutId)
            .where('clinic_id', 'in', r.clinicIds)
            .execute();
          opts.onResult?.(wave.name, r);
        },
      });
      if (failed / total > threshold) {
        await finish('failed');
        const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
        await setStatus(
          p,
          rolloutId,
          'paused',
          `wave ${wave.name}: ${failed} of ${total} clinics failed (${pct(failed / total)}), more than the ${pct(threshold)} allowed`,
        );
        return;
      }
      if ((await statusOf(p, rolloutId)) !== 'running') {
        await finish('pending');
        return;
      }
      await finish('passed');
    }
    const held = await p.control
      .selectFrom('rollout_clinics')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('rollout_id', '=', rolloutId)
      .where('outcome', '=', 'pinned')
      .executeTakeFirstOrThrow();
    if (held.n > 0) await setStatus(p, rolloutId, 'held', `${held.n} clinic${held.n === 1 ? '' : 's'} held by a version pin`);
    else await setStatus(p, rolloutId, 'completed', null);
  });
}

/** An operator's pause: the runner starts no further store and leaves the wave to be resumed. */
export async function pauseRollout(p: Platform, rolloutId: string, by: string): Promise<void> {
  const r = await p.control
    .updateTable('rollouts')
    .set({ status: 'paused', status_reason: `paused by ${by}`, updated_at: new Date() })
    .where('id', '=', rolloutId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    if (!(await statusOf(p, rolloutId))) throw notFound('rollout');
    throw new AppError(409, 'rollout_not_running', 'Only a running rollout can be paused');
  }
}

async function statusOf(p: Platform, rolloutId: string): Promise<string | undefined> {
  const r = await p.control.selectFrom('rollouts').select('status').where('id', '=', rolloutId).executeTakeFirst();
  return r?.status;
}

async function setStatus(
  p: Platform,
  rolloutId: string,
  status: 'running' | 'paused' | 'held' | 'completed',
  reason: string | null,
): Promise<void> {
  await p.control
    .updateTable('rollouts')
    .set({ status, status_reason: reason, updated_at: new Date() })
    .where('id', '=', rolloutId)
    .execute();
}
