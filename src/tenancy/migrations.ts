import { quoteIdent as q } from '../db/pg.js';
import { text, timestamptz, bigint } from '../db/columns.js';
import { rlsStatements, type TenantMigration } from './migration-kit.js';
import { HELPER_SCHEMA } from './naming.js';

export { rlsStatements, type TenantMigration } from './migration-kit.js';

/**
 * Tenant migrations: the same list creates the same tables in the pooled schema, in a clinic's own schema
 * and in a clinic's own database. That sameness is what makes a placement move a plain copy and keeps RLS
 * uniform. Each migration gets the target schema and returns its statements; it must only touch that schema.
 *
 * Tenancy owns one table, the clinic's anchor row; every other tenant table belongs to a domain, which
 * declares its migrations and table types beside its code (`patients/migration.ts`, `events/migration.ts`,
 * …). `src/schema.ts` composes them into the one ordered list every store is migrated with (`Platform`
 * hands it to `fleet.ts` and `storage.ts`); tenancy never imports a domain.
 *
 * Rules for every tenant table: `clinic_id` leads the primary key and every foreign key, every index leads
 * with `clinic_id`, RLS is enabled and forced with the `tenant_isolation` policy, and the table is listed
 * in the catalogue (`src/schema.ts`; a test compares the catalogue with the database).
 */
export const ANCHOR_MIGRATIONS: TenantMigration[] = [
  {
    version: 1,
    name: 'clinic anchor and patients',
    up: (s) => [
      // The clinic's anchor row in this store. Every tenant table references it, so a write that reaches a
      // store the clinic has moved out of fails on the foreign key instead of landing where nobody reads.
      `create table ${q(s)}.clinic (
         clinic_id text primary key,
         created_at timestamptz not null default now())`,
      ...rlsStatements(s, 'clinic'),
    ],
  },
  {
    version: 6,
    name: 'placement epoch on the clinic anchor',
    up: (s) => [
      // The epoch since which this store is the clinic's home, null once the clinic has left it; every tenant
      // statement's pin checks it against the node's belief (tenancy/placement/fence.ts). Stores made before
      // this migration hold their clinic at the control plane's first epoch.
      `alter table ${q(s)}.clinic add column placement_epoch bigint default 1`,
    ],
  },
];

export const ANCHOR_COLUMNS = {
  clinic: { clinic_id: text(), created_at: timestamptz().hasDefault(), placement_epoch: bigint().nullable().hasDefault() },
};

export const latestTenantVersion = (migrations: TenantMigration[]): number => migrations.reduce((m, x) => Math.max(m, x.version), 0);

/**
 * Per-database helpers, created in every region database and every clinic database.
 *
 * `enter_clinic` is the first statement of every tenant transaction: it pins the clinic for RLS and, for a
 * write, takes a shared advisory lock on the clinic. A placement move holds the exclusive lock while it
 * copies, so a write that slips past the API's freeze check is refused (SQLSTATE PCF01) rather than lost.
 */
export function databaseHelperStatements(grantees: string[]): string[] {
  const h = q(HELPER_SCHEMA);
  return [
    `create schema if not exists ${h}`,
    `create or replace function ${h}.clinic_lock_key(p_clinic text) returns bigint
       language sql immutable as $$ select hashtextextended('polyclinic:clinic:' || p_clinic, 0) $$`,
    `create or replace function ${h}.enter_clinic(p_clinic text, p_write boolean) returns void
       language plpgsql as $$
       begin
         perform set_config('app.clinic_id', p_clinic, true);
         if p_write and not pg_try_advisory_xact_lock_shared(${h}.clinic_lock_key(p_clinic)) then
           raise exception 'clinic % is frozen for a placement move', p_clinic using errcode = 'PCF01';
         end if;
       end $$`,
    ...grantees.flatMap((g) => [`grant usage on schema ${h} to ${q(g)}`, `grant execute on all functions in schema ${h} to ${q(g)}`]),
  ];
}
