import { quoteIdent as q } from '../db/pg.js';

/**
 * The shape of a tenant (or region) migration and the statements every tenant table needs. Domains declare
 * their own migrations with these; `tenancy/migrations.ts` puts them in one ordered list.
 */
export interface TenantMigration {
  version: number;
  name: string;
  up: (schema: string) => string[];
}

/** A tenant table as moves and exports see it: its name and primary key (which orders its rows). */
export interface TenantTable {
  name: string;
  key: string[];
}

/** RLS for a tenant table: enabled, forced (the owner too), one policy pinned to `app.clinic_id`. */
export function rlsStatements(schema: string, table: string): string[] {
  const t = `${q(schema)}.${q(table)}`;
  return [
    `alter table ${t} enable row level security`,
    `alter table ${t} force row level security`,
    `create policy tenant_isolation on ${t} using (clinic_id = current_setting('app.clinic_id', true)) with check (clinic_id = current_setting('app.clinic_id', true))`,
  ];
}
