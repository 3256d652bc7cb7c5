import { quoteIdent as q } from '../db/pg.js';

/**
 * The shape of a tenant (or region) migration and the statements every tenant table needs. Domains declare
 * their own migrations with these; `src/schema.ts` puts them in one ordered list.
 */
export interface TenantMigration {
  version: number;
  name: string;
  up: (schema: string) => string[];
}

/** One tenant migration of the parts several domains contribute to one version, run in the order given. */
export const joinTenantParts = (parts: TenantMigration[]): TenantMigration => ({
  version: parts[0]!.version,
  name: parts[0]!.name,
  up: (schema) => parts.flatMap((p) => p.up(schema)),
});

/**
 * A schema of its own in every region database, beside the tenant stores (the PHI access trail): migrated with
 * the region by `fleet.ts`, the app role getting `privileges` on its tables.
 */
export interface RegionSchema {
  schema: string;
  migrations: TenantMigration[];
  privileges: string;
  /** Statements run after the schema is migrated, each time the region is prepared (start, `polyclinic migrate`). */
  maintenance?: (schema: string) => string[];
}

/** A tenant table as moves and exports see it: its name and primary key (which orders its rows). */
export interface TenantTable {
  name: string;
  key: string[];
  /**
   * Columns that are the store's own bookkeeping, not the clinic's data (the anchor's placement epoch, the
   * outbox's transaction ids): they may differ between two stores holding the same rows, so checksums leave them out.
   */
  storeLocal?: string[];
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
