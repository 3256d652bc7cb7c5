/**
 * The catalogue lists every tenant table, parents before children (the order rows are copied in and the
 * reverse of the order they are removed in). `key` is the primary key, which orders rows for checksums and
 * exports. Each domain lists its own tables; `src/schema.ts` assembles the catalogue and `Platform` carries it
 * (`tenantTables`) to moves, exports and store removal. `catalogue.test.ts` fails when a migration adds a
 * table that is not listed.
 */
export type { TenantTable } from './migration-kit.js';
import type { TenantTable } from './migration-kit.js';

/** Tenancy's own table: the clinic's anchor row, parent of every other tenant table. */
export const ANCHOR_TABLES: TenantTable[] = [{ name: 'clinic', key: ['clinic_id'], storeLocal: ['placement_epoch'] }];
