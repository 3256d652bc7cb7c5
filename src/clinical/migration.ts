import type { TenantMigration, TenantTable } from '../tenancy/migration-kit.js';

/** Tenant migrations of the clinical domain (version 4); filled in by the clinical work. */
export const CLINICAL_MIGRATIONS: TenantMigration[] = [];

/** The clinical tables in foreign-key order, for moves and exports. */
export const CLINICAL_TABLES: TenantTable[] = [];

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ClinicalDB {}
