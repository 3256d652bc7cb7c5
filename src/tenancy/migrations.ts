import { quoteIdent as q } from '../db/pg.js';
import { EVENTS_MIGRATIONS } from '../events/migration.js';
import { SCHEDULING_MIGRATIONS } from '../scheduling/migration.js';
import { CLINICAL_MIGRATIONS } from '../clinical/migration.js';
import { rlsStatements, type TenantMigration } from './migration-kit.js';
import { HELPER_SCHEMA } from './naming.js';

export { rlsStatements, type TenantMigration } from './migration-kit.js';

/**
 * Tenant migrations: the same list creates the same tables in the pooled schema, in a clinic's own schema
 * and in a clinic's own database. That sameness is what makes a placement move a plain copy and keeps RLS
 * uniform. Each migration gets the target schema and returns its statements; it must only touch that schema.
 *
 * Rules for every tenant table: `clinic_id` leads the primary key and every foreign key, every index leads
 * with `clinic_id`, RLS is enabled and forced with the `tenant_isolation` policy, and the table is listed
 * in `catalogue.ts` (a test compares the catalogue with the database).
 */
const CORE_MIGRATIONS: TenantMigration[] = [
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
      `create table ${q(s)}.patients (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         mrn text,
         given_name text not null,
         family_name text not null,
         birth_date date not null,
         sex text not null default 'unknown' check (sex in ('female', 'male', 'other', 'unknown')),
         email text,
         phone text,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id),
         unique (clinic_id, mrn))`,
      `create index patients_by_name on ${q(s)}.patients (clinic_id, family_name, given_name)`,
      ...rlsStatements(s, 'patients'),
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

/**
 * Every tenant migration of this build, in version order. Version ranges by domain: 1 core, 2 events,
 * 3 scheduling, 4 clinical records; later versions in any domain continue from the highest.
 */
export const TENANT_MIGRATIONS: TenantMigration[] = [
  ...CORE_MIGRATIONS,
  ...EVENTS_MIGRATIONS,
  ...SCHEDULING_MIGRATIONS,
  ...CLINICAL_MIGRATIONS,
].sort((a, b) => a.version - b.version);

export const latestTenantVersion = (migrations: TenantMigration[] = TENANT_MIGRATIONS): number =>
  migrations.reduce((m, x) => Math.max(m, x.version), 0);

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
    ...grantees.flatMap((g) => [
      `grant usage on schema ${h} to ${q(g)}`,
      `grant execute on all functions in schema ${h} to ${q(g)}`,
    ]),
  ];
}
