import type { TenantMigration, TenantTable } from '../tenancy/migration-kit.js';

/** Tenant migrations of the scheduling domain (version 3); filled in by the scheduling work. */
export const SCHEDULING_MIGRATIONS: TenantMigration[] = [];

/** The scheduling tables in foreign-key order, for moves and exports. */
export const SCHEDULING_TABLES: TenantTable[] = [];

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SchedulingDB {}
