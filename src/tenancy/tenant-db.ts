import type { ColumnType, Generated, Kysely } from 'kysely';
import type { PatientsTable } from '../patients/table.js';
import type { EventsDB } from '../events/migration.js';
import type { SchedulingDB } from '../scheduling/migration.js';
import type { ClinicalDB } from '../clinical/migration.js';

interface CoreDB {
  clinic: { clinic_id: string; created_at: Generated<Date>; placement_epoch: ColumnType<number | null, number | null | undefined, number | null> };
  patients: PatientsTable;
}

/** The tables a tenant transaction sees. Names are unqualified: the transaction's search_path picks the schema. */
export interface TenantDB extends CoreDB, EventsDB, SchedulingDB, ClinicalDB {}

/** What domain code receives: the clinic it acts for and a transaction already confined to that clinic. */
export interface TenantScope {
  clinicId: string;
  db: Kysely<TenantDB>;
  /** The acting user from the request context, for outbox and audit records; null for system work. */
  actorId: string | null;
}

/** `snapshot` is a read-only repeatable-read transaction: one consistent view across tables (exports). */
export type TenantAccess = 'read' | 'write' | 'snapshot';
