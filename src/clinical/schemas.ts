import { z } from 'zod';
import { idSchema } from '../ids.js';
import { DISPENSE_UNITS, DOSE_UNITS, FREQUENCIES, ROUTES } from './vocabulary.js';

/**
 * Request and response shapes of the clinical record. Ranges of vitals and the ICD-10-CM code shape are not
 * checked here but in `vitals.ts` and `diagnoses.ts`, so that a violation answers with its own stable code
 * naming the measurement and the bound, not a generic validation error.
 */
const text = (max: number) => z.string().trim().min(1).max(max);
const section = z.string().max(50_000).nullable();
const instant = z.iso.datetime({ offset: true });

// ---- encounters

export const EncounterInput = z.strictObject({
  patientId: idSchema('patient'),
  /** The clinician responsible: a user of this clinic with a physician or nurse membership. */
  providerId: idSchema('user'),
  appointmentId: idSchema('appointment').optional(),
  reason: text(500).optional(),
});

export const EncounterStatus = z.enum(['open', 'closed']);

export const Encounter = z.object({
  id: z.string(),
  clinicId: z.string(),
  patientId: z.string(),
  providerId: z.string(),
  appointmentId: z.string().nullable(),
  reason: z.string().nullable(),
  status: EncounterStatus,
  openedBy: z.string(),
  openedAt: z.string(),
  closedBy: z.string().nullable(),
  closedAt: z.string().nullable(),
});

export const EncounterListQuery = z.strictObject({
  patientId: idSchema('patient'),
  status: EncounterStatus.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** The last encounter id of the previous page (newest first). */
  cursor: idSchema('encounter').optional(),
});

export const EncounterPage = z.object({ items: z.array(Encounter), nextCursor: z.string().nullable() });

// ---- notes

export const NoteInput = z.strictObject({
  subjective: section.optional(),
  objective: section.optional(),
  assessment: section.optional(),
  plan: section.optional(),
});

export const NotePatch = z
  .strictObject({
    subjective: section,
    objective: section,
    assessment: section,
    plan: section,
    /** Optional optimistic concurrency: the version the client last saw. */
    version: z.number().int().positive(),
  })
  .partial()
  .refine((p) => Object.keys(p).some((k) => k !== 'version'), 'at least one section to change is required');

export const AddendumInput = z.strictObject({ text: text(50_000) });

export const Addendum = z.object({
  id: z.string(),
  noteId: z.string(),
  authorId: z.string(),
  text: z.string(),
  createdAt: z.string(),
});

