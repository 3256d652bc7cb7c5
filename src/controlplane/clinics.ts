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
  /** Grows with every freeze and switch of a move; the clinic's store proves it against this (tenancy/placement/fence.ts). */
  placementEpoch: number;
  status: ClinicStatus;
  /** Why an operator suspended the clinic or made it read-only (fleet/incidents.ts); null otherwise. */
  statusReason: string | null;
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
    placementEpoch: r.placement_epoch,
    status: r.status,
    statusReason: r.status_reason,
    schemaVersion: r.schema_version,
    createdAt: r.created_at,
  };
}

/**
 * The clinic directory answers "where does this clinic live" on every request, so it is cached in memory.
 * Any change made through this class is published on the invalidation bus and every node drops its copy;
 * the short TTL only bounds staleness if a message is lost. Correctness does not depend on either: a stale
 * placement is caught by the store it reaches (the placement epoch, `tenancy/placement/fence.ts`), and
 * `TenantStores.transaction` then reads the clinic again with `fresh` and retries.
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

  /**
   * A move's freeze: `active` at `epoch` becomes `moving` at `epoch + 1`, or nothing changes and the answer is
   * false (the clinic changed meanwhile).
   */
  async freeze(id: string, epoch: number): Promise<boolean> {
    const r = await this.db
      .updateTable('clinics')
      .set({ status: 'moving', placement_epoch: epoch + 1, updated_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', 'active')
      .where('placement_epoch', '=', epoch)
      .executeTakeFirst();
    await this.changed(id);
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * A move's switch: the frozen clinic at `epoch` lives at `placement` (in `region`, when the move changes it)
   * from `epoch + 1`, still frozen.
   */
  async switchPlacement(id: string, epoch: number, placement: Placement, region?: string): Promise<boolean> {
    const r = await this.db
      .updateTable('clinics')
      .set({
        ...(region ? { data_region: region } : {}),
        placement_model: placement.model,
        placement_database: placement.database,
        placement_schema: placement.schema,
        placement_epoch: epoch + 1,
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('status', '=', 'moving')
      .where('placement_epoch', '=', epoch)
      .executeTakeFirst();
    await this.changed(id);
    return Number(r.numUpdatedRows) === 1;
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

  /**
   * An operator's incident mode: `active`, `read_only` or `suspended`, from any of those three (never from
   * `provisioning` or `moving`: a move ends by setting `active` and must not undo an incident, so the operator
   * waits for it). Published on the bus, so every node drops its copy at once.
   */
  async setIncidentMode(id: string, mode: 'active' | 'read_only' | 'suspended', reason: string | null): Promise<Clinic | undefined> {
    const row = await this.db
      .updateTable('clinics')
      .set({ status: mode, status_reason: mode === 'active' ? null : reason, updated_at: new Date() })
      .where('id', '=', id)
      .where('status', 'in', ['active', 'read_only', 'suspended'])
      .returningAll()
      .executeTakeFirst();
    await this.changed(id);
    return row ? clinicFromRow(row) : undefined;
  }

  async setSchemaVersion(ids: string[], version: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('clinics').set({ schema_version: version }).where('id', 'in', ids).execute();
    for (const id of ids) await this.changed(id);
  }

  /** Every clinic held by a store shared by a region's clinics is at that store's version, whenever it was created. */
  async setStoreVersion(regionId: string, placement: Placement, version: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('clinics')
      .set({ schema_version: version })
      .where('data_region', '=', regionId)
      .where('placement_model', '=', placement.model)
      .where('placement_database', '=', placement.database)
      .where('placement_schema', '=', placement.schema)
      .where('status', '!=', 'provisioning')
      .returning('id')
      .execute();
    for (const r of rows) await this.changed(r.id);
    return rows.map((r) => r.id);
  }

  /** Clinics held in the cache now (the metrics' cache gauge). */
  cachedCount(): number {
    return this.cache.size;
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
