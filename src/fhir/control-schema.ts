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
  {
    version: 23,
    name: 'FHIR: SMART apps (standalone launch with PKCE) and their one-time authorization codes',
    statements: [
      `create table smart_apps (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         name text not null,
         redirect_uris text[] not null,
         scopes text[] not null,
         created_by text references users (id) on delete set null,
         created_at timestamptz not null default now(),
         revoked_at timestamptz)`,
      `create index smart_apps_by_clinic on smart_apps (clinic_id, created_at)`,
      // Only the code's SHA-256 is kept; a code works once, for two minutes, with its PKCE verifier.
      `create table smart_authorizations (
         code_hash text primary key,
         app_id text not null references smart_apps (id) on delete cascade,
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text references users (id) on delete cascade,
         patient_account_id text,
         patient_id text,
         scopes text[] not null,
         redirect_uri text not null,
         code_challenge text not null,
         expires_at timestamptz not null,
         used_at timestamptz)`,
      `create index smart_authorizations_expiry on smart_authorizations (expires_at)`,
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
  smart_apps: {
    id: text(),
    clinic_id: text(),
    name: text(),
    redirect_uris: textArray(),
    scopes: textArray(),
    created_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    revoked_at: timestamptz().nullable(),
  },
  smart_authorizations: {
    code_hash: text(),
    app_id: text(),
    clinic_id: text(),
    user_id: text().nullable(),
    patient_account_id: text().nullable(),
    patient_id: text().nullable(),
    scopes: textArray(),
    redirect_uri: text(),
    code_challenge: text(),
    expires_at: timestamptz(),
    used_at: timestamptz().nullable(),
  },
};
