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
  // One statement (the dashboard's connection is pinned, so four passes would run one after another): the period's
  // scores once, then per patient their first and latest, then the four answers as tagged rows.
  const { rows } = await sql<{ kind: string; instrument: InstrumentKey; key: string | null; a: string; b: string | null }>`
    with o as materialized (
      select instrument, patient_id, score, severity, recorded_at, id from outcome_scores
      where recorded_at >= ${from} and recorded_at < ${to}),
    p as (
      select instrument, count(*) as n,
        (array_agg(score order by recorded_at, id))[1] as first,
        (array_agg(score order by recorded_at desc, id desc))[1] as last,
        (array_agg(severity order by recorded_at desc, id desc))[1] as latest
      from o group by instrument, patient_id)
    select 'total' as kind, instrument, null as key, count(*)::text as a, avg(score)::text as b from o group by instrument
    union all select 'patients', instrument, null, count(*)::text, null from p group by instrument
    union all select 'severity', instrument, latest, count(*)::text, null from p group by instrument, latest
    union all select 'change', instrument, null, count(*)::text, (count(*) filter (where last < first))::text
      from p where n >= 2 group by instrument
    union all select 'month', instrument, to_char(date_trunc('month', recorded_at at time zone 'UTC'), 'YYYY-MM'),
      count(*)::text, avg(score)::text from o group by 2, 3`.execute(scope.db);
  const of = (kind: string, instrument: InstrumentKey) => rows.filter((r) => r.kind === kind && r.instrument === instrument);
  return INSTRUMENT_KEYS.map((instrument) => {
    const t = of('total', instrument)[0];
    const c = of('change', instrument)[0];
    return {
      instrument,
      assessments: n(t?.a),
      patients: n(of('patients', instrument)[0]?.a),
      meanScore: t?.b == null ? null : Number(t.b),
      latestSeverity: INSTRUMENTS[instrument].bands.map(([, severity]) => ({
        severity,
        patients: n(of('severity', instrument).find((r) => r.key === severity)?.a),
      })),
      improved: n(c?.b),
      measuredTwice: n(c?.a),
      byMonth: of('month', instrument)
        .sort((x, y) => (x.key! < y.key! ? -1 : 1))
        .map((r) => ({ month: r.key!, meanScore: Number(r.b), assessments: n(r.a) })),
    };
  });
}
