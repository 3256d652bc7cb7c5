import { integer, oneOf, text, textArray, timestamptz, type Database, type Table } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * Bulk Data exports live in the clinic's own store, beside the data they copy: the request and its state, and
 * the ndjson it produced, in parts. They are PHI, so they stay in the clinic's region and placement and move
 * with the clinic; any API node can answer the status and serve the files.
 */
export const FHIR_MIGRATIONS: TenantMigration[] = [
  {
    version: 14,
    name: 'FHIR Bulk Data exports',
    up: (s) => [
      `create table ${q(s)}.fhir_exports (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         level text not null check (level in ('system', 'patient')),
         types text[] not null,
         since timestamptz,
         status text not null default 'accepted' check (status in ('accepted', 'in_progress', 'completed', 'failed')),
         requested_by text not null,
         request_url text not null,
         error text,
         created_at timestamptz not null default now(),
         completed_at timestamptz,
         primary key (clinic_id, id))`,
      `create table ${q(s)}.fhir_export_files (
         clinic_id text not null,
         export_id text not null,
         resource_type text not null,
         part integer not null,
         lines integer not null,
         ndjson text not null,
         primary key (clinic_id, export_id, resource_type, part),
         foreign key (clinic_id, export_id) references ${q(s)}.fhir_exports (clinic_id, id) on delete cascade)`,
      ...rlsStatements(s, 'fhir_exports'),
      ...rlsStatements(s, 'fhir_export_files'),
    ],
  },
];

export const FHIR_TABLES: TenantTable[] = [
  { name: 'fhir_exports', key: ['clinic_id', 'id'] },
  { name: 'fhir_export_files', key: ['clinic_id', 'export_id', 'resource_type', 'part'] },
];

export const FHIR_COLUMNS = {
  fhir_exports: {
    clinic_id: text(),
    id: text(),
    level: oneOf(['system', 'patient']),
    types: textArray(),
    since: timestamptz().nullable(),
    status: oneOf(['accepted', 'in_progress', 'completed', 'failed']).hasDefault(),
    requested_by: text(),
    request_url: text(),
    error: text().nullable(),
    created_at: timestamptz().hasDefault(),
    completed_at: timestamptz().nullable(),
  },
  fhir_export_files: {
    clinic_id: text(),
    export_id: text(),
    resource_type: text(),
    part: integer(),
    lines: integer(),
    ndjson: text(),
  },
};

export type FhirDB = Database<typeof FHIR_COLUMNS>;
export type FhirExportsTable = Table<(typeof FHIR_COLUMNS)['fhir_exports']>;
