import {
  boolean,
  date,
  integer,
  jsonb,
  oneOf,
  smallint,
  text,
  textArray,
  time,
  timestamptz,
  type Database,
  type Table,
} from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { HELPER_SCHEMA } from '../tenancy/naming.js';
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
 * Migration 12 makes the database hold the seat rule: every appointment sits on a numbered seat of its
 * provider (1 without overbooking), and an exclusion constraint refuses two overlapping busy blocks on one
 * seat. Overbooking and daily limits still count under a per-provider advisory lock (see `booking.ts`).
 */
/** The statuses that hold a provider's time (appointments.ts `HOLDS_TIME`), as SQL literals for the constraint. */
const HOLDS_TIME_SQL = "'booked', 'checked_in', 'in_progress', 'completed', 'no_show'";

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
  {
    version: 12,
    name: 'one appointment per provider seat, held by an exclusion constraint',
    up: (s) => [
      // btree_gist gives text and smallint the `=` a GiST exclusion constraint needs. Trusted (PostgreSQL 13+),
      // so the database owner may create it; once per database, in the helper schema every store has (never in a
      // clinic's schema, which is dropped when the clinic leaves). Clinics of
      // one database may be migrated at the same moment: losing the race to create it is as good as winning.
      `do $$ begin
         create schema if not exists ${q(HELPER_SCHEMA)};
         create extension if not exists btree_gist with schema ${q(HELPER_SCHEMA)};
       exception when unique_violation or duplicate_object then null; end $$`,
      `alter table ${q(s)}.appointments add column seat smallint not null default 1 check (seat between 1 and 1000)`,
      // Appointments overbooked before this migration share time: give each one that overlaps an earlier one of
      // its provider the lowest seat none of those holds (first fit in start order, which never needs more seats
      // than the most appointments overlapping at one instant, so it stays within the seats they were booked in).
      `do $$
       declare r record;
       begin
         for r in
           select a.clinic_id, a.id, a.provider_id, a.block_starts_at, a.block_ends_at
             from ${q(s)}.appointments a
            where a.status in (${HOLDS_TIME_SQL})
              and exists (select 1 from ${q(s)}.appointments b
                           where b.clinic_id = a.clinic_id and b.provider_id = a.provider_id and b.id <> a.id
                             and b.status in (${HOLDS_TIME_SQL})
                             and b.block_starts_at < a.block_ends_at and b.block_ends_at > a.block_starts_at)
            order by a.clinic_id, a.provider_id, a.block_starts_at, a.id
         loop
           update ${q(s)}.appointments set seat = (
             select min(n) from generate_series(1, 1000) n
              where n not in (select b.seat from ${q(s)}.appointments b
                               where b.clinic_id = r.clinic_id and b.provider_id = r.provider_id
                                 and b.status in (${HOLDS_TIME_SQL})
                                 and b.block_starts_at < r.block_ends_at and b.block_ends_at > r.block_starts_at
                                 and (b.block_starts_at, b.id) < (r.block_starts_at, r.id)))
            where clinic_id = r.clinic_id and id = r.id;
         end loop;
       end $$`,
      // The seat rule itself: two appointments holding time on one seat of one provider never overlap (busy
      // blocks, buffers included, as half-open ranges: one may end where the next begins). Cancelled ones hold
      // nothing. Booking without overbooking relies on this alone (see booking.ts).
      `alter table ${q(s)}.appointments add constraint appointments_one_per_seat exclude using gist (
         clinic_id with =, provider_id with =, seat with =, tstzrange(block_starts_at, block_ends_at) with &&)
         where (status in (${HOLDS_TIME_SQL}))`,
    ],
  },
  {
    version: 22,
    name: "bookings planned once: the read as a function, far-future inserts past the totals' gate",
    up: (s) => [
      // Everything a booking decides on (`booking-queries.ts`, `readBooking`), as one JSON value or null when the
      // provider does not exist. A booking's read travels with its transaction's BEGIN and pin in one message,
      // its values inlined, so PostgreSQL planned its five sub-selects on every booking (about 260 µs, half the
      // read); PL/pgSQL keeps the plan per connection. Tables are unqualified, found in the caller's search_path
      // with its role and RLS like every tenant query, so the body survives a spare store's schema rename and a
      // schema clinic's call is planned against its own tables. It also tries the slot's advisory lock (see
      // `slotLock` there).
      `create function ${q(s)}.booking_read(slot_lock text, provider text, patient text, idem_key text,
         from_date date, to_date date, busy_from timestamptz, busy_to timestamptz) returns json
       language plpgsql as $$
       begin
         return (
           select json_build_object('id', p.id, 'user_id', p.user_id, 'active', p.active, 'time_zone', p.time_zone,
             'patient_found', exists (select 1 from patients x where x.id = patient),
             'weekly', (select coalesce(json_agg(json_build_object('weekday', w.weekday, 'start', left(w.start_time::text, 5),
                 'end', left(w.end_time::text, 5))), '[]') from availability_windows w where w.provider_id = p.id),
             'overrides', (select coalesce(json_agg(json_build_object('date', o.local_date, 'windows', o.windows)), '[]')
                 from availability_overrides o where o.provider_id = p.id and o.local_date >= from_date and o.local_date <= to_date),
             'busy', (select coalesce(json_agg(json_build_object('id', a.id, 'type', a.appointment_type,
                 'startsAt', extract(epoch from a.starts_at) * 1000, 'blockStart', extract(epoch from a.block_starts_at) * 1000,
                 'blockEnd', extract(epoch from a.block_ends_at) * 1000, 'seat', a.seat) order by a.block_starts_at), '[]')
                 from appointments a where a.provider_id = provider and a.starts_at >= busy_from and a.starts_at < busy_to
                   and a.status in (${HOLDS_TIME_SQL})),
             'stored', (select json_build_object('requestHash', k.request_hash, 'status', k.status_code, 'body', k.response,
                 'expired', k.created_at < now() - interval '24 hours') from idempotency_keys k where k.key = idem_key),
             'slot_locked', pg_try_advisory_xact_lock(hashtextextended(slot_lock, 0)))
           from providers p where p.id = provider);
       end $$`,
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

export const APPOINTMENT_STATUS_VALUES = ['booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUS_VALUES)[number];

export interface QuestionnaireItemRow {
  key: string;
  label: string;
  type: 'text' | 'long_text' | 'boolean' | 'number' | 'date' | 'single_choice' | 'multiple_choice';
  required: boolean;
  options?: string[] | undefined;
}

export const SCHEDULING_COLUMNS = {
  providers: {
    clinic_id: text(),
    id: text(),
    user_id: text(),
    display_name: text(),
    specialty: text(),
    licence_jurisdictions: textArray(),
    time_zone: text(),
    active: boolean().hasDefault(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  availability_windows: {
    clinic_id: text(),
    id: text(),
    provider_id: text(),
    weekday: smallint(),
    start_time: time(),
    end_time: time(),
  },
  availability_overrides: {
    clinic_id: text(),
    provider_id: text(),
    local_date: date(),
    windows: jsonb<{ start: string; end: string }[]>().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  appointments: {
    clinic_id: text(),
    id: text(),
    provider_id: text(),
    patient_id: text(),
    appointment_type: text(),
    modality: oneOf(['video', 'in_person']),
    status: oneOf(APPOINTMENT_STATUS_VALUES).hasDefault(),
    starts_at: timestamptz(),
    ends_at: timestamptz(),
    block_starts_at: timestamptz(),
    block_ends_at: timestamptz(),
    time_zone: text(),
    seat: smallint().hasDefault(),
    requires_confirmation: boolean().hasDefault(),
    booked_by: text().nullable(),
    checked_in_at: timestamptz().nullable(),
    started_at: timestamptz().nullable(),
    completed_at: timestamptz().nullable(),
    cancelled_at: timestamptz().nullable(),
    cancelled_by: text().nullable(),
    cancellation_reason: text().nullable(),
    cancellation_note: text().nullable(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  appointment_history: {
    clinic_id: text(),
    appointment_id: text(),
    seq: integer(),
    change: oneOf(['booked', 'rescheduled', 'status_changed', 'cancelled']),
    from_status: text().nullable(),
    to_status: text().nullable(),
    from_provider_id: text().nullable(),
    to_provider_id: text().nullable(),
    from_starts_at: timestamptz().nullable(),
    from_ends_at: timestamptz().nullable(),
    to_starts_at: timestamptz().nullable(),
    to_ends_at: timestamptz().nullable(),
    reason: text().nullable(),
    actor_id: text().nullable(),
    occurred_at: timestamptz().hasDefault(),
  },
  idempotency_keys: {
    clinic_id: text(),
    key: text(),
    request_hash: text(),
    status_code: integer(),
    response: jsonb<unknown>(),
    created_at: timestamptz().hasDefault(),
  },
  questionnaires: {
    clinic_id: text(),
    id: text(),
    title: text(),
    description: text().nullable(),
    items: jsonb<QuestionnaireItemRow[]>(),
    active: boolean().hasDefault(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
  intake_responses: {
    clinic_id: text(),
    id: text(),
    appointment_id: text(),
    questionnaire_id: text(),
    questionnaire_version: integer(),
    patient_id: text(),
    answers: jsonb<Record<string, unknown>>(),
    submitted_by: text().nullable(),
    submitted_at: timestamptz().hasDefault(),
  },
};

type Columns = typeof SCHEDULING_COLUMNS;
export type ProvidersTable = Table<Columns['providers']>;
export type AvailabilityWindowsTable = Table<Columns['availability_windows']>;
export type AvailabilityOverridesTable = Table<Columns['availability_overrides']>;
export type AppointmentsTable = Table<Columns['appointments']>;
export type AppointmentHistoryTable = Table<Columns['appointment_history']>;
export type IdempotencyKeysTable = Table<Columns['idempotency_keys']>;
export type QuestionnairesTable = Table<Columns['questionnaires']>;
export type IntakeResponsesTable = Table<Columns['intake_responses']>;
export type SchedulingDB = Database<Columns>;
