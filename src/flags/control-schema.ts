import { boolean, date, integer, jsonb, oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';
import { FLAG_TYPES } from './lifecycle.js';

/**
 * The flags' control-plane tables: definitions with their lifecycle, segments, clinics' own choices and the
 * history of every change. Composed by `src/schema.ts`.
 */
export const FLAGS_CONTROL_MIGRATIONS: ControlMigration[] = [
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
];

export const FLAGS_CONTROL_COLUMNS = {
  flags: {
    name: text(),
    description: text().hasDefault(),
    owner: text(),
    type: oneOf(FLAG_TYPES),
    enabled: boolean().hasDefault(),
    strategies: jsonb<unknown[]>().hasDefault(),
    variants: jsonb<unknown[]>().hasDefault(),
    dependencies: jsonb<unknown[]>().hasDefault(),
    clinic_controllable: boolean().hasDefault(),
    permanent: boolean().hasDefault(),
    retire_by: date().nullable(),
    version: integer(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
    updated_by: text().nullable(),
  },
  flag_segments: {
    id: integer().hasDefault(),
    name: text(),
    constraints: jsonb<unknown[]>().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  flag_clinic_choices: {
    clinic_id: text(),
    flag_name: text(),
    enabled: boolean(),
    version: integer(),
    updated_by: text().nullable(),
    updated_at: timestamptz().hasDefault(),
  },
  flag_history: {
    flag_name: text(),
    scope: text(),
    version: integer(),
    before: jsonb<unknown>().nullable().insertOnly(),
    after: jsonb<unknown>().nullable().insertOnly(),
    actor_id: text().nullable(),
    reason: text(),
    restored_from: integer().nullable(),
    at: timestamptz().hasDefault(),
  },
};

export type FlagsControlDB = Database<typeof FLAGS_CONTROL_COLUMNS>;
