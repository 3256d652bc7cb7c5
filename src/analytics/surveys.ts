import { sql } from 'kysely';
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

const n = (v: unknown) => Number(v ?? 0);
const orNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Satisfaction of the visits that started in a period, aggregate only (no answer is shown with its patient). */
export async function satisfaction(scope: TenantScope, from: Date, to: Date): Promise<Satisfaction> {
  const totals = await sql<{ responses: string; overall: string | null; ease: string | null; promoters: string; detractors: string }>`
    select count(*) as responses, avg(s.overall) as overall, avg(s.ease) as ease,
      count(*) filter (where s.recommend >= 9) as promoters, count(*) filter (where s.recommend <= 6) as detractors
    from visit_surveys s join appointments a on a.clinic_id = s.clinic_id and a.id = s.appointment_id
    where a.starts_at >= ${from} and a.starts_at < ${to}`.execute(scope.db);
  const completed = await sql<{ n: string }>`
    select count(*) as n from appointments where status = 'completed' and starts_at >= ${from} and starts_at < ${to}`.execute(scope.db);
  const dist = await sql<{ overall: number; n: string }>`
    select s.overall, count(*) as n
    from visit_surveys s join appointments a on a.clinic_id = s.clinic_id and a.id = s.appointment_id
    where a.starts_at >= ${from} and a.starts_at < ${to} group by s.overall`.execute(scope.db);
  const providers = await sql<{ id: string; display_name: string; responses: string; overall: string }>`
    select a.provider_id as id, min(p.display_name) as display_name, count(*) as responses, avg(s.overall) as overall
    from visit_surveys s join appointments a on a.clinic_id = s.clinic_id and a.id = s.appointment_id
    join providers p on p.clinic_id = a.clinic_id and p.id = a.provider_id
    where a.starts_at >= ${from} and a.starts_at < ${to} group by a.provider_id order by 2, 1`.execute(scope.db);
  const t = totals.rows[0];
  const responses = n(t?.responses);
  const done = n(completed.rows[0]?.n);
  const byScore = new Map(dist.rows.map((r) => [Number(r.overall), n(r.n)]));
  return {
    responses,
    responseRate: done === 0 ? null : responses / done,
    averageOverall: orNull(t?.overall),
    averageEase: orNull(t?.ease),
    netPromoterScore: responses === 0 ? null : ((n(t?.promoters) - n(t?.detractors)) / responses) * 100,
    overallDistribution: [1, 2, 3, 4, 5].map((s) => byScore.get(s) ?? 0),
    byProvider: providers.rows.map((r) => ({
      providerId: r.id,
      displayName: r.display_name,
      responses: n(r.responses),
      averageOverall: Number(r.overall),
    })),
  };
}
