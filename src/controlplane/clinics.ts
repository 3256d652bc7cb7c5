import type { Kysely, Selectable } from 'kysely';
import type { InvalidationBus } from '../platform/bus.js';
import type { Placement } from '../tenancy/naming.js';
import type { ClinicStatus, ClinicTier, ControlDB } from './schema.js';

export interface Clinic {
  id: string;
  slug: string;
  name: string;
  tier: ClinicTier;
  specialty: string | null;
  dataRegion: string;
  placement: Placement;
  status: ClinicStatus;
  schemaVersion: number;
  createdAt: Date;
}

type ClinicRow = Selectable<ControlDB['clinics']>;

export function clinicFromRow(r: ClinicRow): Clinic {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    tier: r.tier,
    specialty: r.specialty,
    dataRegion: r.data_region,
    placement: { model: r.placement_model, database: r.placement_database, schema: r.placement_schema },
    status: r.status,
    schemaVersion: r.schema_version,
    createdAt: r.created_at,
  };
}

/**
 * The clinic directory answers "where does this clinic live" on every request, so it is cached in memory.
 * Any change made through this class is published on the invalidation bus and every node drops its copy;
 * the short TTL only bounds staleness if a message is lost. A stale placement can never misroute a write:
 * see `TenantStores.transaction` and the anchor row in `tenancy/migrations.ts`.
 */
export class ClinicDirectory {
  private readonly cache = new Map<string, { clinic: Clinic; until: number }>();
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReconnect: () => void;

  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly bus: InvalidationBus,
    private readonly ttlMs = 5_000,
  ) {
    this.unsubscribe = bus.subscribe('clinic', (id) => this.cache.delete(id));
    this.unsubscribeReconnect = bus.onReconnect(() => this.cache.clear());
  }

  async get(id: string): Promise<Clinic | undefined> {
    const hit = this.cache.get(id);
    if (hit && hit.until > Date.now()) return hit.clinic;
    return this.fresh(id);
  }

  async fresh(id: string): Promise<Clinic | undefined> {
    const row = await this.db.selectFrom('clinics').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) {
      this.cache.delete(id);
      return undefined;
    }
    const clinic = clinicFromRow(row);
    this.cache.set(id, { clinic, until: Date.now() + this.ttlMs });
    return clinic;
  }

  async list(opts: { limit: number; after?: string; region?: string }): Promise<Clinic[]> {
    let q = this.db.selectFrom('clinics').selectAll().orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    if (opts.region) q = q.where('data_region', '=', opts.region);
    return (await q.execute()).map(clinicFromRow);
  }

  async all(): Promise<Clinic[]> {
    return (await this.db.selectFrom('clinics').selectAll().orderBy('id').execute()).map(clinicFromRow);
  }

  /** Compare-and-set on status; returns false when the clinic was not in `from`. */
  async transition(id: string, from: ClinicStatus, to: ClinicStatus): Promise<boolean> {
    const r = await this.db
      .updateTable('clinics')
      .set({ status: to, updated_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
    await this.changed(id);
    return Number(r.numUpdatedRows) === 1;
  }

  async setPlacement(id: string, placement: Placement, status: ClinicStatus): Promise<void> {
    await this.db
      .updateTable('clinics')
      .set({
        placement_model: placement.model,
        placement_database: placement.database,
        placement_schema: placement.schema,
        status,
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .execute();
    await this.changed(id);
  }

  /**
   * Changes a clinic's tier: what it is billed as, which quotas and flag targeting apply. The placement stays
   * where it is; moving it to the tier's usual placement is a separate, online move.
   */
  async setTier(id: string, tier: ClinicTier): Promise<boolean> {
    const r = await this.db.updateTable('clinics').set({ tier, updated_at: new Date() }).where('id', '=', id).executeTakeFirst();
    await this.changed(id);
    return Number(r.numUpdatedRows) === 1;
  }

  async setSchemaVersion(ids: string[], version: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('clinics').set({ schema_version: version }).where('id', 'in', ids).execute();
    for (const id of ids) await this.changed(id);
  }

  /** Every pooled clinic of a region is at its region store's version, whenever it was created. */
  async setPooledVersion(regionId: string, version: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('clinics')
      .set({ schema_version: version })
      .where('data_region', '=', regionId)
      .where('placement_model', '=', 'pooled')
      .where('status', '!=', 'provisioning')
      .returning('id')
      .execute();
    for (const r of rows) await this.changed(r.id);
    return rows.map((r) => r.id);
  }

  async changed(id: string): Promise<void> {
    this.cache.delete(id);
    await this.bus.publish('clinic', id);
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReconnect();
    this.cache.clear();
  }
}
