import { sql } from 'kysely';
import type { Platform } from '../platform/platform.js';
import type { Clinic } from '../controlplane/clinics.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { latestTenantVersion } from '../tenancy/migrations.js';
import { storesOf, type FleetStore } from '../tenancy/fleet-stores.js';

/**
 * A staged rollout's plan: every store of the fleet assigned to one wave, the waves in the order they run.
 *
 * Canary clinics first (the operator names them; by default the oldest clinic with a store of its own in each
 * region, so a canary never drags a region's whole pooled store with it), then by tier from small to
 * enterprise, and within a tier by region in the configured order. A region's pooled store is one unit: it
 * carries every pooled clinic of the region, so it joins the canary when one of its clinics is a canary, and
 * otherwise the wave of the smallest tier among its clinics.
 */
export const TIER_ORDER = ['small', 'mid', 'enterprise'] as const;

/** The failure rate a canary wave tolerates: none. */
export const CANARY_MAX_FAILURE_RATE = 0;

export interface RolloutRequest {
  /** Canary clinic ids; omitted: one per region (see above). */
  canary?: string[];
  /** A wave whose share of failed clinics passes this pauses the rollout (the canary wave tolerates none). */
  maxFailureRate: number;
  createdBy: string;
}

export interface PlannedWave {
  name: string;
  stores: FleetStore[];
}

export function planWaves(p: Platform, clinics: Clinic[], canary: ReadonlySet<string>): PlannedWave[] {
  const stores = storesOf(p, clinics);
  const waves = new Map<string, FleetStore[]>();
  const add = (name: string, s: FleetStore) => waves.set(name, [...(waves.get(name) ?? []), s]);
  for (const s of stores) {
    if (s.clinics.some((c) => canary.has(c.id))) {
      add('canary', s);
      continue;
    }
    const tier = TIER_ORDER.find((t) => s.clinics.some((c) => c.tier === t)) ?? 'enterprise';
    add(`${tier}/${s.regionId}`, s);
  }
  const order = ['canary', ...TIER_ORDER.flatMap((t) => p.config.regions.map((r) => `${t}/${r.id}`))];
  return order.flatMap((name) => {
    const s = waves.get(name);
    return s ? [{ name, stores: s }] : [];
  });
}

/** The default canaries: in each region, its oldest clinic that has a store of its own. */
export function defaultCanary(clinics: Clinic[]): string[] {
  const byRegion = new Map<string, Clinic>();
  for (const c of [...clinics].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id)))
    if (c.placement.model !== 'pooled' && !byRegion.has(c.dataRegion)) byRegion.set(c.dataRegion, c);
  return [...byRegion.values()].map((c) => c.id);
}

/** Records a new rollout with its waves and clinics; one open rollout at a time. */
export async function planRollout(p: Platform, req: RolloutRequest): Promise<string> {
  const clinics = (await p.clinics.all()).filter((c) => c.status !== 'provisioning');
  const known = new Set(clinics.map((c) => c.id));
  const unknown = (req.canary ?? []).filter((id) => !known.has(id));
  if (unknown.length) throw new AppError(422, 'canary_unknown', `Not clinics of this fleet: ${unknown.join(', ')}`);
  const canary = new Set(req.canary ?? defaultCanary(clinics));
  const waves = planWaves(p, clinics, canary);
  const id = newId('rollout');
  await p.control.transaction().execute(async (tx) => {
    // Two operators planning at once: the second waits here, then finds the first one's rollout open.
    await sql`select pg_advisory_xact_lock(hashtextextended('polyclinic:rollout-plan', 0))`.execute(tx);
    const open = await tx.selectFrom('rollouts').select('id').where('status', '!=', 'completed').executeTakeFirst();
    if (open) throw new AppError(409, 'rollout_open', `Rollout ${open.id} is not finished: resume it first`);
    await tx
      .insertInto('rollouts')
      .values({
        id,
        target_version: latestTenantVersion(p.tenantMigrations),
        max_failure_rate: req.maxFailureRate,
        created_by: req.createdBy,
      })
      .execute();
    if (waves.length === 0) return;
    await tx
      .insertInto('rollout_waves')
      .values(waves.map((w, position) => ({ rollout_id: id, position, name: w.name })))
      .execute();
    const rows = waves.flatMap((w, position) =>
      w.stores.flatMap((s) => s.clinics.map((c) => ({ rollout_id: id, clinic_id: c.id, position, store: s.key }))),
    );
    for (let i = 0; i < rows.length; i += 1000)
      await tx
        .insertInto('rollout_clinics')
        .values(rows.slice(i, i + 1000))
        .execute();
  });
  return id;
}
