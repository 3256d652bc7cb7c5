import { oneOf, text, timestamptz, type Database } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';
import { SURROGATE_KINDS } from './allow-lists.js';

/**
 * Tenant migration 11: the re-identification lookup of the analytics scrubber. A patient (provider,
 * appointment, encounter) reference leaves the region only as a random surrogate; the pairing lives here,
 * in the clinic's own store and region, and moves with the clinic. Nothing outside the region can turn a
 * surrogate back into a record, and the surrogate is not computed from the id, so it cannot be recomputed.
 */
export const ANALYTICS_MIGRATIONS: TenantMigration[] = [
  {
    version: 11,
    name: 'analytics surrogates',
    up: (s) => [
      `create table ${q(s)}.analytics_surrogates (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         kind text not null check (kind in (${SURROGATE_KINDS.map((k) => `'${k}'`).join(', ')})),
         ref text not null,
         surrogate text not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, kind, ref),
         unique (clinic_id, surrogate))`,
      ...rlsStatements(s, 'analytics_surrogates'),
    ],
  },
];

export const ANALYTICS_TABLES: TenantTable[] = [{ name: 'analytics_surrogates', key: ['clinic_id', 'kind', 'ref'] }];

export const ANALYTICS_COLUMNS = {
  analytics_surrogates: {
    clinic_id: text(),
    kind: oneOf(SURROGATE_KINDS),
    ref: text(),
    surrogate: text(),
    created_at: timestamptz().hasDefault(),
  },
};

export type AnalyticsDB = Database<typeof ANALYTICS_COLUMNS>;
