import { jsonb, text, textArray, timestamptz } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * FHIR's control-plane tables: the SMART Backend Services clients a clinic's admin registers (an EHR, with
 * its public keys and the scopes it may ask for), and the assertion ids each has used, so a signed assertion
 * cannot be replayed while it is still unexpired. Composed by `src/schema.ts`.
 */
export const FHIR_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 17,
    name: 'FHIR: SMART Backend Services clients and their used assertion ids',
    statements: [
      `create table fhir_clients (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         name text not null,
         jwks jsonb not null,
         scopes text[] not null,
         created_by text references users (id) on delete set null,
         created_at timestamptz not null default now(),
         revoked_at timestamptz)`,
      `create index fhir_clients_by_clinic on fhir_clients (clinic_id, created_at)`,
      `create table fhir_client_assertions (
         client_id text not null references fhir_clients (id) on delete cascade,
         jti text not null,
         expires_at timestamptz not null,
         primary key (client_id, jti))`,
      `create index fhir_client_assertions_expiry on fhir_client_assertions (expires_at)`,
    ],
  },
];

export const FHIR_CONTROL_COLUMNS = {
  fhir_clients: {
    id: text(),
    clinic_id: text(),
    name: text(),
    jwks: jsonb<{ keys: Record<string, unknown>[] }>(),
    scopes: textArray(),
    created_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    revoked_at: timestamptz().nullable(),
  },
  fhir_client_assertions: {
    client_id: text(),
    jti: text(),
    expires_at: timestamptz(),
  },
};
