import { sql } from 'kysely';
import { badRequest, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { INSTRUMENT_KEYS, type InstrumentKey } from './migration.js';

/**
 * Outcome measures: the PHQ-9 (depression, nine items) and GAD-7 (anxiety, seven items), each item answered
 * 0–3 ("not at all" … "nearly every day"). The total is the sum; the severity bands are the instruments' own
 * (Kroenke, Spitzer et al.). PHQ-9 item 9 asks about thoughts of self-harm: any answer above 0 is flagged,
 * whatever the total, so the clinician sees it.
 */
export const INSTRUMENTS: Record<InstrumentKey, { items: number; bands: readonly (readonly [number, string])[] }> = {
  phq9: {
    items: 9,
    bands: [
      [0, 'minimal'],
      [5, 'mild'],
      [10, 'moderate'],
      [15, 'moderately_severe'],
      [20, 'severe'],
    ],
  },
  gad7: {
    items: 7,
    bands: [
      [0, 'minimal'],
      [5, 'mild'],
      [10, 'moderate'],
      [15, 'severe'],
    ],
  },
};
export const SEVERITIES = ['minimal', 'mild', 'moderate', 'moderately_severe', 'severe'] as const;

export interface Scored {
  score: number;
  severity: string;
  /** PHQ-9 item 9 answered above 0. */
  selfHarm: boolean;
}

/** The total and band of a complete set of answers; anything else is refused (no partial or out-of-range scoring). */
export function scoreInstrument(instrument: InstrumentKey, answers: readonly number[]): Scored {
  const def = INSTRUMENTS[instrument];
  if (answers.length !== def.items)
    throw badRequest('invalid_answers', `${instrument.toUpperCase()} has ${def.items} items; ${answers.length} answers were given`);
  if (!answers.every((a) => Number.isInteger(a) && a >= 0 && a <= 3)) throw badRequest('invalid_answers', 'Each answer is 0, 1, 2 or 3');
  const score = answers.reduce((a, b) => a + b, 0);
  const severity = [...def.bands].reverse().find(([min]) => score >= min)![1];
  return { score, severity, selfHarm: instrument === 'phq9' && answers[8]! > 0 };
}

export interface OutcomeScore extends Scored {
  id: string;
  instrument: InstrumentKey;
  answers: number[];
  recordedBy: string;
  recordedAt: string;
}

type Row = {
  id: string;
  instrument: InstrumentKey;
  answers: number[];
  score: number;
  severity: string;
  recorded_by: string;
  recorded_at: Date;
};
const toScore = (r: Row): OutcomeScore => ({
  id: r.id,
  instrument: r.instrument,
  answers: r.answers,
  score: r.score,
  severity: r.severity,
  selfHarm: r.instrument === 'phq9' && (r.answers[8] ?? 0) > 0,
  recordedBy: r.recorded_by,
  recordedAt: r.recorded_at.toISOString(),
});

async function requirePatient(scope: TenantScope, patientId: string): Promise<void> {
  const found = await scope.db.selectFrom('patients').select('id').where('id', '=', patientId).executeTakeFirst();
  if (!found) throw notFound('patient');
}

export async function recordOutcome(
  scope: TenantScope,
  patientId: string,
  input: { instrument: InstrumentKey; answers: number[] },
  userId: string,
): Promise<OutcomeScore> {
  const scored = scoreInstrument(input.instrument, input.answers);
  await requirePatient(scope, patientId);
  const row = await scope.db
    .insertInto('outcome_scores')
    .values({
      clinic_id: scope.clinicId,
      id: newId('outcomeScore'),
      patient_id: patientId,
      instrument: input.instrument,
      answers: JSON.stringify(input.answers),
      score: scored.score,
      severity: scored.severity,
      recorded_by: userId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toScore(row);
}

/** A patient's scores, oldest first: the trend the chart draws. */
export async function patientOutcomes(scope: TenantScope, patientId: string): Promise<OutcomeScore[]> {
  await requirePatient(scope, patientId);
  const rows = await scope.db
    .selectFrom('outcome_scores')
    .selectAll()
    .where('patient_id', '=', patientId)
    .orderBy('recorded_at')
    .orderBy('id')
    .execute();
  return rows.map(toScore);
}

export interface OutcomesSummary {
  instrument: InstrumentKey;
  assessments: number;
  patients: number;
  meanScore: number | null;
  /** Patients by the band of their latest score in the period. */
  latestSeverity: { severity: string; patients: number }[];
  /** Patients with two or more scores in the period whose latest is lower than their first. */
  improved: number;
  measuredTwice: number;
  byMonth: { month: string; meanScore: number; assessments: number }[];
}

const n = (v: unknown) => Number(v ?? 0);

/** Outcomes across the clinic's patients in a period, per instrument (aggregates only). */
export async function outcomesSummary(scope: TenantScope, from: Date, to: Date): Promise<OutcomesSummary[]> {
  const totals = await sql<{ instrument: InstrumentKey; assessments: string; patients: string; mean: string | null }>`
    select instrument, count(*) as assessments, count(distinct patient_id) as patients, avg(score) as mean
    from outcome_scores where recorded_at >= ${from} and recorded_at < ${to} group by instrument`.execute(scope.db);
  const per = await sql<{ instrument: InstrumentKey; severity: string; patients: string }>`
    select instrument, severity, count(*) as patients from (
      select distinct on (instrument, patient_id) instrument, severity from outcome_scores
      where recorded_at >= ${from} and recorded_at < ${to} order by instrument, patient_id, recorded_at desc, id desc) latest
    group by instrument, severity`.execute(scope.db);
  const change = await sql<{ instrument: InstrumentKey; twice: string; improved: string }>`
    select instrument, count(*) as twice, count(*) filter (where last < first) as improved from (
      select instrument, patient_id,
        (array_agg(score order by recorded_at, id))[1] as first,
        (array_agg(score order by recorded_at desc, id desc))[1] as last, count(*) as n
      from outcome_scores where recorded_at >= ${from} and recorded_at < ${to} group by instrument, patient_id) p
    where n >= 2 group by instrument`.execute(scope.db);
  const months = await sql<{ instrument: InstrumentKey; month: string; mean: string; assessments: string }>`
    select instrument, to_char(date_trunc('month', recorded_at at time zone 'UTC'), 'YYYY-MM') as month, avg(score) as mean,
      count(*) as assessments
    from outcome_scores where recorded_at >= ${from} and recorded_at < ${to} group by 1, 2 order by 1, 2`.execute(scope.db);
  return INSTRUMENT_KEYS.map((instrument) => {
    const t = totals.rows.find((r) => r.instrument === instrument);
    const c = change.rows.find((r) => r.instrument === instrument);
    return {
      instrument,
      assessments: n(t?.assessments),
      patients: n(t?.patients),
      meanScore: t?.mean == null ? null : Number(t.mean),
      latestSeverity: INSTRUMENTS[instrument].bands.map(([, severity]) => ({
        severity,
        patients: n(per.rows.find((r) => r.instrument === instrument && r.severity === severity)?.patients),
      })),
      improved: n(c?.improved),
      measuredTwice: n(c?.twice),
      byMonth: months.rows
        .filter((r) => r.instrument === instrument)
        .map((r) => ({ month: r.month, meanScore: Number(r.mean), assessments: n(r.assessments) })),
    };
  });
}
