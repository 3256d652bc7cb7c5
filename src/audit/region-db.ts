import { sql, type Generated, type Kysely, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { FleetMetrics } from '../fleet/metrics.js';
import { notFound } from '../errors.js';
import type { TenantStores } from '../tenancy/stores.js';
import { AUDIT_SCHEMA } from './region-migration.js';
import { rlsPin } from '../tenancy/placement/index.js';
import type { AuditDetail } from './record.js';

export interface AuditEventsTable {
  clinic_id: string;
  seq: number;
  id: string;
  recorded_at: Date;
  action: string;
  outcome: string;
  actor_id: string;
  actor_role: string | null;
  resource_type: string;
  resource_id: string | null;
  patient_id: string | null;
  request_id: string | null;
  client_address: string | null;
  purpose_of_use: string;
  detail: AuditDetail;
  prev_hash: string;
  hash: string;
}

export interface AuditDB {
  events: AuditEventsTable;
  heads: { clinic_id: string; seq: number; hash: string; updated_at: Generated<Date> };
}

/**
 * What the trail needs of the platform: where a clinic lives (and, when its old region refuses an append after
 * a move, where it lives now), its region's app-role pool, and the logger.
 */
export interface TrailDeps {
  clinics: Pick<ClinicDirectory, 'get' | 'fresh'>;
  stores: Pick<TenantStores, 'regionDb'>;
  log: Pick<Logger, 'error'>;
  /** Where each append's wall time and size are counted (the node's metrics), if anywhere. */
  metrics?: Pick<FleetMetrics, 'observeAppend'>;
}

/**
 * The region's app-role connections, outside any tenant transaction: the trail is written beside the
 * clinic's store, not inside its transaction, so it is independent of the placement and of a move's freeze.
 */
export function regionAuditDb(p: TrailDeps, regionId: string): Kysely<AuditDB> {
  return p.stores.regionDb(regionId).withSchema(AUDIT_SCHEMA) as unknown as Kysely<AuditDB>;
}

/** The region database that holds a clinic's trail. */
export async function clinicAuditDb(p: TrailDeps, clinicId: string): Promise<Kysely<AuditDB>> {
  const clinic = await p.clinics.get(clinicId);
  if (!clinic) throw notFound('clinic');
  return regionAuditDb(p, clinic.dataRegion);
}

/**
 * A read-only transaction on the clinic's trail with RLS pinned to the clinic, as every tenant transaction
 * is: a query that forgets its `clinic_id` still sees this clinic only.
 */
export async function readTrail<T>(
  p: TrailDeps,
  clinicId: string,
  fn: (db: Transaction<AuditDB>) => Promise<T>,
  opts: { snapshot?: boolean } = {},
): Promise<T> {
  const db = await clinicAuditDb(p, clinicId);
  let tx = db.transaction().setAccessMode('read only');
  if (opts.snapshot) tx = tx.setIsolationLevel('repeatable read');
  return tx.execute(async (trx) => {
    await sql`select ${rlsPin(clinicId)}`.execute(trx);
    return fn(trx);
  });
}
