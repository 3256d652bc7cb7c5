import { z } from 'zod';
import { idSchema } from '../ids.js';

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((d) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    return Number.isFinite(t) && new Date(t).toISOString().startsWith(d) && t <= Date.now();
  }, 'must be a real calendar date, not in the future');

const sex = z.enum(['female', 'male', 'other', 'unknown']);
const name = z.string().trim().min(1).max(200);

export const PatientInput = z.strictObject({
  givenName: name,
  familyName: name,
  birthDate: isoDate,
  sex: sex.default('unknown'),
  mrn: z.string().trim().min(1).max(64).optional(),
  email: z.string().email().max(320).optional(),
  phone: z
    .string()
    .regex(/^\+?[0-9 ()-]{5,32}$/, 'must be a phone number')
    .optional(),
});

export const PatientPatch = z
  .strictObject({
    givenName: name,
    familyName: name,
    birthDate: isoDate,
    sex,
    mrn: z.string().trim().min(1).max(64).nullable(),
    email: z.string().email().max(320).nullable(),
    phone: z
      .string()
      .regex(/^\+?[0-9 ()-]{5,32}$/, 'must be a phone number')
      .nullable(),
    /** Optional optimistic concurrency: the version the client last saw. */
    version: z.number().int().positive(),
  })
  .partial()
  .refine((p) => Object.keys(p).some((k) => k !== 'version'), 'at least one field to change is required');

export const Patient = z.object({
  id: z.string(),
  clinicId: z.string(),
  mrn: z.string().nullable(),
  givenName: z.string(),
  familyName: z.string(),
  birthDate: z.string(),
  sex,
  email: z.string().nullable(),
  phone: z.string().nullable(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const PatientPage = z.object({ items: z.array(Patient), nextCursor: z.string().nullable() });

export const PatientListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: idSchema('patient').optional(),
  q: z
    .string()
    .trim()
    .min(2, 'type at least 2 characters')
    .max(100)
    .refine((v) => !v.includes('\u0000'), 'must not contain NUL')
    .optional()
    .describe(
      'search: every word starts the given or family name, or the whole text starts the MRN; the first `limit` matches by name, no cursor',
    ),
  ids: z
    .string()
    .max(60 * 31)
    .transform((v) => v.split(','))
    .pipe(z.array(idSchema('patient')).min(1).max(60))
    .optional()
    .describe(
      'comma-separated patient ids (at most 60, so the query stays within the edge’s 2 KB per value): these patients, where they exist in this clinic',
    ),
});

export type PatientInput = z.infer<typeof PatientInput>;
export type PatientPatch = z.infer<typeof PatientPatch>;
export type Patient = z.infer<typeof Patient>;
