import { EVENTS_TABLES } from '../events/migration.js';
import { SCHEDULING_TABLES } from '../scheduling/migration.js';
import { CLINICAL_TABLES } from '../clinical/migration.js';

/**
 * Every tenant table, parents before children (the order rows are copied in and the reverse of the order
 * they are removed in). `key` is the primary key, which orders rows for checksums and exports.
 * `catalogue.test.ts` fails when a migration adds a table that is not listed here.
 */
export type { TenantTable } from './migration-kit.js';
import type { TenantTable } from './migration-kit.js';

export const TENANT_TABLES: TenantTable[] = [
  { name: 'clinic', key: ['clinic_id'] },
  { name: 'patients', key: ['clinic_id', 'id'] },
  ...EVENTS_TABLES,
  ...SCHEDULING_TABLES,
  ...CLINICAL_TABLES,
];
