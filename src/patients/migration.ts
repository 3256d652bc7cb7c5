import { date, integer, oneOf, text, timestamptz, type Database, type Table } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * The patients table, in every placement. It was created in tenant version 1 together with tenancy's anchor
 * row (`tenancy/migrations.ts`), so this part carries that version and its recorded name; `src/schema.ts`
 * runs the anchor's part first.
 */
export const PATIENTS_MIGRATIONS: TenantMigration[] = [
  {
    version: 1,
    name: 'clinic anchor and patients',
    up: (s) => [
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
];

export const PATIENTS_TABLES: TenantTable[] = [{ name: 'patients', key: ['clinic_id', 'id'] }];

export const PATIENT_SEXES = ['female', 'male', 'other', 'unknown'] as const;

export const PATIENTS_COLUMNS = {
  patients: {
    clinic_id: text(),
    id: text(),
    mrn: text().nullable(),
    given_name: text(),
    family_name: text(),
    birth_date: date(),
    sex: oneOf(PATIENT_SEXES).hasDefault(),
    email: text().nullable(),
    phone: text().nullable(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
};

/** Row shape of `patients` in every placement. */
export type PatientsTable = Table<typeof PATIENTS_COLUMNS.patients>;
export type PatientsDB = Database<typeof PATIENTS_COLUMNS>;
