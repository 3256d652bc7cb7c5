import { CANCELLATION_REASONS, APPOINTMENT_STATUSES } from '../scheduling/schemas.js';
import type { EventType } from '../events/catalogue.js';

/**
 * What may leave a region, per event type: a field not listed here never does. This is data, read by the
 * scrubber (`scrubber.ts`) and by the compliance report, so the report says what the system does.
 *
 * Rules:
 * - `surrogate`: a reference to a person or record becomes the region's random surrogate for it (never
 *   derived from the id; the lookup stays in the clinic's store, `analytics_surrogates`).
 * - `enum`: kept only if it is one of the listed values (so a field cannot smuggle free text).
 * - `code`: a vocabulary key the clinic configured (appointment type) or a coded value (ICD-10): kept only
 *   if it has the shape of one.
 * - `year`: a date or instant reduced to its year.
 * - `minutesAfter`: an instant as whole minutes after another instant of the same event (a duration).
 * - `count`: a list reduced to its length. `codes`: a list of enum values, others dropped.
 * - `integer`: a small whole number (a version). `score`: a whole number on a fixed scale (a survey answer).
 * A rule names a path into nested objects with `.` (`to.startsAt`); arrays are leaves.
 */
export type FieldRule =
  | { rule: 'surrogate'; kind: SurrogateKind }
  | { rule: 'enum'; values: readonly string[] }
  | { rule: 'code'; pattern: RegExp }
  | { rule: 'year' }
  | { rule: 'minutesAfter'; from: string }
  | { rule: 'count' }
  | { rule: 'codes'; values: readonly string[] }
  | { rule: 'integer' }
  | { rule: 'score'; min: number; max: number };

export const SURROGATE_KINDS = ['patient', 'provider', 'appointment', 'encounter'] as const;
export type SurrogateKind = (typeof SURROGATE_KINDS)[number];

const surrogate = (kind: SurrogateKind): FieldRule => ({ rule: 'surrogate', kind });
const oneOf = (values: readonly string[]): FieldRule => ({ rule: 'enum', values });
/** An appointment type key as the clinic's settings allow it: lower-case letters, digits and dashes. */
const typeKey: FieldRule = { rule: 'code', pattern: /^[a-z][a-z0-9-]{0,39}$/ };
/** An ICD-10-CM code: a letter, two characters, and up to four more after a dot. */
const icd10: FieldRule = { rule: 'code', pattern: /^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$/ };
const year: FieldRule = { rule: 'year' };
const MODALITIES = ['video', 'in_person'] as const;
const NOTE_SECTIONS = ['subjective', 'objective', 'assessment', 'plan'] as const;
const VITAL_SIGNS = ['heartRate', 'bloodPressure', 'temperature', 'respiratoryRate', 'oxygenSaturation', 'weight', 'height'] as const;

/**
 * Events without a line here (patient and provider profile changes, availability, questionnaire edits,
 * addenda) do not leave the region at all: the platform's metrics do not need them.
 */
export const ALLOW_LISTS: Partial<Record<EventType, Record<string, FieldRule>>> = {
  'patient.registered': { patientId: surrogate('patient') },
  'appointment.booked': {
    appointmentId: surrogate('appointment'),
    patientId: surrogate('patient'),
    providerId: surrogate('provider'),
    appointmentType: typeKey,
    modality: oneOf(MODALITIES),
    startsAt: year,
    endsAt: { rule: 'minutesAfter', from: 'startsAt' },
  },
  'appointment.rescheduled': {
    appointmentId: surrogate('appointment'),
    'to.providerId': surrogate('provider'),
    'to.startsAt': year,
    'to.endsAt': { rule: 'minutesAfter', from: 'to.startsAt' },
  },
  'appointment.status_changed': {
    appointmentId: surrogate('appointment'),
    from: oneOf(APPOINTMENT_STATUSES),
    to: oneOf(APPOINTMENT_STATUSES),
  },
  'appointment.cancelled': { appointmentId: surrogate('appointment'), reasonCode: oneOf(CANCELLATION_REASONS) },
  'intake.submitted': { appointmentId: surrogate('appointment') },
  'encounter.opened': {
    encounterId: surrogate('encounter'),
    patientId: surrogate('patient'),
    providerId: surrogate('provider'),
    appointmentId: surrogate('appointment'),
  },
  'encounter.closed': { encounterId: surrogate('encounter') },
  'clinical_note.signed': { encounterId: surrogate('encounter') },
  'clinical_note.updated': { encounterId: surrogate('encounter'), sections: { rule: 'codes', values: NOTE_SECTIONS } },
  'vitals.recorded': { encounterId: surrogate('encounter'), measurements: { rule: 'codes', values: VITAL_SIGNS } },
  'prescription.issued': { encounterId: surrogate('encounter') },
  'diagnosis.recorded': { encounterId: surrogate('encounter'), code: icd10 },
  // The post-visit survey: its scores only (it has no free-text question, and would not send one).
  'visit_survey.submitted': {
    appointmentId: surrogate('appointment'),
    overall: { rule: 'score', min: 1, max: 5 },
    recommend: { rule: 'score', min: 0, max: 10 },
    ease: { rule: 'score', min: 1, max: 5 },
  },
};

/** The envelope every scrubbed event carries: where it came from at the granularity operators need. */
export const ENVELOPE_FIELDS = ['key', 'type', 'clinicId', 'region', 'tier', 'specialty', 'year'] as const;
