import type { ColumnType, Generated } from 'kysely';
import type { PlacementModel } from '../tenancy/naming.js';

/**
 * The control plane is global and holds no PHI: which clinics exist, where each one's data lives, the
 * regions, staff identities and their memberships, sessions, and the record of placement moves.
 */
export const CONTROL_MIGRATIONS: { version: number; name: string; statements: string[] }[] = [
  {
    version: 1,
    name: 'regions, clinics, users, memberships, sessions, moves',
    statements: [
      `create table regions (
         id text primary key,
         jurisdiction text not null,
         failover_region_id text references regions (id),
         created_at timestamptz not null default now())`,
      `create table clinics (
         id text primary key,
         slug text not null unique,
         name text not null,
         tier text not null check (tier in ('small', 'mid', 'enterprise')),
         specialty text,
         data_region text not null references regions (id),
         placement_model text not null check (placement_model in ('pooled', 'schema', 'database')),
         placement_database text not null,
         placement_schema text not null,
         status text not null default 'provisioning' check (status in ('provisioning', 'active', 'moving', 'suspended')),
         schema_version integer not null default 0,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now())`,
      `create index clinics_by_region on clinics (data_region, placement_model)`,
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
      `create table memberships (
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text not null references users (id) on delete cascade,
         role text not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, user_id))`,
      `create index memberships_by_user on memberships (user_id)`,
      `create table sessions (
         token_hash text primary key,
         user_id text not null references users (id) on delete cascade,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         revoked_at timestamptz)`,
      `create index sessions_by_user on sessions (user_id)`,
      `create table placement_moves (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         from_model text not null,
         to_model text not null,
         started_at timestamptz not null default now(),
         finished_at timestamptz,
         outcome text not null default 'running' check (outcome in ('running', 'completed', 'failed')),
         detail jsonb)`,
    ],
  },
  {
    version: 2,
    name: 'layered settings with history',
    statements: [
      // One row per (layer, namespace): only the keys that layer sets. `scope_id` is '' for the platform,
      // the region id, the clinic id, or '<clinicId>/<providerId>'.
      `create table setting_layers (
         scope text not null check (scope in ('platform', 'region', 'clinic', 'provider')),
         scope_id text not null,
         namespace text not null,
         clinic_id text references clinics (id) on delete cascade,
         values jsonb not null default '{}',
         locked text[] not null default '{}',
         provider_overridable text[] not null default '{}',
         version integer not null,
         updated_by text,
         updated_at timestamptz not null default now(),
         primary key (scope, scope_id, namespace))`,
      `create table setting_history (
         scope text not null,
         scope_id text not null,
         namespace text not null,
         version integer not null,
         before jsonb,
         after jsonb not null,
         actor_id text,
         reason text not null,
         restored_from integer,
         at timestamptz not null default now(),
         primary key (scope, scope_id, namespace, version))`,
    ],
  },
  {
    version: 3,
    name: 'feature flags with lifecycle, clinic choices and history',
    statements: [
      `create table flags (
         name text primary key check (name ~ '^[a-z0-9][a-z0-9._-]{1,99}$'),
         description text not null default '',
         owner text not null,
         type text not null check (type in ('release', 'experiment', 'operational', 'kill-switch', 'permission')),
         enabled boolean not null default false,
         strategies jsonb not null default '[]',
         variants jsonb not null default '[]',
         dependencies jsonb not null default '[]',
         clinic_controllable boolean not null default false,
         permanent boolean not null default false,
         retire_by date,
         version integer not null,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         updated_by text)`,
      `create table flag_segments (
         id serial primary key,
         name text not null unique,
         constraints jsonb not null default '[]',
         updated_at timestamptz not null default now())`,
      // A clinic's own choice for a flag the platform lets clinics control.
      `create table flag_clinic_choices (
         clinic_id text not null references clinics (id) on delete cascade,
         flag_name text not null references flags (name) on delete cascade,
         enabled boolean not null,
         version integer not null,
         updated_by text,
         updated_at timestamptz not null default now(),
         primary key (clinic_id, flag_name))`,
      // scope is 'platform' for the definition, or the clinic id for a clinic's choice.
      `create table flag_history (
         flag_name text not null,
         scope text not null,
         version integer not null,
         before jsonb,
         after jsonb,
         actor_id text,
         reason text not null,
         restored_from integer,
         at timestamptz not null default now(),
         primary key (flag_name, scope, version))`,
    ],
  },
  {
    version: 4,
    name: 'SCIM provisioning: tokens, users, groups, role mapping, audit',
    statements: [
      // Bearer tokens a clinic's IdP uses for SCIM; only the SHA-256 of the token is kept.
      `create table scim_tokens (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         token_hash text not null unique,
         label text not null,
         created_by text references users (id) on delete set null,
         created_at timestamptz not null default now(),
         last_used_at timestamptz,
         revoked_at timestamptz)`,
      `create index scim_tokens_by_clinic on scim_tokens (clinic_id, created_at)`,
      // The SCIM view of a provisioned user: one row per (clinic, user); `resource` is the canonical SCIM body,
      // the other columns are projections of it kept for uniqueness, filtering and paging.
      `create table scim_users (
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text not null unique references users (id) on delete cascade,
         user_name text not null,
         external_id text,
         active boolean not null default true,
         resource jsonb not null,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, user_id))`,
      `create unique index scim_users_user_name on scim_users (clinic_id, lower(user_name))`,
      `create index scim_users_external_id on scim_users (clinic_id, external_id)`,
      `create index scim_users_listing on scim_users (clinic_id, created_at, user_id)`,
      `create table scim_groups (
         clinic_id text not null references clinics (id) on delete cascade,
         id text not null,
         display_name text not null,
         external_id text,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id))`,
      `create index scim_groups_display_name on scim_groups (clinic_id, lower(display_name))`,
      `create index scim_groups_listing on scim_groups (clinic_id, created_at, id)`,
      // Both foreign keys carry the clinic: a group can only ever hold users of its own clinic.
      `create table scim_group_members (
         clinic_id text not null,
         group_id text not null,
         user_id text not null,
         display text,
         added_at timestamptz not null default now(),
         primary key (clinic_id, group_id, user_id),
         foreign key (clinic_id, group_id) references scim_groups (clinic_id, id) on delete cascade,
         foreign key (clinic_id, user_id) references scim_users (clinic_id, user_id) on delete cascade)`,
      `create index scim_group_members_by_user on scim_group_members (clinic_id, user_id)`,
      // Ordered rules: directory group -> base role; `default_role` null means deny (no membership).
      `create table role_mappings (
         clinic_id text primary key references clinics (id) on delete cascade,
         rules jsonb not null default '[]',
         default_role text,
         version integer not null,
         updated_by text,
         updated_at timestamptz not null default now())`,
      // No foreign keys: the record of a change outlives the user, group or token it names.
      `create table scim_audit (
         id bigserial primary key,
         clinic_id text not null,
         actor_kind text not null check (actor_kind in ('scim_token', 'user')),
         actor_id text not null,
         action text not null,
         resource_type text not null,
         resource_id text,
         before jsonb,
         after jsonb,
         request_id text,
         at timestamptz not null default now())`,
      `create index scim_audit_by_clinic on scim_audit (clinic_id, at)`,
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
      // A clinic's identity providers. `config` holds what is not secret (entity ids, URLs, certificates,
      // issuer, client id); `secret_ciphertext` holds the OIDC client secret sealed with the deployment key.
      `create table sso_connections (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         protocol text not null check (protocol in ('saml', 'oidc')),
         name text not null,
         enabled boolean not null default true,
         config jsonb not null,
         secret_ciphertext text,
         jit boolean not null default true,
         role_rules jsonb not null default '[]',
         default_role text,
         version integer not null default 1,
         created_by text,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now())`,
      `create index sso_connections_by_clinic on sso_connections (clinic_id, created_at)`,
      // Email domains a clinic claims; once proved (DNS TXT), sign-in by email finds the clinic's connection.
      // Any clinic may claim a domain, so nobody can squat one; only one clinic can hold it verified.
      `create table sso_domains (
         clinic_id text not null references clinics (id) on delete cascade,
         domain text not null,
         connection_id text not null references sso_connections (id) on delete cascade,
         verification_token text not null,
         verified_at timestamptz,
         created_at timestamptz not null default now(),
         primary key (clinic_id, domain))`,
      `create unique index sso_domains_verified on sso_domains (domain) where verified_at is not null`,
      // The link from an IdP subject to a platform account: by (connection, subject), never by email.
      `create table sso_identities (
         connection_id text not null references sso_connections (id) on delete cascade,
         subject text not null,
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text not null references users (id) on delete cascade,
         email text,
         last_claims jsonb,
         last_login_at timestamptz,
         created_at timestamptz not null default now(),
         primary key (connection_id, subject))`,
      `create index sso_identities_by_user on sso_identities (user_id)`,
      // Login transactions in flight (SAML AuthnRequest id, OIDC state, nonce and PKCE verifier), shared by
      // every API node; a flow is consumed once.
      `create table sso_flows (
         id text primary key,
         connection_id text not null references sso_connections (id) on delete cascade,
         request_id text,
         nonce text,
         code_verifier text,
         return_to text,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         consumed_at timestamptz)`,
      `create index sso_flows_by_request on sso_flows (connection_id, request_id)`,
      // Assertion ids already accepted, kept until the assertion could no longer be valid anyway.
      `create table saml_replay (
         connection_id text not null,
         assertion_id text not null,
         expires_at timestamptz not null,
         primary key (connection_id, assertion_id))`,
      // A clinic's own roles: a base role plus and minus named permissions.
      `create table clinic_roles (
         clinic_id text not null references clinics (id) on delete cascade,
         key text not null,
         name text not null,
         base_role text not null,
         added text[] not null default '{}',
         removed text[] not null default '{}',
         version integer not null default 1,
         created_by text,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, key))`,
      // Extra permissions for one user in one clinic, optionally expiring.
      `create table role_grants (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text not null references users (id) on delete cascade,
         permission text not null,
         reason text not null,
         expires_at timestamptz,
         granted_by text,
         created_at timestamptz not null default now(),
         revoked_at timestamptz)`,
      `create index role_grants_by_member on role_grants (clinic_id, user_id)`,
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
    version: 7,
    name: 'SSO hand-off codes; identities blocked by the directory',
    statements: [
      // A finished SSO sign-in hands the web app a one-time code, not a session token: the code travels in a
      // redirect URL (history, proxies), the token only in the body of the exchange that redeems it.
      `create table sso_handoffs (
         code_hash text primary key,
         user_id text not null references users (id) on delete cascade,
         clinic_id text not null references clinics (id) on delete cascade,
         connection_id text not null references sso_connections (id) on delete cascade,
         method text not null check (method in ('saml', 'oidc')),
         expires_at timestamptz not null,
         consumed_at timestamptz)`,
      // Set when the clinic's directory (SCIM) deleted the user: the link stays, so the IdP subject cannot
      // come back as a fresh just-in-time account.
      `alter table sso_identities add column blocked_reason text`,
    ],
  },
  {
    version: 8,
    name: 'placement epoch',
    statements: [
      // Grows by one when a move freezes the clinic and again when it switches the clinic to its new store; each
      // store's anchor row carries the epoch since which it is the clinic's home (tenancy/placement/fence.ts).
      `alter table clinics add column placement_epoch bigint not null default 1`,
    ],
  },
];

export type ClinicTier = 'small' | 'mid' | 'enterprise';
export type ClinicStatus = 'provisioning' | 'active' | 'moving' | 'suspended';

export type SettingScope = 'platform' | 'region' | 'clinic' | 'provider';

/** How a session was signed in: a password alone, a password and a second factor, or a clinic's IdP. */
export type AuthMethod = 'password' | 'totp' | 'recovery_code' | 'saml' | 'oidc';

export type Json<T> = ColumnType<T, string, string>;

export interface ControlDB {
  identity_audit: {
    id: Generated<number>;
    clinic_id: string | null;
    actor_kind: 'user' | 'scim_token' | 'idp' | 'anonymous' | 'system';
    actor_id: string | null;
    action: string;
    outcome: 'success' | 'failure';
    reason: string | null;
    resource_type: string | null;
    resource_id: string | null;
    before: ColumnType<unknown, string | null, never>;
    after: ColumnType<unknown, string | null, never>;
    ip: string | null;
    request_id: string | null;
    at: Generated<Date>;
  };
  sso_connections: {
    id: string;
    clinic_id: string;
    protocol: 'saml' | 'oidc';
    name: string;
    enabled: Generated<boolean>;
    config: Json<Record<string, unknown>>;
    secret_ciphertext: string | null;
    jit: Generated<boolean>;
    role_rules: Json<unknown[]>;
    default_role: string | null;
    version: Generated<number>;
    created_by: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  sso_domains: {
    domain: string;
    clinic_id: string;
    connection_id: string;
    verification_token: string;
    verified_at: Date | null;
    created_at: Generated<Date>;
  };
  sso_identities: {
    connection_id: string;
    subject: string;
    clinic_id: string;
    user_id: string;
    email: string | null;
    last_claims: ColumnType<unknown, string | null, string | null>;
    last_login_at: Date | null;
    blocked_reason: string | null;
    created_at: Generated<Date>;
  };
  sso_handoffs: {
    code_hash: string;
    user_id: string;
    clinic_id: string;
    connection_id: string;
    method: 'saml' | 'oidc';
    expires_at: Date;
    consumed_at: Date | null;
  };
  sso_flows: {
    id: string;
    connection_id: string;
    request_id: string | null;
    nonce: string | null;
    code_verifier: string | null;
    return_to: string | null;
    created_at: Generated<Date>;
    expires_at: Date;
    consumed_at: Date | null;
  };
  saml_replay: { connection_id: string; assertion_id: string; expires_at: Date };
  clinic_roles: {
    clinic_id: string;
    key: string;
    name: string;
    base_role: string;
    added: string[];
    removed: string[];
    version: Generated<number>;
    created_by: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  role_grants: {
    id: string;
    clinic_id: string;
    user_id: string;
    permission: string;
    reason: string;
    expires_at: Date | null;
    granted_by: string | null;
    created_at: Generated<Date>;
    revoked_at: Date | null;
  };
  user_mfa: { user_id: string; secret_ciphertext: string; confirmed_at: Date | null; last_step: ColumnType<string | null, number | bigint | null, number | bigint | null>; created_at: Generated<Date> };
  mfa_recovery_codes: { user_id: string; code_hash: string; used_at: Date | null };
  mfa_challenges: { token_hash: string; user_id: string; attempts: Generated<number>; expires_at: Date; consumed_at: Date | null };
  scim_tokens: {
    id: string;
    clinic_id: string;
    token_hash: string;
    label: string;
    created_by: string | null;
    created_at: Generated<Date>;
    last_used_at: Date | null;
    revoked_at: Date | null;
  };
  scim_users: {
    clinic_id: string;
    user_id: string;
    user_name: string;
    external_id: string | null;
    active: boolean;
    resource: Json<Record<string, unknown>>;
    version: number;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  scim_groups: {
    clinic_id: string;
    id: string;
    display_name: string;
    external_id: string | null;
    version: number;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  scim_group_members: { clinic_id: string; group_id: string; user_id: string; display: string | null; added_at: Generated<Date> };
  role_mappings: {
    clinic_id: string;
    rules: Json<unknown[]>;
    default_role: string | null;
    version: number;
    updated_by: string | null;
    updated_at: Generated<Date>;
  };
  scim_audit: {
    id: Generated<number>;
    clinic_id: string;
    actor_kind: 'scim_token' | 'user';
    actor_id: string;
    action: string;
    resource_type: string;
    resource_id: string | null;
    before: ColumnType<unknown, string | null, never>;
    after: ColumnType<unknown, string | null, never>;
    request_id: string | null;
    at: Generated<Date>;
  };
  flags: {
    name: string;
    description: string;
    owner: string;
    type: 'release' | 'experiment' | 'operational' | 'kill-switch' | 'permission';
    enabled: boolean;
    strategies: Json<unknown[]>;
    variants: Json<unknown[]>;
    dependencies: Json<unknown[]>;
    clinic_controllable: boolean;
    permanent: boolean;
    retire_by: string | null;
    version: number;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    updated_by: string | null;
  };
  flag_segments: { id: Generated<number>; name: string; constraints: Json<unknown[]>; updated_at: Generated<Date> };
  flag_clinic_choices: { clinic_id: string; flag_name: string; enabled: boolean; version: number; updated_by: string | null; updated_at: Generated<Date> };
  flag_history: {
    flag_name: string;
    scope: string;
    version: number;
    before: ColumnType<unknown, string | null, never>;
    after: ColumnType<unknown, string | null, never>;
    actor_id: string | null;
    reason: string;
    restored_from: number | null;
    at: Generated<Date>;
  };
  setting_layers: {
    scope: SettingScope;
    scope_id: string;
    namespace: string;
    clinic_id: string | null;
    values: ColumnType<Record<string, unknown>, string, string>;
    locked: string[];
    provider_overridable: string[];
    version: number;
    updated_by: string | null;
    updated_at: Generated<Date>;
  };
  setting_history: {
    scope: SettingScope;
    scope_id: string;
    namespace: string;
    version: number;
    before: ColumnType<unknown, string | null, never>;
    after: ColumnType<unknown, string, never>;
    actor_id: string | null;
    reason: string;
    restored_from: number | null;
    at: Generated<Date>;
  };
  regions: {
    id: string;
    jurisdiction: string;
    failover_region_id: string | null;
    created_at: Generated<Date>;
  };
  clinics: {
    id: string;
    slug: string;
    name: string;
    tier: ClinicTier;
    specialty: string | null;
    data_region: string;
    placement_model: PlacementModel;
    placement_database: string;
    placement_schema: string;
    placement_epoch: Generated<number>;
    status: Generated<ClinicStatus>;
    schema_version: Generated<number>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  users: {
    id: string;
    email: string;
    name: string;
    password_hash: string | null;
    is_operator: Generated<boolean>;
    failed_logins: Generated<number>;
    locked_until: Date | null;
    created_at: Generated<Date>;
  };
  memberships: {
    clinic_id: string;
    user_id: string;
    role: string;
    created_at: Generated<Date>;
  };
  sessions: {
    token_hash: string;
    user_id: string;
    created_at: Generated<Date>;
    expires_at: Date;
    revoked_at: Date | null;
    auth_method: ColumnType<AuthMethod, AuthMethod | undefined, AuthMethod>;
  };
  placement_moves: {
    id: string;
    clinic_id: string;
    from_model: string;
    to_model: string;
    started_at: Generated<Date>;
    finished_at: Date | null;
    outcome: Generated<'running' | 'completed' | 'failed'>;
    detail: ColumnType<unknown, string | null, string | null> | null;
  };
}
