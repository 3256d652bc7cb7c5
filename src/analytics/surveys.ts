import { conflict, notFound } from '../errors.js';
import { emit } from '../events/outbox.js';
import type { TenantScope } from '../tenancy/tenant-db.js';

/**
 * The post-visit survey: three questions on fixed scales, answered once per completed visit by its patient.
 * Overall satisfaction (1–5), how likely they are to recommend the clinic (0–10, the net promoter question),
 * and, optionally, how easy the visit was to join (1–5). There is deliberately no free-text question.
 */
export interface VisitSurvey {
  appointmentId: string;
  overall: number;
  recommend: number;
  ease: number | null;
  submittedAt: string;
}

export interface SurveyInput {
  overall: number;
  recommend: number;
  ease?: number | undefined;
}

const toSurvey = (r: {
  appointment_id: string;
  overall: number;
  recommend: number;
  ease: number | null;
  submitted_at: Date;
}): VisitSurvey => ({
  appointmentId: r.appointment_id,
  overall: r.overall,
  recommend: r.recommend,
  ease: r.ease,
  submittedAt: r.submitted_at.toISOString(),
});

/** The patient's own visit, or 404 (another patient's visit does not exist for them). */
async function ownVisit(scope: TenantScope, patientId: string, appointmentId: string) {
  const row = await scope.db
    .selectFrom('appointments')
    .select(['id', 'patient_id', 'status'])
    .where('id', '=', appointmentId)
    .executeTakeFirst();
  if (!row || row.patient_id !== patientId) throw notFound('appointment');
  return row;
}

export async function visitSurvey(scope: TenantScope, patientId: string, appointmentId: string): Promise<VisitSurvey | null> {
  await ownVisit(scope, patientId, appointmentId);
  const row = await scope.db.selectFrom('visit_surveys').selectAll().where('appointment_id', '=', appointmentId).executeTakeFirst();
  return row ? toSurvey(row) : null;
}

export async function submitSurvey(scope: TenantScope, patientId: string, appointmentId: string, input: SurveyInput): Promise<VisitSurvey> {
  const visit = await ownVisit(scope, patientId, appointmentId);
  if (visit.status !== 'completed') throw conflict('visit_not_completed', 'A visit can be rated once it has taken place');
  const row = await scope.db
    .insertInto('visit_surveys')
    .values({
      clinic_id: scope.clinicId,
      appointment_id: appointmentId,
      patient_id: patientId,
      overall: input.overall,
      recommend: input.recommend,
      ease: input.ease ?? null,
    })
    .onConflict((oc) => oc.columns(['clinic_id', 'appointment_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw conflict('survey_already_submitted', 'This visit has been rated already');
  await emit(scope, 'visit_survey.submitted', {
    appointmentId,
    overall: input.overall,
    recommend: input.recommend,
    ease: input.ease ?? null,
  });
  return toSurvey(row);
}

export interface Satisfaction {
  responses: number;
  /** Of the completed visits in the period, the share rated. */
  responseRate: number | null;
  averageOverall: number | null;
  averageEase: number | null;
  /** Promoters (9–10) minus detractors (0–6), in percent of answers: from −100 to 100. */
  netPromoterScore: number | null;
  /** How many answered 1, 2, 3, 4 and 5 overall. */
  overallDistribution: number[];
  byProvider: { providerId: string; displayName: string; responses: number; averageOverall: number }[];
}
