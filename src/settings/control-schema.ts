import { integer, jsonb, oneOf, text, textArray, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/** Settings' control-plane tables: the layers and every version of them. Composed by `src/schema.ts`. */
export const SETTINGS_CONTROL_MIGRATIONS: ControlMigration[] = [
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
];

export const SETTING_SCOPES = ['platform', 'region', 'clinic', 'provider'] as const;
export type SettingScope = (typeof SETTING_SCOPES)[number];

export const SETTINGS_CONTROL_COLUMNS = {
  setting_layers: {
    scope: oneOf(SETTING_SCOPES),
    scope_id: text(),
    namespace: text(),
    clinic_id: text().nullable(),
    values: jsonb<Record<string, unknown>>().hasDefault(),
    locked: textArray().hasDefault(),
    provider_overridable: textArray().hasDefault(),
    version: integer(),
    updated_by: text().nullable(),
    updated_at: timestamptz().hasDefault(),
  },
  setting_history: {
    // Not checked by the database: history rows are only ever copied from a layer.
    scope: text<SettingScope>(),
    scope_id: text(),
    namespace: text(),
    version: integer(),
    before: jsonb<unknown>().nullable().insertOnly(),
    after: jsonb<unknown>().insertOnly(),
    actor_id: text().nullable(),
    reason: text(),
    restored_from: integer().nullable(),
    at: timestamptz().hasDefault(),
  },
};

export type SettingsControlDB = Database<typeof SETTINGS_CONTROL_COLUMNS>;
