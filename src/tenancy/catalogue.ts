/**
 * Every tenant table, parents before children (the order rows are copied in and the reverse of the order
 * they are removed in). `key` is the primary key, which orders rows for checksums and exports.
 * `catalogue.test.ts` fails when a migration adds a table that is not listed here.
 */
export interface TenantTable {
  name: string;
  key: string[];
}

export const TENANT_TABLES: TenantTable[] = [
  { name: 'clinic', key: ['clinic_id'] },
  { name: 'patients', key: ['clinic_id', 'id'] },
];
