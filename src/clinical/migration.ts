import { boolean, double, integer, oneOf, text, textArray, timestamptz, type Database, type Table } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * Tenant migration 4: encounters and the clinical record written in them.
 *
 * The database is the last line for the rules that make a chart trustworthy, so they hold here even for a
 * statement that bypasses the API: a signed note and every addendum are immutable (a trigger refuses the
 * UPDATE with SQLSTATE PCN01), vitals stay inside plausible ranges, diagnosis codes have the ICD-10-CM shape.
 * The API checks the same rules first to answer with a precise 4xx; these are the backstop.
 *
 * `encounters.appointment_id` has no foreign key yet: appointments (scheduling) land separately, and the
 * key `(clinic_id, appointment_id) -> appointments (clinic_id, id)` is added when both exist.
 *
 * Deleting a signed note or an addendum is refused too, except for the role that owns the tables (the
 * platform's admin connection), which removes a clinic's whole copy from a store after a placement move.
 */
export const CLINICAL_MIGRATIONS: TenantMigration[] = [
  {
    version: 4,
    name: 'encounters and clinical records',
    up: (s) => [
      `create table ${q(s)}.encounters (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         patient_id text not null,
         provider_id text not null,
         appointment_id text,
         reason text,
         status text not null default 'open' check (status in ('open', 'closed')),
         opened_by text not null,
         opened_at timestamptz not null default now(),
         closed_by text,
         closed_at timestamptz,
         primary key (clinic_id, id),
         foreign key (clinic_id, patient_id) references ${q(s)}.patients (clinic_id, id),
         check ((status = 'closed') = (closed_at is not null and closed_by is not null)))`,
      `create index encounters_by_patient on ${q(s)}.encounters (clinic_id, patient_id, opened_at, id)`,
      `create index encounters_by_provider on ${q(s)}.encounters (clinic_id, provider_id, opened_at)`,
      // One encounter per visit.
      `create unique index encounters_one_per_appointment on ${q(s)}.encounters (clinic_id, appointment_id) where appointment_id is not null`,
      ...rlsStatements(s, 'encounters'),

      `create table ${q(s)}.clinical_notes (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         encounter_id text not null,
         author_id text not null,
         status text not null default 'draft' check (status in ('draft', 'signed')),
         subjective text,
         objective text,
         assessment text,
         plan text,
         version integer not null default 1,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now(),
         signed_at timestamptz,
         primary key (clinic_id, id),
         foreign key (clinic_id, encounter_id) references ${q(s)}.encounters (clinic_id, id),
         check ((status = 'signed') = (signed_at is not null)))`,
      `create index clinical_notes_by_encounter on ${q(s)}.clinical_notes (clinic_id, encounter_id, created_at)`,
      ...rlsStatements(s, 'clinical_notes'),

      `create table ${q(s)}.clinical_note_addenda (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         note_id text not null,
         author_id text not null,
         text text not null check (length(text) > 0),
         created_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, note_id) references ${q(s)}.clinical_notes (clinic_id, id))`,
      `create index clinical_note_addenda_by_note on ${q(s)}.clinical_note_addenda (clinic_id, note_id, created_at)`,
      ...rlsStatements(s, 'clinical_note_addenda'),

      `create function ${q(s)}.guard_signed_note() returns trigger language plpgsql as $$
       begin
         if tg_op = 'DELETE' then
           if old.status = 'signed' and not pg_has_role(current_user, (select relowner from pg_class where oid = tg_relid), 'MEMBER') then
             raise exception 'clinical note % is signed and cannot be deleted', old.id using errcode = 'PCN01';
           end if;
           return old;
         end if;
         if old.status = 'signed' then
           raise exception 'clinical note % is signed; changes are addenda', old.id using errcode = 'PCN01';
         end if;
         if new.id <> old.id or new.clinic_id <> old.clinic_id or new.encounter_id <> old.encounter_id or new.author_id <> old.author_id then
           raise exception 'clinical note % keeps its encounter and author', old.id using errcode = 'PCN01';
         end if;
         return new;
       end $$`,
      `create trigger clinical_notes_signed_immutable before update or delete on ${q(s)}.clinical_notes
         for each row execute function ${q(s)}.guard_signed_note()`,
      `create function ${q(s)}.guard_addendum() returns trigger language plpgsql as $$
       begin
         if tg_op = 'UPDATE' or not pg_has_role(current_user, (select relowner from pg_class where oid = tg_relid), 'MEMBER') then
           raise exception 'addendum % is part of a signed record and cannot be changed', old.id using errcode = 'PCN01';
         end if;
         return old;
       end $$`,
      `create trigger clinical_note_addenda_immutable before update or delete on ${q(s)}.clinical_note_addenda
         for each row execute function ${q(s)}.guard_addendum()`,

      // Canonical units: /min, mm[Hg], Cel, %, kg, cm. Ranges mirror VITAL_RANGES in vitals.ts.
      `create table ${q(s)}.vitals (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         encounter_id text not null,
         recorded_by text not null,
         measured_at timestamptz not null,
         recorded_at timestamptz not null default now(),
         heart_rate double precision check (heart_rate between 20 and 300),
         systolic double precision check (systolic between 50 and 300),
         diastolic double precision check (diastolic between 20 and 200),
         temperature double precision check (temperature between 30 and 45),
         respiratory_rate double precision check (respiratory_rate between 4 and 80),
         oxygen_saturation double precision check (oxygen_saturation between 50 and 100),
         weight double precision check (weight between 0.3 and 500),
         height double precision check (height between 20 and 275),
         primary key (clinic_id, id),
         foreign key (clinic_id, encounter_id) references ${q(s)}.encounters (clinic_id, id),
         check ((systolic is null) = (diastolic is null)),
         check (systolic > diastolic),
         check (num_nonnulls(heart_rate, systolic, temperature, respiratory_rate, oxygen_saturation, weight, height) > 0))`,
      `create index vitals_by_encounter on ${q(s)}.vitals (clinic_id, encounter_id, measured_at)`,
      ...rlsStatements(s, 'vitals'),

      `create table ${q(s)}.prescriptions (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         encounter_id text not null,
         prescriber_id text not null,
         drug text not null,
         rxnorm_code text,
         dose_amount double precision not null check (dose_amount > 0),
         dose_unit text not null,
         route text not null,
         frequency text not null,
         as_needed boolean not null default false,
         quantity double precision not null check (quantity > 0),
         quantity_unit text not null,
         refills integer not null check (refills between 0 and 11),
         instructions text,
         issued_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, encounter_id) references ${q(s)}.encounters (clinic_id, id))`,
      `create index prescriptions_by_encounter on ${q(s)}.prescriptions (clinic_id, encounter_id, issued_at)`,
      ...rlsStatements(s, 'prescriptions'),

      `create table ${q(s)}.diagnoses (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         encounter_id text not null,
         code text not null check (code ~ '^[A-Z][0-9][0-9A-Z](\\.[0-9A-Z]{1,4})?$'),
         description text not null,
         rank text not null check (rank in ('primary', 'secondary')),
         recorded_by text not null,
         recorded_at timestamptz not null default now(),
         primary key (clinic_id, id),
         foreign key (clinic_id, encounter_id) references ${q(s)}.encounters (clinic_id, id))`,
      `create index diagnoses_by_encounter on ${q(s)}.diagnoses (clinic_id, encounter_id, recorded_at)`,
      `create index diagnoses_by_code on ${q(s)}.diagnoses (clinic_id, code)`,
      // At most one primary diagnosis per encounter.
      `create unique index diagnoses_one_primary on ${q(s)}.diagnoses (clinic_id, encounter_id) where rank = 'primary'`,
      ...rlsStatements(s, 'diagnoses'),
    ],
  },
  {
    version: 5,
    name: 'encounters reference their appointment',
    // Added once scheduling's appointments existed (version 3); an encounter without an appointment stays null.
    up: (s) => [
      `alter table ${q(s)}.encounters add constraint encounters_appointment_fk
         foreign key (clinic_id, appointment_id) references ${q(s)}.appointments (clinic_id, id)`,
    ],
  },
  {
    version: 7,
    name: 'patient accounts, their links and sessions; released visit summaries',
    // What the provider released to the patient portal after the visit: which parts of the encounter (diagnoses,
    // prescriptions, vitals) and a message in the provider's own words. Nothing is released until they say so.
    up: (s) => [
      `alter table ${q(s)}.encounters
         add column summary_released_at timestamptz,
         add column summary_released_by text,
         add column summary_parts text[],
         add column summary_message text,
         add constraint encounters_summary_release check ((summary_released_at is null) = (summary_parts is null))`,
    ],
  },
];

/** The clinical tables in foreign-key order, for moves and exports. */
export const CLINICAL_TABLES: TenantTable[] = [
  { name: 'encounters', key: ['clinic_id', 'id'] },
  { name: 'clinical_notes', key: ['clinic_id', 'id'] },
  { name: 'clinical_note_addenda', key: ['clinic_id', 'id'] },
  { name: 'vitals', key: ['clinic_id', 'id'] },
  { name: 'prescriptions', key: ['clinic_id', 'id'] },
  { name: 'diagnoses', key: ['clinic_id', 'id'] },
];

export const CLINICAL_COLUMNS = {
  encounters: {
    clinic_id: text(),
    id: text(),
    patient_id: text(),
    provider_id: text(),
    appointment_id: text().nullable(),
    reason: text().nullable(),
    status: oneOf(['open', 'closed']).hasDefault(),
    opened_by: text(),
    opened_at: timestamptz().hasDefault(),
    closed_by: text().nullable(),
    closed_at: timestamptz().nullable(),
    summary_released_at: timestamptz().nullable(),
    summary_released_by: text().nullable(),
    summary_parts: textArray().nullable(),
    summary_message: text().nullable(),
  },
  clinical_notes: {
    clinic_id: text(),
    id: text(),
    encounter_id: text(),
    author_id: text(),
    status: oneOf(['draft', 'signed']).hasDefault(),
    subjective: text().nullable(),
    objective: text().nullable(),
    assessment: text().nullable(),
    plan: text().nullable(),
    version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
    signed_at: timestamptz().nullable(),
  },
  clinical_note_addenda: {
    clinic_id: text(),
    id: text(),
    note_id: text(),
    author_id: text(),
    text: text(),
    created_at: timestamptz().hasDefault(),
  },
  vitals: {
    clinic_id: text(),
    id: text(),
    encounter_id: text(),
    recorded_by: text(),
    measured_at: timestamptz(),
    recorded_at: timestamptz().hasDefault(),
    heart_rate: double().nullable(),
    systolic: double().nullable(),
    diastolic: double().nullable(),
    temperature: double().nullable(),
    respiratory_rate: double().nullable(),
    oxygen_saturation: double().nullable(),
    weight: double().nullable(),
    height: double().nullable(),
  },
  prescriptions: {
    clinic_id: text(),
    id: text(),
    encounter_id: text(),
    prescriber_id: text(),
    drug: text(),
    rxnorm_code: text().nullable(),
    dose_amount: double(),
    dose_unit: text(),
    route: text(),
    frequency: text(),
    as_needed: boolean().hasDefault(),
    quantity: double(),
    quantity_unit: text(),
    refills: integer(),
    instructions: text().nullable(),
    issued_at: timestamptz().hasDefault(),
  },
  diagnoses: {
    clinic_id: text(),
    id: text(),
    encounter_id: text(),
    code: text(),
    description: text(),
    rank: oneOf(['primary', 'secondary']),
    recorded_by: text(),
    recorded_at: timestamptz().hasDefault(),
  },
};

type Columns = typeof CLINICAL_COLUMNS;
export type EncountersTable = Table<Columns['encounters']>;
export type ClinicalNotesTable = Table<Columns['clinical_notes']>;
export type ClinicalNoteAddendaTable = Table<Columns['clinical_note_addenda']>;
export type VitalsTable = Table<Columns['vitals']>;
export type PrescriptionsTable = Table<Columns['prescriptions']>;
export type DiagnosesTable = Table<Columns['diagnoses']>;
export type ClinicalDB = Database<Columns>;
