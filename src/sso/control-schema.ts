import { boolean, integer, jsonb, oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * SSO's control-plane tables: a clinic's identity providers and the email domains it has proved, the links
 * from IdP subjects to accounts, login flows in flight, replayed assertions and hand-off codes. Composed by
 * `src/schema.ts`; versions are global.
 */
export const SSO_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 5,
    name: 'identity: sign-in audit, SSO connections and identities, derived roles, grants, MFA',
    statements: [
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
    version: 10,
    name: 'break-glass PHI export requests; SAML signing keys, logout and SHA-1 opt-in',
    statements: [
      // Each SAML connection's own SP signing key: the private key sealed with the deployment secret (bound to
      // the connection), the certificate public (published in our SP metadata).
      `alter table sso_connections add column sp_key_ciphertext text`,
      `alter table sso_connections add column sp_certificate text`,
      // People the clinic's directory deleted, by the names an IdP may assert for them (externalId, userName;
      // lower-cased): SSO just-in-time provisioning must not bring back someone the directory removed, even one
      // who never signed in by SSO and so has no link to block. A later SCIM create of the same name lifts it.
      `create table sso_blocked_subjects (
         clinic_id text not null references clinics (id) on delete cascade,
         subject text not null,
         reason text not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, subject))`,
      // What single logout needs of a SAML sign-in (NameID and SessionIndex), carried from the ACS through the
      // hand-off code to the session it becomes; the row goes with its session.
      `alter table sso_handoffs add column saml_name_id text`,
      `alter table sso_handoffs add column saml_name_id_format text`,
      `alter table sso_handoffs add column saml_session_index text`,
      `create table saml_sessions (
         token_hash text primary key references sessions (token_hash) on delete cascade,
         connection_id text not null references sso_connections (id) on delete cascade,
         name_id text not null,
         name_id_format text,
         session_index text)`,
    ],
  },
];

export const SSO_PROTOCOLS = ['saml', 'oidc'] as const;

export const SSO_CONTROL_COLUMNS = {
  sso_connections: {
    id: text(),
    clinic_id: text(),
    protocol: oneOf(SSO_PROTOCOLS),
    name: text(),
    enabled: boolean().hasDefault(),
    config: jsonb<Record<string, unknown>>(),
    secret_ciphertext: text().nullable(),
    sp_key_ciphertext: text().nullable(),
    sp_certificate: text().nullable(),
    jit: boolean().hasDefault(),
    role_rules: jsonb<unknown[]>().hasDefault(),
    default_role: text().nullable(),
    version: integer().hasDefault(),
    created_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  sso_domains: {
    clinic_id: text(),
    domain: text(),
    connection_id: text(),
    verification_token: text(),
    verified_at: timestamptz().nullable(),
    created_at: timestamptz().hasDefault(),
  },
  sso_identities: {
    connection_id: text(),
    subject: text(),
    clinic_id: text(),
    user_id: text(),
    email: text().nullable(),
    last_claims: jsonb<unknown>().nullable(),
    last_login_at: timestamptz().nullable(),
    created_at: timestamptz().hasDefault(),
    blocked_reason: text().nullable(),
  },
  sso_flows: {
    id: text(),
    connection_id: text(),
    request_id: text().nullable(),
    nonce: text().nullable(),
    code_verifier: text().nullable(),
    return_to: text().nullable(),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    consumed_at: timestamptz().nullable(),
  },
  saml_replay: {
    connection_id: text(),
    assertion_id: text(),
    expires_at: timestamptz(),
  },
  sso_handoffs: {
    code_hash: text(),
    user_id: text(),
    clinic_id: text(),
    connection_id: text(),
    method: oneOf(SSO_PROTOCOLS),
    expires_at: timestamptz(),
    consumed_at: timestamptz().nullable(),
    saml_name_id: text().nullable(),
    saml_name_id_format: text().nullable(),
    saml_session_index: text().nullable(),
  },
  sso_blocked_subjects: {
    clinic_id: text(),
    subject: text(),
    reason: text(),
    created_at: timestamptz().hasDefault(),
  },
  saml_sessions: {
    token_hash: text(),
    connection_id: text(),
    name_id: text(),
    name_id_format: text().nullable(),
    session_index: text().nullable(),
  },
};

export type SsoControlDB = Database<typeof SSO_CONTROL_COLUMNS>;
