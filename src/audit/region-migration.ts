import type { TenantMigration } from '../tenancy/migration-kit.js';

/**
 * The PHI access audit lives in each region's database, in schema `audit`, beside (not inside) the clinic
 * stores: it stays in the clinic's region, survives placement moves, and reads can be audited while a
 * clinic's writes are frozen. The app role gets SELECT and INSERT only: the trail is append-only.
 */
export const AUDIT_SCHEMA = 'audit';
export const AUDIT_REGION_MIGRATIONS: TenantMigration[] = [];
