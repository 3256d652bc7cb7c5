import { bigint, integer, jsonb, oneOf, text, timestamptz, type Database, type Table } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * Patient accounts live in the clinic's own store, not in the control plane: that a person is a patient of a
 * clinic, and their email, are PHI and stay in the clinic's region and placement. An account belongs to one
 * patient record of one clinic, so the same email can hold an account in clinic A, another in clinic B and a
 * staff account, none of them connected. Links (invitations, sign-in, registration) and sessions are kept
 * beside the account, only as SHA-256 of their tokens; each token names its clinic, so resolving it opens that
 * clinic's store and no other.
 */
export const PORTAL_MIGRATIONS: TenantMigration[] = [
  {
    version: 7,
    name: 'patient accounts, their links and sessions; released visit summaries',
    up: (s) => [
      `create table ${q(s)}.patient_accounts (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         patient_id text not null,
         email text not null,
         password_hash text,
         created_at timestamptz not null default now(),
         last_signed_in_at timestamptz,
         primary key (clinic_id, id),
         unique (clinic_id, patient_id),
         foreign key (clinic_id, patient_id) references ${q(s)}.patients (clinic_id, id))`,
      `create unique index patient_accounts_by_email on ${q(s)}.patient_accounts (clinic_id, lower(email))`,
      ...rlsStatements(s, 'patient_accounts'),
      // One-time links. An invitation and a sign-in link name their account; a registration link carries the
      // details given, and the patient record is made only when the address has proved itself by opening it.
      `create table ${q(s)}.patient_links (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         token_hash text not null,
         purpose text not null check (purpose in ('invitation', 'sign_in', 'registration')),
         account_id text,
         email text not null,
         registration jsonb,
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         used_at timestamptz,
         primary key (clinic_id, token_hash),
         foreign key (clinic_id, account_id) references ${q(s)}.patient_accounts (clinic_id, id) on delete cascade,
         check ((purpose = 'registration') = (account_id is null)))`,
      `create index patient_links_by_account on ${q(s)}.patient_links (clinic_id, account_id)`,
      ...rlsStatements(s, 'patient_links'),
      `create table ${q(s)}.patient_sessions (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         token_hash text not null,
         account_id text not null,
         auth_method text not null check (auth_method in ('link', 'password')),
         created_at timestamptz not null default now(),
         expires_at timestamptz not null,
         revoked_at timestamptz,
         primary key (clinic_id, token_hash),
         foreign key (clinic_id, account_id) references ${q(s)}.patient_accounts (clinic_id, id) on delete cascade)`,
      `create index patient_sessions_by_account on ${q(s)}.patient_sessions (clinic_id, account_id)`,
      ...rlsStatements(s, 'patient_sessions'),
    ],
  },
  {
    version: 15,
    name: 'patient TOTP: seeds, recovery codes, sign-in challenges; sessions remember their second factor',
    up: (s) => [
      // The seed sealed under the deployment secret, as staff seeds are (`identity/totp.ts`); the last accepted
      // time step, so a code works once.
      `create table ${q(s)}.patient_mfa (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         account_id text not null,
         secret_ciphertext text not null,
         confirmed_at timestamptz,
         last_step bigint,
         created_at timestamptz not null default now(),
         primary key (clinic_id, account_id),
         foreign key (clinic_id, account_id) references ${q(s)}.patient_accounts (clinic_id, id) on delete cascade)`,
      ...rlsStatements(s, 'patient_mfa'),
      `create table ${q(s)}.patient_mfa_recovery_codes (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         account_id text not null,
         code_hash text not null,
         used_at timestamptz,
         primary key (clinic_id, account_id, code_hash),
         foreign key (clinic_id, account_id) references ${q(s)}.patient_accounts (clinic_id, id) on delete cascade)`,
      ...rlsStatements(s, 'patient_mfa_recovery_codes'),
      // Between a good first step (link or password) and a good code: a challenge, never a session.
      `create table ${q(s)}.patient_mfa_challenges (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         token_hash text not null,
         account_id text not null,
         first_factor text not null check (first_factor in ('link', 'password')),
         attempts integer not null default 0,
         expires_at timestamptz not null,
         consumed_at timestamptz,
         primary key (clinic_id, token_hash),
         foreign key (clinic_id, account_id) references ${q(s)}.patient_accounts (clinic_id, id) on delete cascade)`,
      `create index patient_mfa_challenges_by_account on ${q(s)}.patient_mfa_challenges (clinic_id, account_id)`,
      ...rlsStatements(s, 'patient_mfa_challenges'),
      `alter table ${q(s)}.patient_sessions add column second_factor text check (second_factor in ('totp', 'recovery_code'))`,
    ],
  },
];

