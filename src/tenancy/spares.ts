import type pg from 'pg';
import type { Logger } from 'pino';
import { withClient } from '../db/pg.js';
import { latestTenantVersion, type TenantMigration } from './migrations.js';
import type { PlacementModel } from './naming.js';
import { PLACEMENT_KINDS, type ClinicStore, type PlacementContext, type PlacementKind } from './placement/index.js';
import { migrationFingerprint } from './placement/spares.js';

/** A region's spares of one placement: `ready` at this build's migrations, `stale` at others (to be discarded). */
export interface SpareCount {
  regionId: string;
  model: PlacementModel;
  ready: number;
  stale: number;
}

/**
 * The keeper of spare stores (issue #15): `perRegion` spares of each placement that has them (schema, database)
 * in each region, so that provisioning claims a store built ahead instead of running the DDL in the request
 * (`placement/spares.ts` builds and claims them).
 *
 * When: a claim starts a refill of that region and placement in the background (one at a time per region and
 * placement in this process; across nodes, the refill lock on the region database lets one node do it), and
 * the fleet migration (`polyclinic migrate`, also run at start) ends with `refillAll`, which discards spares
 * built at other migrations and tops every region up. A claim takes only a spare at this build's migrations, so
 * between a deployment and its migration new clinics are built, as they were before spares.
 *
 * Spares are not clinics: nothing of them is in the control plane, so the fleet listing, the migration status
 * and the compliance report never see them.
 */
export class SpareStores {
  private readonly running = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly deps: { ctx: PlacementContext; regions: readonly string[]; perRegion: number; log: Logger }) {}

  /** Claims a spare as the clinic's store and returns its version; undefined when none was taken (build it then). */
  async claim(kind: PlacementKind, store: ClinicStore, migrations: TenantMigration[]): Promise<number | undefined> {
    const { ctx, log, perRegion } = this.deps;
    if (!kind.spares || perRegion === 0) return undefined;
    try {
      const spares = kind.spares;
      const claimed = await withClient(ctx.adminUrl(store.regionId), (c) => spares.claim(ctx, c, store, migrationFingerprint(migrations)));
      return claimed ? latestTenantVersion(migrations) : undefined;
    } catch (err) {
      log.warn({ err, clinicId: store.clinicId }, 'claiming a spare store failed; building the store instead');
      return undefined;
    }
  }

  /** Starts topping up the region's spares of this placement in the background, unless that is under way. */
  refillSoon(regionId: string, kind: PlacementKind, migrations: TenantMigration[]): void {
    if (!kind.spares || this.deps.perRegion === 0 || this.closed) return;
    const id = `${regionId}/${kind.model}`;
    if (this.running.has(id)) return;
    const run = withClient(this.deps.ctx.adminUrl(regionId), (c) => this.upkeep(c, regionId, kind, migrations))
      .catch((err: unknown) => this.deps.log.warn({ err, regionId, placement: kind.model }, 'refilling spare stores failed'))
      .finally(() => this.running.delete(id));
    this.running.set(id, run);
  }

  /** Every region brought to `perRegion` spares at these migrations, others discarded; then the counts. */
  async refillAll(migrations: TenantMigration[]): Promise<SpareCount[]> {
    await this.settled();
    for (const regionId of this.deps.regions)
      await withClient(this.deps.ctx.adminUrl(regionId), async (c) => {
        for (const kind of PLACEMENT_KINDS) await this.upkeep(c, regionId, kind, migrations);
      }).catch((err: unknown) => this.deps.log.warn({ err, regionId }, 'refilling spare stores failed'));
    return this.status(migrations);
  }

  /** How many spares each region holds, per placement. */
  async status(migrations: TenantMigration[]): Promise<SpareCount[]> {
    const fingerprint = migrationFingerprint(migrations);
    const out: SpareCount[] = [];
    for (const regionId of this.deps.regions)
      await withClient(this.deps.ctx.adminUrl(regionId), async (c) => {
        for (const kind of PLACEMENT_KINDS) {
          if (!kind.spares) continue;
          const spares = await kind.spares.list(this.deps.ctx, regionId, c);
          const ready = spares.filter((s) => s.fingerprint === fingerprint).length;
          out.push({ regionId, model: kind.model, ready, stale: spares.length - ready });
        }
      });
    return out;
  }

  /** Resolves once no refill of this process is under way. */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.all(this.running.values());
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }

  /**
   * Discards the region's spares of this placement that were built at other migrations (or beyond the count),
   * then builds until it holds `perRegion`, re-reading after each build since claims go on meanwhile. Under the
   * region's refill lock, taken without waiting: a node that finds it held leaves the work to its holder.
   */
  private async upkeep(admin: pg.ClientBase, regionId: string, kind: PlacementKind, migrations: TenantMigration[]): Promise<void> {
    const { ctx, perRegion } = this.deps;
    const spares = kind.spares;
    if (!spares) return;
    const lock = `polyclinic:spares:${kind.model}`;
    const got = await admin.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [lock]);
    if (!got.rows[0]?.ok) return;
    try {
      const fingerprint = migrationFingerprint(migrations);
      for (let built = 0; built <= perRegion; built++) {
        const all = await spares.list(ctx, regionId, admin);
        const ready = all.filter((s) => s.fingerprint === fingerprint);
        for (const s of [...all.filter((s) => s.fingerprint !== fingerprint), ...ready.slice(perRegion)])
          await spares.discard(ctx, admin, s);
        if (ready.length >= perRegion || this.closed) return;
        await spares.build(ctx, regionId, admin, migrations);
      }
    } finally {
      await admin.query('select pg_advisory_unlock(hashtextextended($1, 0))', [lock]);
    }
  }
}
