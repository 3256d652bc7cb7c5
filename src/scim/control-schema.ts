import { bigint, boolean, integer, jsonb, oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * SCIM's control-plane tables: a clinic's bearer tokens, the SCIM view of its provisioned users and groups,
 * the rules mapping directory groups to roles, and the record of every change. Composed by `src/schema.ts`.
 */
export const SCIM_CONTROL_MIGRATIONS: ControlMigration[] = [
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
];

export const SCIM_CONTROL_COLUMNS = {
  scim_tokens: {
    id: text(),
    clinic_id: text(),
    token_hash: text(),
    label: text(),
    created_by: text().nullable(),
    created_at: timestamptz().hasDefault(),
    last_used_at: timestamptz().nullable(),
    revoked_at: timestamptz().nullable(),
  },
  scim_users: {
    clinic_id: text(),
    user_id: text(),
    user_name: text(),
    external_id: text().nullable(),
    active: boolean().hasDefault(),
    resource: jsonb<Record<string, unknown>>(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  scim_groups: {
    clinic_id: text(),
    id: text(),
    display_name: text(),
    external_id: text().nullable(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  scim_group_members: {
    clinic_id: text(),
    group_id: text(),
    user_id: text(),
    display: text().nullable(),
    added_at: timestamptz().hasDefault(),
  },
  role_mappings: {
    clinic_id: text(),
    rules: jsonb<unknown[]>().hasDefault(),
    default_role: text().nullable(),
    version: integer(),
    updated_by: text().nullable(),
    updated_at: timestamptz().hasDefault(),
  },
  scim_audit: {
    id: bigint().hasDefault(),
    clinic_id: text(),
    actor_kind: oneOf(['scim_token', 'user']),
    actor_id: text(),
    action: text(),
    resource_type: text(),
    resource_id: text().nullable(),
    before: jsonb<unknown>().nullable().insertOnly(),
    after: jsonb<unknown>().nullable().insertOnly(),
    request_id: text().nullable(),
    at: timestamptz().hasDefault(),
  },
};

export type ScimControlDB = Database<typeof SCIM_CONTROL_COLUMNS>;