/** After patients (their parent) and before nothing else: no other table references them. */
export const PORTAL_TABLES: TenantTable[] = [
  { name: 'patient_accounts', key: ['clinic_id', 'id'] },
  { name: 'patient_links', key: ['clinic_id', 'token_hash'] },
  { name: 'patient_sessions', key: ['clinic_id', 'token_hash'] },
  { name: 'patient_mfa', key: ['clinic_id', 'account_id'] },
  { name: 'patient_mfa_recovery_codes', key: ['clinic_id', 'account_id', 'code_hash'] },
  { name: 'patient_mfa_challenges', key: ['clinic_id', 'token_hash'] },
];

export const LINK_PURPOSES = ['invitation', 'sign_in', 'registration'] as const;
export type LinkPurpose = (typeof LINK_PURPOSES)[number];
export const PATIENT_AUTH_METHODS = ['link', 'password'] as const;
export type PatientAuthMethod = (typeof PATIENT_AUTH_METHODS)[number];
export const PATIENT_SECOND_FACTORS = ['totp', 'recovery_code'] as const;
export type PatientSecondFactor = (typeof PATIENT_SECOND_FACTORS)[number];

export const PORTAL_COLUMNS = {
  patient_accounts: {
    clinic_id: text(),
    id: text(),
    patient_id: text(),
    email: text(),
    password_hash: text().nullable(),
    created_at: timestamptz().hasDefault(),
    last_signed_in_at: timestamptz().nullable(),
  },
  patient_links: {
    clinic_id: text(),
    token_hash: text(),
    purpose: oneOf(LINK_PURPOSES),
    account_id: text().nullable(),
    email: text(),
    registration: jsonb<Registration>().nullable(),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    used_at: timestamptz().nullable(),
  },
  patient_sessions: {
    clinic_id: text(),
    token_hash: text(),
    account_id: text(),
    auth_method: oneOf(PATIENT_AUTH_METHODS),
    created_at: timestamptz().hasDefault(),
    expires_at: timestamptz(),
    revoked_at: timestamptz().nullable(),
    second_factor: oneOf(PATIENT_SECOND_FACTORS).nullable(),
  },
  patient_mfa: {
    clinic_id: text(),
    account_id: text(),
    secret_ciphertext: text(),
    confirmed_at: timestamptz().nullable(),
    last_step: bigint().nullable(),
    created_at: timestamptz().hasDefault(),
  },
  patient_mfa_recovery_codes: {
    clinic_id: text(),
    account_id: text(),
    code_hash: text(),
    used_at: timestamptz().nullable(),
  },
  patient_mfa_challenges: {
    clinic_id: text(),
    token_hash: text(),
    account_id: text(),
    first_factor: oneOf(PATIENT_AUTH_METHODS),
    attempts: integer().hasDefault(),
    expires_at: timestamptz(),
    consumed_at: timestamptz().nullable(),
  },
};

/** What a patient registering themselves gives; it becomes their patient record when the link is opened. */
export interface Registration {
  givenName: string;
  familyName: string;
  birthDate: string;
}

export type PatientAccountsTable = Table<typeof PORTAL_COLUMNS.patient_accounts>;
export type PortalDB = Database<typeof PORTAL_COLUMNS>;
