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
  {
    version: 25,
    name: 'FHIR: OpenID Connect for SMART apps (signing keys, nonce) and rotating refresh tokens',
    statements: [
      `alter table smart_authorizations add column nonce text`,
      // One consent of one person to one app: every token issued from it (access, refresh, id) belongs to it, so
      // ending it (app removed, member removed, patient signed out, a spent refresh token replayed) ends them all.
      `create table smart_grants (
         id text primary key,
         app_id text not null references smart_apps (id) on delete cascade,
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text references users (id) on delete cascade,
         patient_account_id text,
         patient_id text,
         scopes text[] not null,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         revoked_at timestamptz,
         revoked_reason text)`,
      `create index smart_grants_by_app on smart_grants (app_id) where revoked_at is null`,
      `create index smart_grants_by_user on smart_grants (clinic_id, user_id) where revoked_at is null`,
      `create index smart_grants_by_account on smart_grants (clinic_id, patient_account_id) where revoked_at is null`,
      // Only the SHA-256 of a refresh token is kept; each is spent by its one use (rotation).
      `create table smart_refresh_tokens (
         token_hash text primary key,
         grant_id text not null references smart_grants (id) on delete cascade,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         used_at timestamptz)`,
      `create index smart_refresh_tokens_by_grant on smart_refresh_tokens (grant_id)`,
      // The deployment's id_token signing keys (RS256): the private half sealed under the deployment secret.
      `create table smart_signing_keys (
         kid text primary key,
         public_jwk jsonb not null,
         private_sealed text not null,
         created_at timestamptz not null default now(),
         retired_at timestamptz)`,
    ],
  },
  {
    version: 27,
    name: 'FHIR: SMART EHR launch (launch URLs, one-time launch values) and rotation of the signing key',
    statements: [
      `alter table smart_apps add column launch_url text`,
      // The EHR launch's opaque value: bound to the clinic, the app, the staff member and the patient (and encounter)
      // of the chart it was opened from; only its SHA-256 is kept, it lives five minutes and works once.
      `create table smart_launches (
         launch_hash text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         app_id text not null references smart_apps (id) on delete cascade,
         user_id text not null references users (id) on delete cascade,
         patient_id text not null,
         encounter_id text,
         expires_at timestamptz not null,
         used_at timestamptz)`,
      `create index smart_launches_expiry on smart_launches (expires_at)`,
      `alter table smart_authorizations add column encounter_id text`,
      `alter table smart_grants add column encounter_id text`,
      // A rotated key stops signing at once and stays published until every token it signed has expired.
      `alter table smart_signing_keys add column superseded_at timestamptz`,
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
    launch_url: text().nullable(),
  },
  smart_launches: {
    launch_hash: text(),
    clinic_id: text(),
    app_id: text(),
    user_id: text(),
    patient_id: text(),
    encounter_id: text().nullable(),
    expires_at: timestamptz(),
    used_at: timestamptz().nullable(),
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
    nonce: text().nullable(),
    encounter_id: text().nullable(),
  },
  smart_grants: {
    id: text(),
    app_id: text(),
    clinic_id: text(),
    user_id: text().nullable(),
    patient_account_id: text().nullable(),
    patient_id: text().nullable(),
    scopes: textArray(),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    revoked_at: timestamptz().nullable(),
    revoked_reason: text().nullable(),
    encounter_id: text().nullable(),
  },
  smart_refresh_tokens: {
    token_hash: text(),
    grant_id: text(),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    used_at: timestamptz().nullable(),
  },
  smart_signing_keys: {
    kid: text(),
    public_jwk: jsonb<Record<string, unknown>>(),
    private_sealed: text(),
    created_at: timestamptz().hasDefault(),
    retired_at: timestamptz().nullable(),
    superseded_at: timestamptz().nullable(),
  },
};
