import { integer, jsonb, oneOf, smallint, text, textArray, timestamptz, type Database } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';
import { SURROGATE_KINDS } from './allow-lists.js';
import { appointmentsTotalsFunction, DAILY_TOTALS_COLUMNS, DAILY_TOTALS_MIGRATION, DAILY_TOTALS_TABLES } from './daily-totals-migration.js';

/**
 * Tenant migration 11: the re-identification lookup of the analytics scrubber. A patient (provider,
 * appointment, encounter) reference leaves the region only as a random surrogate; the pairing lives here,
 * in the clinic's own store and region, and moves with the clinic. Nothing outside the region can turn a
 * surrogate back into a record, and the surrogate is not computed from the id, so it cannot be recomputed.
 */
export const ANALYTICS_MIGRATIONS: TenantMigration[] = [
  {
    version: 11,
    name: 'analytics surrogates',
    up: (s) => [
      `create table ${q(s)}.analytics_surrogates (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         kind text not null check (kind in (${SURROGATE_KINDS.map((k) => `'${k}'`).join(', ')})),
         ref text not null,
         surrogate text not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, kind, ref),
         unique (clinic_id, surrogate))`,
      ...rlsStatements(s, 'analytics_surrogates'),
    ],
  },
  {
    // Revenue: the clinic's fee per appointment type (amounts in minor units of one currency), and a charge per
    // completed visit at the fee in force when it was completed, with its payment status. The charge keeps the
    // amount, so a later change of fees does not rewrite past revenue.
    version: 16,
    name: 'clinic analytics: fee schedule, visit charges, visit surveys and outcome scores',
    up: (s) => [
      `create table ${q(s)}.fee_schedule (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         appointment_type text not null,
         amount_minor integer not null check (amount_minor between 0 and 100000000),
         currency text not null check (currency ~ '^[A-Z]{3}$'),
         updated_by text not null,
         updated_at timestamptz not null default now(),
         primary key (clinic_id, appointment_type))`,
      ...rlsStatements(s, 'fee_schedule'),
      `create table ${q(s)}.visit_charges (
         clinic_id text not null,
         appointment_id text not null,
         amount_minor integer not null check (amount_minor >= 0),
         currency text not null check (currency ~ '^[A-Z]{3}$'),
         status text not null default 'unpaid' check (status in (${CHARGE_STATUSES.map((c) => `'${c}'`).join(', ')})),
         charged_at timestamptz not null default now(),
         status_changed_at timestamptz,
         status_changed_by text,
         primary key (clinic_id, appointment_id),
         foreign key (clinic_id, appointment_id) references ${q(s)}.appointments (clinic_id, id))`,
      ...rlsStatements(s, 'visit_charges'),
      // Satisfaction: one short survey per completed visit, answered by its patient in the portal. Scores on
      // fixed scales only: no free-text question, so nothing a patient writes can reach a dashboard or leave.
      `create table ${q(s)}.visit_surveys (
         clinic_id text not null,
         appointment_id text not null,
         patient_id text not null,
         overall smallint not null check (overall between 1 and 5),
         recommend smallint not null check (recommend between 0 and 10),
         ease smallint check (ease between 1 and 5),
         submitted_at timestamptz not null default now(),
         primary key (clinic_id, appointment_id),
         foreign key (clinic_id, appointment_id) references ${q(s)}.appointments (clinic_id, id),
         foreign key (clinic_id, patient_id) references ${q(s)}.patients (clinic_id, id))`,
      ...rlsStatements(s, 'visit_surveys'),
      // Outcomes: PHQ-9 and GAD-7 answered by a patient and recorded by a clinician, with the total and severity
      // band computed on write (the scoring is fixed by the instruments, so it is kept, not recomputed).
      `create table ${q(s)}.outcome_scores (
         clinic_id text not null,
         id text not null,
         patient_id text not null,
         instrument text not null check (instrument in (${INSTRUMENT_KEYS.map((k) => `'${k}'`).join(', ')})),
         answers jsonb not null,
         score smallint not null check (score >= 0),
         severity text not null,
         recorded_by text not null,
         recorded_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, patient_id) references ${q(s)}.patients (clinic_id, id))`,
      `create index outcome_scores_by_patient on ${q(s)}.outcome_scores (clinic_id, patient_id, instrument, recorded_at)`,
      ...rlsStatements(s, 'outcome_scores'),
    ],
  },
  {
    // Custom analytics: metrics a clinic defines from the allow-listed measures and dimensions (`measures.ts`;
    // the names are checked here too, so no row can hold anything the evaluator would not know), saved
    // dashboards (named layouts of built-in figures and metrics), and report schedules that mail a dashboard's
    // aggregates to members of the clinic. Recipients are user ids; their addresses are read from the control
    // plane when a report goes out, so a member who left is not mailed.
    version: 17,
    name: 'clinic analytics: custom metrics, saved dashboards, report schedules',
    up: (s) => [
      `create table ${q(s)}.analytics_metrics (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         name text not null check (char_length(name) between 1 and 100),
         measure text not null check (measure in (${MEASURE_KEYS.map((k) => `'${k}'`).join(', ')})),
         dimension text not null check (dimension in (${DIMENSION_KEYS.map((k) => `'${k}'`).join(', ')})),
         created_by text not null,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id))`,
      ...rlsStatements(s, 'analytics_metrics'),
      `create table ${q(s)}.analytics_dashboards (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         name text not null check (char_length(name) between 1 and 100),
         widgets jsonb not null,
         created_by text not null,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id))`,
      ...rlsStatements(s, 'analytics_dashboards'),
      `create table ${q(s)}.analytics_report_schedules (
         clinic_id text not null,
         id text not null,
         dashboard_id text not null,
         cron text not null,
         period text not null check (period in (${REPORT_PERIODS.map((k) => `'${k}'`).join(', ')})),
         recipients text[] not null,
         next_run_at timestamptz not null,
         last_run_at timestamptz,
         created_by text not null,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, dashboard_id) references ${q(s)}.analytics_dashboards (clinic_id, id) on delete cascade)`,
      // The measures read a period of appointments by start and group by status, provider, type or modality: with
      // those columns in the index a dashboard month is an index-only scan, not a heap visit per appointment
      // (bench/dashboard-1m.ts). Outcome scores are read by when they were recorded.
      `create index appointments_for_measures on ${q(s)}.appointments (clinic_id, starts_at)
         include (status, ends_at, provider_id, appointment_type, modality)`,
      `create index outcome_scores_by_time on ${q(s)}.outcome_scores (clinic_id, recorded_at)`,
      `create index analytics_report_schedules_by_dashboard on ${q(s)}.analytics_report_schedules (clinic_id, dashboard_id)`,
      ...rlsStatements(s, 'analytics_report_schedules'),
    ],
  },
  DAILY_TOTALS_MIGRATION,
  // ---- Tenant migration 19 (issue 11, report schedules): kept as its own entry so it merges beside 18. ----
  {
    // A schedule can be paused without losing its definition: who paused it and when (both or neither). A paused
    // schedule has no waiting job and its next run is recomputed from the moment it is resumed, so a pause never
    // ends in a burst of the runs it skipped. Same statement in every placement: pooled rows, own schema, own database.
    version: 19,
    name: 'clinic analytics: pausing report schedules',
    up: (s) => [
      `alter table ${q(s)}.analytics_report_schedules
         add column paused_at timestamptz,
         add column paused_by text,
         add constraint analytics_report_schedules_paused_by check ((paused_at is null) = (paused_by is null))`,
    ],
  },
  {
    // The relay creates a pairing for every reference it has not sent before, and each pairing was a heap row
    // and two unique-index entries. The second, on (clinic_id, surrogate), only guarded against two references
    // drawing the same 128 random bits (at a billion pairings a chance of about 10^-21), and nothing looks a
    // pairing up by its surrogate: the clinic turning one back into a record reads its own pairings. Without it
    // PostgreSQL spends a fifth to a quarter less CPU per relayed event (docs/benchmarks.md, "Analytics pipeline").
    version: 21,
    name: 'analytics surrogates: no unique index on the surrogate',
    up: (s) => [`alter table ${q(s)}.analytics_surrogates drop constraint if exists analytics_surrogates_clinic_id_surrogate_key`],
  },
  {
    // Bookings two or more days ahead skip the totals' gate (`FAR_FUTURE_INSERT` in daily-totals-migration.ts): its
    // dynamic SQL was planned on every booking, about a tenth of a booking's PostgreSQL CPU.
    version: 22,
    name: "bookings planned once: the read as a function, far-future inserts past the totals' gate",
    up: (s) => [appointmentsTotalsFunction(s, true)],
  },
];

