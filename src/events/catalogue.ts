import { z } from 'zod';

/**
 * Every domain event, in one typed catalogue. Payloads carry identifiers, codes and times, not free text:
 * the analytics scrubber (before anything leaves a region) works from this allow-list of fields.
 * Adding an event or a field is a reviewed change here; renaming one is a breaking change for consumers.
 */
const id = z.string();
const instant = z.string().datetime();

export const EVENT_CATALOGUE = {
  'patient.registered': z.object({ patientId: id }),
  'patient.updated': z.object({ patientId: id, fields: z.array(z.string()) }),
  'provider.created': z.object({ providerId: id, userId: id }),
  'provider.updated': z.object({ providerId: id, fields: z.array(z.string()) }),
  'availability.changed': z.object({ providerId: id }),
  'appointment.booked': z.object({
    appointmentId: id,
    patientId: id,
    providerId: id,
    appointmentType: z.string(),
    startsAt: instant,
    endsAt: instant,
    modality: z.enum(['video', 'in_person']),
  }),
  'appointment.rescheduled': z.object({
    appointmentId: id,
    from: z.object({ startsAt: instant, endsAt: instant, providerId: id }),
    to: z.object({ startsAt: instant, endsAt: instant, providerId: id }),
  }),
  'appointment.status_changed': z.object({ appointmentId: id, from: z.string(), to: z.string() }),
  'appointment.cancelled': z.object({ appointmentId: id, reasonCode: z.string(), cancelledBy: id }),
  'questionnaire.created': z.object({ questionnaireId: id, version: z.number().int() }),
  'questionnaire.updated': z.object({ questionnaireId: id, version: z.number().int() }),
  'intake.submitted': z.object({ appointmentId: id, responseId: id, questionnaireId: id }),
  'encounter.opened': z.object({ encounterId: id, patientId: id, providerId: id, appointmentId: id.nullable() }),
  'encounter.closed': z.object({ encounterId: id }),
  'clinical_note.drafted': z.object({ noteId: id, encounterId: id, authorId: id }),
  'clinical_note.updated': z.object({
    noteId: id,
    encounterId: id,
    sections: z.array(z.enum(['subjective', 'objective', 'assessment', 'plan'])),
  }),
  'clinical_note.signed': z.object({ noteId: id, encounterId: id, authorId: id }),
  'clinical_note.addendum_added': z.object({ noteId: id, addendumId: id, authorId: id }),
  'vitals.recorded': z.object({ vitalsId: id, encounterId: id, measurements: z.array(z.string()) }),
  'prescription.issued': z.object({ prescriptionId: id, encounterId: id, prescriberId: id }),
  'diagnosis.recorded': z.object({ diagnosisId: id, encounterId: id, code: z.string() }),
  // Video visits: who came and went, never what was said or shown (nothing of a call is recorded).
  'video.joined': z.object({ appointmentId: id, role: z.enum(['provider', 'patient']) }),
  'video.admitted': z.object({ appointmentId: id, waitedSeconds: z.number().int().nonnegative() }),
  'video.left': z.object({ appointmentId: id, role: z.enum(['provider', 'patient']) }),
  'video.ended': z.object({ appointmentId: id, encounterId: id, durationSeconds: z.number().int().nonnegative() }),
  // The patient's post-visit survey: scores on fixed scales, no free text.
  'visit_survey.submitted': z.object({
    appointmentId: id,
    overall: z.number().int(),
    recommend: z.number().int(),
    ease: z.number().int().nullable(),
  }),
} as const;

export type EventType = keyof typeof EVENT_CATALOGUE;
export type EventPayload<T extends EventType> = z.infer<(typeof EVENT_CATALOGUE)[T]>;
