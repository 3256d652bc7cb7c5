import { double, integer, oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Staged rollouts of tenant migrations and clinics pinned to a schema version (control-plane migration 21).
 *
 * - `rollouts`: one per rollout of the fleet to `target_version`. `status`: `running` (a runner holds the fleet
 *   lock and works through the waves), `paused` (a wave passed its failure threshold, or an operator paused
 *   it: nothing runs until it is resumed), `held` (every wave ran; some clinics wait for their pin to be
 *   lifted), `completed`.
 * - `rollout_waves`: the waves in the order they run (canary, then by tier, then by region).
 * - `rollout_clinics`: every clinic of the rollout, its wave, the store it lives on (a region's pooled store
 *   carries many clinics and is migrated once for all of them) and its outcome so far.
 * - `clinic_version_pins`: a clinic held at a schema version. Every migration run (a rollout or
 *   `polyclinic migrate`) brings its store no further than the pin until the pin is lifted.
 */
export const ROLLOUTS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 21,
    name: 'staged fleet rollouts and clinic version pins',
    statements: [
      `create table rollouts (
         id text primary key,
         target_version integer not null check (target_version > 0),
         status text not null default 'running' check (status in ('running', 'paused', 'held', 'completed')),
         max_failure_rate double precision not null check (max_failure_rate >= 0 and max_failure_rate <= 1),
         status_reason text,
         created_by text not null,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now())`,
      `create table rollout_waves (
         rollout_id text not null references rollouts (id) on delete cascade,
         position integer not null check (position >= 0),
         name text not null,
         status text not null default 'pending' check (status in ('pending', 'running', 'passed', 'failed')),
         started_at timestamptz,
         finished_at timestamptz,
         primary key (rollout_id, position))`,
      `create table rollout_clinics (
         rollout_id text not null,
         clinic_id text not null references clinics (id) on delete cascade,
         position integer not null,
         store text not null,
         outcome text not null default 'pending'
           check (outcome in ('pending', 'migrated', 'up-to-date', 'failed', 'skipped', 'pinned')),
         version integer,
         error text,
         updated_at timestamptz not null default now(),
         primary key (rollout_id, clinic_id),
         foreign key (rollout_id, position) references rollout_waves (rollout_id, position) on delete cascade)`,
      `create index rollout_clinics_wave on rollout_clinics (rollout_id, position, outcome)`,
      `create table clinic_version_pins (
         clinic_id text primary key references clinics (id) on delete cascade,
         version integer not null check (version > 0),
         reason text not null,
         pinned_by text not null,
         pinned_at timestamptz not null default now())`,
    ],
  },
];

export const ROLLOUT_STATUSES = ['running', 'paused', 'held', 'completed'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];
export const WAVE_STATUSES = ['pending', 'running', 'passed', 'failed'] as const;
export type WaveStatus = (typeof WAVE_STATUSES)[number];
export const ROLLOUT_OUTCOMES = ['pending', 'migrated', 'up-to-date', 'failed', 'skipped', 'pinned'] as const;
export type RolloutOutcome = (typeof ROLLOUT_OUTCOMES)[number];

export const ROLLOUTS_CONTROL_COLUMNS = {
  rollouts: {
    id: text(),
    target_version: integer(),
    status: oneOf(ROLLOUT_STATUSES).hasDefault(),
    max_failure_rate: double(),
    status_reason: text().nullable(),
    created_by: text(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  rollout_waves: {
    rollout_id: text(),
    position: integer(),
    name: text(),
    status: oneOf(WAVE_STATUSES).hasDefault(),
    started_at: timestamptz().nullable(),
    finished_at: timestamptz().nullable(),
  },
  rollout_clinics: {
    rollout_id: text(),
    clinic_id: text(),
    position: integer(),
    store: text(),
    outcome: oneOf(ROLLOUT_OUTCOMES).hasDefault(),
    version: integer().nullable(),
    error: text().nullable(),
    updated_at: timestamptz().hasDefault(),
  },
  clinic_version_pins: {
    clinic_id: text(),
    version: integer(),
    reason: text(),
    pinned_by: text(),
    pinned_at: timestamptz().hasDefault(),
  },
};

export type RolloutsControlDB = Database<typeof ROLLOUTS_CONTROL_COLUMNS>;