/** The scored questionnaires (their items and bands are in `outcomes.ts`). */
export const INSTRUMENT_KEYS = ['phq9', 'gad7'] as const;
export type InstrumentKey = (typeof INSTRUMENT_KEYS)[number];

/** What a custom metric may count (evaluated in `measures.ts`): an allow-list, never SQL from a clinic. */
export const MEASURE_KEYS = [
  'visits',
  'completed_visits',
  'cancelled_visits',
  'no_shows',
  'no_show_rate',
  'booked_minutes',
  'revenue_charged',
  'revenue_paid',
  'survey_responses',
  'mean_satisfaction',
  'net_promoter_score',
  'phq9_mean',
  'gad7_mean',
] as const;
export type MeasureKey = (typeof MEASURE_KEYS)[number];

/** What a custom metric may be broken down by; `none` is one total. */
export const DIMENSION_KEYS = ['none', 'provider', 'appointment_type', 'modality', 'week', 'month'] as const;
export type DimensionKey = (typeof DIMENSION_KEYS)[number];

/** The period a scheduled report covers, ending when it runs (in the clinic's time zone). */
export const REPORT_PERIODS = ['previous_day', 'previous_week', 'previous_month'] as const;
export type ReportPeriod = (typeof REPORT_PERIODS)[number];

