import type { ColumnType, Generated } from 'kysely';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * Tenant migration 3: providers and their availability, appointments with their history, booking
 * idempotency keys, intake questionnaires and responses.
 *
 * Times are `timestamptz` (instants, UTC); where the wall clock matters the zone is kept beside them:
 * a provider's availability is wall-clock `time` in the provider's `time_zone`, an appointment keeps the
 * zone it was booked in. An appointment stores its busy block (start minus buffer before, end plus buffer
 * after) as booked, so later changes to the clinic's buffer settings do not move existing bookings.
 *
 * No exclusion constraint guards double booking: overbooking allows a configured number of seats per slot,
 * which a constraint cannot count. Booking serialises per provider with a transaction-scoped advisory lock
 * and re-checks inside it (see `booking.ts`).
 */
export const SCHEDULING_MIGRATIONS: TenantMigration[] = [
  {
    version: 3,
    name: 'providers, availability, appointments, intake',
    up: (s) => [
      `create table ${q(s)}.providers (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         user_id text not null,
         display_name text not null,
         specialty text not null,
         licence_jurisdictions text[] not null,
         time_zone text not null,
         active boolean not null default true,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id),
         unique (clinic_id, user_id))`,
      ...rlsStatements(s, 'providers'),

      `create table ${q(s)}.availability_windows (
         clinic_id text not null,
         id text not null,
         provider_id text not null,
         weekday smallint not null check (weekday between 1 and 7),
         start_time time not null,
         end_time time not null,
         primary key (clinic_id, id),
         foreign key (clinic_id, provider_id) references ${q(s)}.providers (clinic_id, id),
         check (end_time > start_time))`,
      `create index availability_windows_by_provider on ${q(s)}.availability_windows (clinic_id, provider_id, weekday, start_time)`,
      ...rlsStatements(s, 'availability_windows'),

      `create table ${q(s)}.availability_overrides (
         clinic_id text not null,
         provider_id text not null,
         local_date date not null,
         windows jsonb not null default '[]',
         updated_at timestamptz not null default now(),
         primary key (clinic_id, provider_id, local_date),
         foreign key (clinic_id, provider_id) references ${q(s)}.providers (clinic_id, id))`,
      ...rlsStatements(s, 'availability_overrides'),

      `create table ${q(s)}.appointments (
         clinic_id text not null,
         id text not null,
         provider_id text not null,
         patient_id text not null,
         appointment_type text not null,
         modality text not null check (modality in ('video', 'in_person')),
         status text not null default 'booked'
           check (status in ('booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show')),
         starts_at timestamptz not null,
         ends_at timestamptz not null,
         block_starts_at timestamptz not null,
         block_ends_at timestamptz not null,
         time_zone text not null,
         requires_confirmation boolean not null default false,
         booked_by text,
         checked_in_at timestamptz,
         started_at timestamptz,
         completed_at timestamptz,
         cancelled_at timestamptz,
         cancelled_by text,
         cancellation_reason text,
         cancellation_note text,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, provider_id) references ${q(s)}.providers (clinic_id, id),
         foreign key (clinic_id, patient_id) references ${q(s)}.patients (clinic_id, id),
         check (ends_at > starts_at),
         check (block_starts_at <= starts_at and block_ends_at >= ends_at))`,
      `create index appointments_by_provider on ${q(s)}.appointments (clinic_id, provider_id, starts_at, id)`,
      `create index appointments_by_patient on ${q(s)}.appointments (clinic_id, patient_id, starts_at, id)`,
      `create index appointments_by_time on ${q(s)}.appointments (clinic_id, starts_at, id)`,
      ...rlsStatements(s, 'appointments'),

      `create table ${q(s)}.appointment_history (
         clinic_id text not null,
         appointment_id text not null,
         seq integer not null,
         change text not null check (change in ('booked', 'rescheduled', 'status_changed', 'cancelled')),
         from_status text,
         to_status text,
         from_provider_id text,
         to_provider_id text,
         from_starts_at timestamptz,
         from_ends_at timestamptz,
         to_starts_at timestamptz,
         to_ends_at timestamptz,
         reason text,
         actor_id text,
         occurred_at timestamptz not null default now(),
         primary key (clinic_id, appointment_id, seq),
         foreign key (clinic_id, appointment_id) references ${q(s)}.appointments (clinic_id, id))`,
      ...rlsStatements(s, 'appointment_history'),

      // A booking's Idempotency-Key and the outcome it produced, replayed to a retry for 24 hours.
      `create table ${q(s)}.idempotency_keys (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         key text not null,
         request_hash text not null,
         status_code integer not null,
         response jsonb not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, key))`,
      `create index idempotency_keys_by_age on ${q(s)}.idempotency_keys (clinic_id, created_at)`,
      ...rlsStatements(s, 'idempotency_keys'),

      `create table ${q(s)}.questionnaires (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         title text not null,
         description text,
         items jsonb not null,
         active boolean not null default true,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         primary key (clinic_id, id))`,
      ...rlsStatements(s, 'questionnaires'),

      `create table ${q(s)}.intake_responses (
         clinic_id text not null,
         id text not null,
         appointment_id text not null,
         questionnaire_id text not null,
         questionnaire_version integer not null,
         patient_id text not null,
         answers jsonb not null,
         submitted_by text,
         submitted_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, appointment_id) references ${q(s)}.appointments (clinic_id, id),
         foreign key (clinic_id, questionnaire_id) references ${q(s)}.questionnaires (clinic_id, id),
         foreign key (clinic_id, patient_id) references ${q(s)}.patients (clinic_id, id))`,
      `create index intake_responses_by_appointment on ${q(s)}.intake_responses (clinic_id, appointment_id, submitted_at)`,
      ...rlsStatements(s, 'intake_responses'),
    ],
  },
];

