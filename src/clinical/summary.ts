import { z } from 'zod';
import { notFound } from '../errors.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { diagnosesOf } from './diagnoses.js';
import { findEncounter, type EncounterRow } from './encounters.js';
import { prescriptionsOf } from './prescriptions.js';
import { Diagnosis, Prescription, Vitals } from './schemas.js';
import { vitalsOf } from './vitals.js';

/**
 * The visit summary a patient reads in the portal: only what the provider released, after the visit. The provider
 * chooses which parts of the encounter go out (diagnoses, prescriptions, vitals) and may write a message in their
 * own words; notes never go out as they are (they are written for colleagues). Releasing again replaces what was
 * released; nothing is released until the provider says so.
 */
export const SUMMARY_PARTS = ['diagnoses', 'prescriptions', 'vitals'] as const;
export type SummaryPart = (typeof SUMMARY_PARTS)[number];

export const SummaryRelease = z.strictObject({
  parts: z
    .array(z.enum(SUMMARY_PARTS))
    .max(SUMMARY_PARTS.length)
    .refine((ps) => new Set(ps).size === ps.length, 'parts must not repeat'),
  message: z.string().trim().max(4000).optional().describe('a message to the patient in the provider’s words'),
});
export type SummaryRelease = z.infer<typeof SummaryRelease>;

export const ReleasedSummary = z.object({
  encounterId: z.string(),
  appointmentId: z.string().nullable(),
  releasedAt: z.string(),
  parts: z.array(z.enum(SUMMARY_PARTS)),
  message: z.string().nullable(),
  diagnoses: z.array(Diagnosis.pick({ code: true, description: true, rank: true })).optional(),
  prescriptions: z
    .array(Prescription.pick({ drug: true, dose: true, route: true, frequency: true, asNeeded: true, refills: true, instructions: true }))
    .optional(),
  vitals: z.array(Vitals.omit({ id: true, encounterId: true, patientId: true, recordedBy: true })).optional(),
});
export type ReleasedSummary = z.infer<typeof ReleasedSummary>;

export const SummaryReleaseView = z.object({
  encounterId: z.string(),
  releasedAt: z.string(),
  releasedBy: z.string(),
  parts: z.array(z.enum(SUMMARY_PARTS)),
  message: z.string().nullable(),
});

export async function releaseSummary(scope: TenantScope, encounterId: string, input: SummaryRelease, actorId: string) {
  await findEncounter(scope, encounterId);
  const row = await scope.db
    .updateTable('encounters')
    .set({
      summary_released_at: new Date(),
      summary_released_by: actorId,
      summary_parts: [...input.parts],
      summary_message: input.message || null,
    })
    .where('id', '=', encounterId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return {
    encounterId: row.id,
    releasedAt: row.summary_released_at!.toISOString(),
    releasedBy: row.summary_released_by!,
    parts: row.summary_parts as SummaryPart[],
    message: row.summary_message,
  };
}

/** What a patient sees of the encounter of one of their visits: the released parts only, else 404. */
export async function releasedSummaryOfVisit(scope: TenantScope, appointmentId: string): Promise<ReleasedSummary> {
  const e = await scope.db
    .selectFrom('encounters')
    .selectAll()
    .where('appointment_id', '=', appointmentId)
    .where('summary_released_at', 'is not', null)
    .executeTakeFirst();
  if (!e) throw notFound('summary');
  return releasedParts(scope, e);
}

async function releasedParts(scope: TenantScope, e: EncounterRow): Promise<ReleasedSummary> {
  const parts = (e.summary_parts ?? []) as SummaryPart[];
  const out: ReleasedSummary = {
    encounterId: e.id,
    appointmentId: e.appointment_id,
    releasedAt: e.summary_released_at!.toISOString(),
    parts,
    message: e.summary_message,
  };
  if (parts.includes('diagnoses'))
    out.diagnoses = (await diagnosesOf(scope, e)).map(({ code, description, rank }) => ({ code, description, rank }));
  if (parts.includes('prescriptions'))
    out.prescriptions = (await prescriptionsOf(scope, e)).map(({ drug, dose, route, frequency, asNeeded, refills, instructions }) => ({
      drug,
      dose,
      route,
      frequency,
      asNeeded,
      refills,
      instructions,
    }));
  if (parts.includes('vitals'))
    out.vitals = (await vitalsOf(scope, e)).map(({ id: _i, encounterId: _e, patientId: _p, recordedBy: _r, ...v }) => v);
  return out;
}
