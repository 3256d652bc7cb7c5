import type { Generated, Kysely } from 'kysely';
import type { PatientsTable } from '../patients/table.js';

/** The tables a tenant transaction sees. Names are unqualified: the transaction's search_path picks the schema. */
export interface TenantDB {
  clinic: { clinic_id: string; created_at: Generated<Date> };
  patients: PatientsTable;
}

/** What domain code receives: the clinic it acts for and a transaction already confined to that clinic. */
export interface TenantScope {
  clinicId: string;
  db: Kysely<TenantDB>;
}

/** `snapshot` is a read-only repeatable-read transaction: one consistent view across tables (exports). */
export type TenantAccess = 'read' | 'write' | 'snapshot';