/** The scheduling tables in foreign-key order, for moves and exports. */
export const SCHEDULING_TABLES: TenantTable[] = [
  { name: 'providers', key: ['clinic_id', 'id'] },
  { name: 'availability_windows', key: ['clinic_id', 'id'] },
  { name: 'availability_overrides', key: ['clinic_id', 'provider_id', 'local_date'] },
  { name: 'appointments', key: ['clinic_id', 'id'] },
  { name: 'appointment_history', key: ['clinic_id', 'appointment_id', 'seq'] },
  { name: 'idempotency_keys', key: ['clinic_id', 'key'] },
  { name: 'questionnaires', key: ['clinic_id', 'id'] },
  { name: 'intake_responses', key: ['clinic_id', 'id'] },
];

export type AppointmentStatus = 'booked' | 'checked_in' | 'in_progress' | 'completed' | 'cancelled' | 'no_show';
type Json<T> = ColumnType<T, string, string>;

export interface ProvidersTable {
  clinic_id: string;
  id: string;
  user_id: string;
  display_name: string;
  specialty: string;
  licence_jurisdictions: string[];
  time_zone: string;
  active: Generated<boolean>;
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AvailabilityWindowsTable {
  clinic_id: string;
  id: string;
  provider_id: string;
  weekday: number;
  /** 'HH:MM:SS' as PostgreSQL returns `time`. */
  start_time: string;
  end_time: string;
}

export interface AvailabilityOverridesTable {
  clinic_id: string;
  provider_id: string;
  local_date: string;
  windows: Json<{ start: string; end: string }[]>;
  updated_at: Generated<Date>;
}

export interface AppointmentsTable {
  clinic_id: string;
  id: string;
  provider_id: string;
  patient_id: string;
  appointment_type: string;
  modality: 'video' | 'in_person';
  status: Generated<AppointmentStatus>;
  starts_at: Date;
  ends_at: Date;
  block_starts_at: Date;
  block_ends_at: Date;
  time_zone: string;
  requires_confirmation: Generated<boolean>;
  booked_by: string | null;
  checked_in_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  cancelled_at: Date | null;
  cancelled_by: string | null;
  cancellation_reason: string | null;
  cancellation_note: string | null;
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AppointmentHistoryTable {
  clinic_id: string;
  appointment_id: string;
  seq: number;
  change: 'booked' | 'rescheduled' | 'status_changed' | 'cancelled';
  from_status: string | null;
  to_status: string | null;
  from_provider_id: string | null;
  to_provider_id: string | null;
  from_starts_at: Date | null;
  from_ends_at: Date | null;
  to_starts_at: Date | null;
  to_ends_at: Date | null;
  reason: string | null;
  actor_id: string | null;
  occurred_at: Generated<Date>;
}

export interface IdempotencyKeysTable {
  clinic_id: string;
  key: string;
  request_hash: string;
  status_code: number;
  response: Json<unknown>;
  created_at: Generated<Date>;
}

export interface QuestionnaireItemRow {
  key: string;
  label: string;
  type: 'text' | 'long_text' | 'boolean' | 'number' | 'date' | 'single_choice' | 'multiple_choice';
  required: boolean;
  options?: string[] | undefined;
}

export interface QuestionnairesTable {
  clinic_id: string;
  id: string;
  title: string;
  description: string | null;
  items: Json<QuestionnaireItemRow[]>;
  active: Generated<boolean>;
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface IntakeResponsesTable {
  clinic_id: string;
  id: string;
  appointment_id: string;
  questionnaire_id: string;
  questionnaire_version: number;
  patient_id: string;
  answers: Json<Record<string, unknown>>;
  submitted_by: string | null;
  submitted_at: Generated<Date>;
}

export interface SchedulingDB {
  providers: ProvidersTable;
  availability_windows: AvailabilityWindowsTable;
  availability_overrides: AvailabilityOverridesTable;
  appointments: AppointmentsTable;
  appointment_history: AppointmentHistoryTable;
  idempotency_keys: IdempotencyKeysTable;
  questionnaires: QuestionnairesTable;
  intake_responses: IntakeResponsesTable;
}
