import { double, jsonb, text, timestamptz, integer } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Control-plane migration 15: peer benchmarks. Consent is a record (who gave it, when, for which measures;
 * withdrawn by whom and when), the privacy budget a ledger (each release spends epsilon from every
 * contributing clinic's budget for the period), and each release is kept so asking again costs nothing
 * (differential privacy is closed under post-processing: re-reading a released value spends no budget).
 */
export const ANALYTICS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 15,
    name: 'benchmark consent, privacy budget ledger, releases',
    statements: [
      `create table benchmark_consents (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         measures jsonb not null,
         granted_by text not null,
         granted_at timestamptz not null default now(),
         withdrawn_by text,
         withdrawn_at timestamptz)`,
      // At most one consent in force per clinic; withdrawn ones stay as history.
      `create unique index benchmark_consents_in_force on benchmark_consents (clinic_id) where withdrawn_at is null`,
      `create table privacy_budget_ledger (
         clinic_id text not null references clinics (id) on delete cascade,
         period text not null,
         release_id text not null,
         epsilon double precision not null check (epsilon > 0),
         spent_at timestamptz not null default now(),
         primary key (clinic_id, period, release_id))`,
      `create table benchmark_releases (
         id text primary key,
         cohort text not null,
         measure text not null,
         period text not null,
         contributors integer not null,
         value double precision,
         epsilon double precision not null,
         released_at timestamptz not null default now(),
         unique (cohort, measure, period))`,
    ],
  },
];

export const ANALYTICS_CONTROL_COLUMNS = {
  benchmark_consents: {
    id: text(),
    clinic_id: text(),
    measures: jsonb<string[]>(),
    granted_by: text(),
    granted_at: timestamptz().hasDefault(),
    withdrawn_by: text().nullable(),
    withdrawn_at: timestamptz().nullable(),
  },
  privacy_budget_ledger: {
    clinic_id: text(),
    period: text(),
    release_id: text(),
    epsilon: double(),
    spent_at: timestamptz().hasDefault(),
  },
  benchmark_releases: {
    id: text(),
    cohort: text(),
    measure: text(),
    period: text(),
    contributors: integer(),
    value: double().nullable(),
    epsilon: double(),
    released_at: timestamptz().hasDefault(),
  },
};
