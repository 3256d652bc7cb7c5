import { integer, text, textArray, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Access's control-plane tables: who is a member of which clinic with which role, the roles a clinic derives
 * from the base roles, and grants of single permissions. Composed by `src/schema.ts`; versions are global.
 */
export const ACCESS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 1,
    name: 'regions, clinics, users, memberships, sessions, moves',
    statements: [
      `create table memberships (
         clinic_id text not null references clinics (id) on delete cascade,
         user_id text not null references users (id) on delete cascade,
         role text not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, user_id))`,
      `create index memberships_by_user on memberships (user_id)`,
    ],
  },
  {
    version: 5,
    name: 'identity: sign-in audit, SSO connections and identities, derived roles, grants, MFA',
    statements: [
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
    ],
  },
];

export const ACCESS_CONTROL_COLUMNS = {
  memberships: {
    clinic_id: text(),
    user_id: text(),
    role: text(),
    created_at: timestamptz().hasDefault(),
  },
  clinic_roles: {
    clinic_id: text(),
    key: text(),
    name: text(),
    base_role: text(),
    added: textArray().hasDefault(),
    removed: textArray().hasDefault(),
    version: integer().hasDefault(),
    created_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  role_grants: {
    id: text(),
    clinic_id: text(),
    user_id: text(),
    permission: text(),
    reason: text(),
    expires_at: timestamptz().nullable(),
    granted_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    revoked_at: timestamptz().nullable(),
  },
};

export type AccessControlDB = Database<typeof ACCESS_CONTROL_COLUMNS>;