export const Note = z.object({
  id: z.string(),
  encounterId: z.string(),
  patientId: z.string(),
  authorId: z.string(),
  status: z.enum(['draft', 'signed']),
  subjective: z.string().nullable(),
  objective: z.string().nullable(),
  assessment: z.string().nullable(),
  plan: z.string().nullable(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  signedAt: z.string().nullable(),
  addenda: z.array(Addendum),
});

// ---- vitals (units are UCUM codes, as FHIR vital-signs observations use them)

const reading = <U extends readonly [string, ...string[]]>(units: U) => z.strictObject({ value: z.number(), unit: z.enum(units) });

export const VitalsInput = z.strictObject({
  /** When the measurement was taken; defaults to now. */
  measuredAt: instant.optional(),
  heartRate: reading(['/min'] as const).optional(),
  bloodPressure: z.strictObject({ systolic: z.number(), diastolic: z.number(), unit: z.enum(['mm[Hg]']) }).optional(),
  temperature: reading(['Cel', '[degF]'] as const).optional(),
  respiratoryRate: reading(['/min'] as const).optional(),
  oxygenSaturation: reading(['%'] as const).optional(),
  weight: reading(['kg', 'g', '[lb_av]'] as const).optional(),
  height: reading(['cm', 'm', '[in_i]'] as const).optional(),
});

const stored = <U extends string>(unit: U) => z.object({ value: z.number(), unit: z.literal(unit) }).nullable();

/** Vitals as stored: always in canonical units, whatever unit they were entered in. */
export const Vitals = z.object({
  id: z.string(),
  encounterId: z.string(),
  patientId: z.string(),
  recordedBy: z.string(),
  measuredAt: z.string(),
  recordedAt: z.string(),
  heartRate: stored('/min'),
  bloodPressure: z.object({ systolic: z.number(), diastolic: z.number(), unit: z.literal('mm[Hg]') }).nullable(),
  temperature: stored('Cel'),
  respiratoryRate: stored('/min'),
  oxygenSaturation: stored('%'),
  weight: stored('kg'),
  height: stored('cm'),
});

// ---- prescriptions (the vocabulary is in vocabulary.ts, which the web app imports too)

export const PrescriptionInput = z.strictObject({
  drug: text(300),
  rxnormCode: z
    .string()
    .regex(/^[0-9]{1,10}$/, 'must be an RxNorm concept id (digits)')
    .optional(),
  dose: z.strictObject({ amount: z.number().positive().max(100_000), unit: z.enum(DOSE_UNITS) }),
  route: z.enum(ROUTES),
  frequency: z.enum(FREQUENCIES),
  asNeeded: z.boolean().default(false),
  quantity: z.strictObject({ value: z.number().positive().max(100_000), unit: z.enum(DISPENSE_UNITS) }),
  refills: z.number().int().min(0).max(11),
  instructions: text(2_000).optional(),
});

export const Prescription = z.object({
  id: z.string(),
  encounterId: z.string(),
  patientId: z.string(),
  prescriberId: z.string(),
  drug: z.string(),
  rxnormCode: z.string().nullable(),
  dose: z.object({ amount: z.number(), unit: z.string() }),
  route: z.string(),
  frequency: z.string(),
  asNeeded: z.boolean(),
  quantity: z.object({ value: z.number(), unit: z.string() }),
  refills: z.number().int(),
  instructions: z.string().nullable(),
  issuedAt: z.string(),
});

// ---- diagnoses

export const DiagnosisInput = z.strictObject({
  /** ICD-10-CM, with or without the dot: `J45.909`, `E119`. Checked in `diagnoses.ts`. */
  code: z.string().max(16),
  description: text(500),
  rank: z.enum(['primary', 'secondary']).default('secondary'),
});

export const Diagnosis = z.object({
  id: z.string(),
  encounterId: z.string(),
  patientId: z.string(),
  code: z.string(),
  description: z.string(),
  rank: z.enum(['primary', 'secondary']),
  recordedBy: z.string(),
  recordedAt: z.string(),
});

/** An encounter with the records the caller's role may read; a kind the role may not read is left out. */
export const EncounterRecord = Encounter.extend({
  notes: z.array(Note).optional(),
  vitals: z.array(Vitals).optional(),
  prescriptions: z.array(Prescription).optional(),
  diagnoses: z.array(Diagnosis).optional(),
});

export const items = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

export type EncounterInput = z.infer<typeof EncounterInput>;
export type Encounter = z.infer<typeof Encounter>;
export type EncounterListQuery = z.infer<typeof EncounterListQuery>;
export type EncounterRecord = z.infer<typeof EncounterRecord>;
export type NoteInput = z.infer<typeof NoteInput>;
export type NotePatch = z.infer<typeof NotePatch>;
export type Note = z.infer<typeof Note>;
export type Addendum = z.infer<typeof Addendum>;
export type VitalsInput = z.infer<typeof VitalsInput>;
export type Vitals = z.infer<typeof Vitals>;
export type PrescriptionInput = z.infer<typeof PrescriptionInput>;
export type Prescription = z.infer<typeof Prescription>;
export type DiagnosisInput = z.infer<typeof DiagnosisInput>;
export type Diagnosis = z.infer<typeof Diagnosis>;