export const CHARGE_STATUSES = ['unpaid', 'paid', 'waived'] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

export const ANALYTICS_TABLES: TenantTable[] = [
  { name: 'analytics_surrogates', key: ['clinic_id', 'kind', 'ref'] },
  { name: 'fee_schedule', key: ['clinic_id', 'appointment_type'] },
  { name: 'visit_charges', key: ['clinic_id', 'appointment_id'] },
  { name: 'visit_surveys', key: ['clinic_id', 'appointment_id'] },
  { name: 'outcome_scores', key: ['clinic_id', 'id'] },
  { name: 'analytics_metrics', key: ['clinic_id', 'id'] },
  { name: 'analytics_dashboards', key: ['clinic_id', 'id'] },
  { name: 'analytics_report_schedules', key: ['clinic_id', 'id'] },
  ...DAILY_TOTALS_TABLES,
];

export const ANALYTICS_COLUMNS = {
  ...DAILY_TOTALS_COLUMNS,
  analytics_surrogates: {
    clinic_id: text(),
    kind: oneOf(SURROGATE_KINDS),
    ref: text(),
    surrogate: text(),
    created_at: timestamptz().hasDefault(),
  },
  fee_schedule: {
    clinic_id: text(),
    appointment_type: text(),
    amount_minor: integer(),
    currency: text(),
    updated_by: text(),
    updated_at: timestamptz().hasDefault(),
  },
  visit_charges: {
    clinic_id: text(),
    appointment_id: text(),
    amount_minor: integer(),
    currency: text(),
    status: oneOf(CHARGE_STATUSES).hasDefault(),
    charged_at: timestamptz().hasDefault(),
    status_changed_at: timestamptz().nullable(),
    status_changed_by: text().nullable(),
  },
  visit_surveys: {
    clinic_id: text(),
    appointment_id: text(),
    patient_id: text(),
    overall: smallint(),
    recommend: smallint(),
    ease: smallint().nullable(),
    submitted_at: timestamptz().hasDefault(),
  },
  outcome_scores: {
    clinic_id: text(),
    id: text(),
    patient_id: text(),
    instrument: oneOf(INSTRUMENT_KEYS),
    answers: jsonb<number[]>(),
    score: smallint(),
    severity: text(),
    recorded_by: text(),
    recorded_at: timestamptz().hasDefault(),
  },
  analytics_metrics: {
    clinic_id: text(),
    id: text(),
    name: text(),
    measure: oneOf(MEASURE_KEYS),
    dimension: oneOf(DIMENSION_KEYS),
    created_by: text(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  analytics_dashboards: {
    clinic_id: text(),
    id: text(),
    name: text(),
    widgets: jsonb<DashboardWidget[]>(),
    created_by: text(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  analytics_report_schedules: {
    clinic_id: text(),
    id: text(),
    dashboard_id: text(),
    cron: text(),
    period: oneOf(REPORT_PERIODS),
    recipients: textArray(),
    next_run_at: timestamptz(),
    last_run_at: timestamptz().nullable(),
    created_by: text(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
    paused_at: timestamptz().nullable(),
    paused_by: text().nullable(),
  },
};

/** The built-in figures a saved dashboard may show beside custom metrics (from the clinic dashboard). */
export const BUILTIN_WIDGETS = ['appointments', 'no_show_rate', 'utilisation', 'revenue', 'satisfaction', 'outcomes'] as const;
export type BuiltinWidget = (typeof BUILTIN_WIDGETS)[number];
export type DashboardWidget = { builtin: BuiltinWidget } | { metricId: string };

export type AnalyticsDB = Database<typeof ANALYTICS_COLUMNS>;
