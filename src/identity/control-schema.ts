import { bigint, boolean, integer, jsonb, oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Identity's control-plane tables: staff accounts, their sessions, TOTP second factors, and the identity audit
 * (sign-ins, MFA events, role, grant and connection changes). `src/schema.ts` composes these parts with the
 * other domains' into the control-plane migrations; the version numbers are global.
 */
export const IDENTITY_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 1,
    name: 'regions, clinics, users, memberships, sessions, moves',
    statements: [
      `create table users (
         id text primary key,
         email text not null,
         name text not null,
         password_hash text,
         is_operator boolean not null default false,
         failed_logins integer not null default 0,
         locked_until timestamptz,
         created_at timestamptz not null default now())`,
      `create unique index users_email on users (lower(email))`,
      `create table sessions (
         token_hash text primary key,
         user_id text not null references users (id) on delete cascade,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         revoked_at timestamptz)`,
      `create index sessions_by_user on sessions (user_id)`,
    ],
  },
  {
    version: 5,
    name: 'identity: sign-in audit, SSO connections and identities, derived roles, grants, MFA',
    statements: [
      // Every sign-in (good or bad), MFA event, role, grant and connection change. No foreign keys: the record
      // outlives what it names. `clinic_id` is null for events that belong to no clinic (an operator signing in).
      `create table identity_audit (
         id bigserial primary key,
         clinic_id text,
         actor_kind text not null check (actor_kind in ('user', 'scim_token', 'idp', 'anonymous', 'system')),
         actor_id text,
         action text not null,
         outcome text not null check (outcome in ('success', 'failure')),
         reason text,
         resource_type text,
         resource_id text,
         before jsonb,
         after jsonb,
         ip text,
         request_id text,
         at timestamptz not null default now())`,
      `create index identity_audit_by_clinic on identity_audit (clinic_id, at)`,
      `create index identity_audit_by_actor on identity_audit (actor_id, at)`,
      // TOTP for local accounts: the secret sealed with the deployment key; the last accepted time step is kept
      // so a code cannot be used twice.
      `create table user_mfa (
         user_id text primary key references users (id) on delete cascade,
         secret_ciphertext text not null,
         confirmed_at timestamptz,
         last_step bigint,
         created_at timestamptz not null default now())`,
      `create table mfa_recovery_codes (
         user_id text not null references users (id) on delete cascade,
         code_hash text not null,
         used_at timestamptz,
         primary key (user_id, code_hash))`,
      // The half-finished sign-in between a correct password and a correct second factor.
      `create table mfa_challenges (
         token_hash text primary key,
         user_id text not null references users (id) on delete cascade,
         attempts integer not null default 0,
         expires_at timestamptz not null,
         consumed_at timestamptz)`,
    ],
  },
  {
    version: 6,
    name: 'sessions remember how they were authenticated',
    statements: [
      // A clinic that requires MFA refuses sessions signed in with a password alone; SSO sessions are the IdP's
      // business. Sessions that exist before this migration were all password sign-ins.
      `alter table sessions add column auth_method text not null default 'password'
         check (auth_method in ('password', 'totp', 'recovery_code', 'saml', 'oidc'))`,
      // Expired challenges of a user are swept when the user starts a new one.
      `create index mfa_challenges_by_user on mfa_challenges (user_id)`,
    ],
  },
  {
    version: 9,
    name: 'invitations to join a clinic',
    statements: [
      // A one-time link to join a clinic with a role: the first admin of a new clinic, or staff a clinic admin
      // invites. Only the token's SHA-256 is kept. One open invitation per address and clinic: inviting again
      // replaces the link.
      `create table invitations (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         email text not null,
         name text not null,
         role text not null,
         token_hash text not null unique,
         invited_by text references users (id) on delete set null,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         accepted_at timestamptz,
         accepted_by text references users (id) on delete set null,
         revoked_at timestamptz)`,
      `create index invitations_by_clinic on invitations (clinic_id, created_at)`,
      `create unique index invitations_open on invitations (clinic_id, lower(email)) where accepted_at is null and revoked_at is null`,
    ],
  },
];

/** How a session was signed in: a password alone, a password and a second factor, or a clinic's IdP. */
export const AUTH_METHODS = ['password', 'totp', 'recovery_code', 'saml', 'oidc'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export const IDENTITY_CONTROL_COLUMNS = {
  users: {
    id: text(),
    email: text(),
    name: text(),
    password_hash: text().nullable(),
    is_operator: boolean().hasDefault(),
    failed_logins: integer().hasDefault(),
    locked_until: timestamptz().nullable(),
    created_at: timestamptz().hasDefault(),
  },
  sessions: {
    token_hash: text(),
    user_id: text(),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    revoked_at: timestamptz().nullable(),
    auth_method: oneOf(AUTH_METHODS).hasDefault(),
  },
  identity_audit: {
    id: bigint().hasDefault(),
    clinic_id: text().nullable(),
    actor_kind: oneOf(['user', 'scim_token', 'idp', 'anonymous', 'system']),
    actor_id: text().nullable(),
    action: text(),
    outcome: oneOf(['success', 'failure']),
    reason: text().nullable(),
    resource_type: text().nullable(),
    resource_id: text().nullable(),
    before: jsonb<unknown>().nullable().insertOnly(),
    after: jsonb<unknown>().nullable().insertOnly(),
    ip: text().nullable(),
    request_id: text().nullable(),
    at: timestamptz().hasDefault(),
  },
  user_mfa: {
    user_id: text(),
    secret_ciphertext: text(),
    confirmed_at: timestamptz().nullable(),
    last_step: bigint().nullable(),
    created_at: timestamptz().hasDefault(),
  },
  mfa_recovery_codes: {
    user_id: text(),
    code_hash: text(),
    used_at: timestamptz().nullable(),
  },
  mfa_challenges: {
    token_hash: text(),
    user_id: text(),
    attempts: integer().hasDefault(),
    expires_at: timestamptz(),
    consumed_at: timestamptz().nullable(),
  },
  invitations: {
    id: text(),
    clinic_id: text(),
    email: text(),
    name: text(),
    role: text(),
    token_hash: text(),
    invited_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    accepted_at: timestamptz().nullable(),
    accepted_by: text().nullable(),
    revoked_at: timestamptz().nullable(),
  },
};

export type IdentityControlDB = Database<typeof IDENTITY_CONTROL_COLUMNS>;
