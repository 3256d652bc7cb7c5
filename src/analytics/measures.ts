import { type RawBuilder, sql } from 'kysely';
import { badRequest } from '../errors.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { periodRows, ROLLED, type RolledMeasure, rollsUp, SOURCE_FIGURE } from './daily-totals.js';
import type { DimensionKey, MeasureKey } from './migration.js';

/**
 * The measures of the clinic's analytics, each an aggregate over one source, and the dimensions they may be
 * broken down by. The clinic dashboard and the clinic's custom metrics are both evaluated here, so a figure
 * means the same wherever it is shown. A clinic picks names from these two allow-lists; nothing it sends
 * becomes SQL (the time zone, from its validated settings, is a bound parameter).
 *
 * Every measure is an aggregate: a row of the answer stands for a group of appointments (a provider, a type, a
 * week), never for a patient, so an analyst reads these without patient-level access.
 */
type Source = 'appointments' | 'charges' | 'surveys' | 'outcomes';

interface MeasureDef {
  source: Source;
  expr: RawBuilder<unknown>;
}

const due = sql`count(*) filter (where a.status in ('completed', 'no_show'))`;

export const MEASURES: Record<MeasureKey, MeasureDef> = {
  visits: { source: 'appointments', expr: sql`count(*)` },
  completed_visits: { source: 'appointments', expr: sql`count(*) filter (where a.status = 'completed')` },
  cancelled_visits: { source: 'appointments', expr: sql`count(*) filter (where a.status = 'cancelled')` },
  no_shows: { source: 'appointments', expr: sql`count(*) filter (where a.status = 'no_show')` },
  no_show_rate: {
    source: 'appointments',
    expr: sql`(count(*) filter (where a.status = 'no_show'))::float8 / nullif(${due}, 0)`,
  },
  booked_minutes: {
    source: 'appointments',
    expr: sql`coalesce(sum(extract(epoch from a.ends_at - a.starts_at) / 60) filter (where a.status <> 'cancelled'), 0)`,
  },
  revenue_charged: { source: 'charges', expr: sql`coalesce(sum(c.amount_minor), 0)` },
  revenue_paid: { source: 'charges', expr: sql`coalesce(sum(c.amount_minor) filter (where c.status = 'paid'), 0)` },
  survey_responses: { source: 'surveys', expr: sql`count(*)` },
  mean_satisfaction: { source: 'surveys', expr: sql`avg(s.overall)` },
  net_promoter_score: {
    source: 'surveys',
    expr: sql`((count(*) filter (where s.recommend >= 9)) - (count(*) filter (where s.recommend <= 6)))::float8 * 100 / nullif(count(*), 0)`,
  },
  phq9_mean: { source: 'outcomes', expr: sql`avg(o.score) filter (where o.instrument = 'phq9')` },
  gad7_mean: { source: 'outcomes', expr: sql`avg(o.score) filter (where o.instrument = 'gad7')` },
};

/** Each source's rows in a period, and the instant that places a row in it. */
const SOURCES: Record<Source, { from: RawBuilder<unknown>; at: RawBuilder<unknown> }> = {
  appointments: { from: sql`appointments a`, at: sql`a.starts_at` },
  charges: {
    from: sql`visit_charges c join appointments a on a.clinic_id = c.clinic_id and a.id = c.appointment_id`,
    at: sql`a.starts_at`,
  },
  surveys: {
    from: sql`visit_surveys s join appointments a on a.clinic_id = s.clinic_id and a.id = s.appointment_id`,
    at: sql`a.starts_at`,
  },
  // Outcome scores are recorded by a clinician, not tied to an appointment: only time dimensions apply.
  outcomes: { from: sql`outcome_scores o`, at: sql`o.recorded_at` },
};

/** Which dimensions a measure can be broken down by (its source has the column, or not). */
export function dimensionsOf(measure: MeasureKey): DimensionKey[] {
  return MEASURES[measure].source === 'outcomes'
    ? ['none', 'week', 'month']
    : ['none', 'provider', 'appointment_type', 'modality', 'week', 'month'];
}

/** The grouping key of a dimension; weeks (ISO, from Monday) and months are the clinic's own, in its time zone. */
function groupKey(dimension: DimensionKey, at: RawBuilder<unknown>, timeZone: string): RawBuilder<unknown> {
  switch (dimension) {
    case 'none':
      return sql`'all'`;
    case 'provider':
      return sql`a.provider_id`;
    case 'appointment_type':
      return sql`a.appointment_type`;
    case 'modality':
      return sql`a.modality`;
    case 'week':
      return sql`to_char(date_trunc('week', ${at} at time zone ${timeZone}), 'YYYY-MM-DD')`;
    case 'month':
      return sql`to_char(date_trunc('month', ${at} at time zone ${timeZone}), 'YYYY-MM')`;
  }
}

export interface MeasureRange {
  from: Date;
  to: Date;
  /** An IANA zone (the clinic's setting): where weeks and months begin. */
  timeZone: string;
}

export interface MeasureRow<M extends MeasureKey> {
  /** The group: a provider id, an appointment type, a modality, a week's Monday, a month; `all` without one. */
  key: string;
  /** What a reader calls the group (a provider's name); the key otherwise. */
  label: string;
  values: Record<M, number | null>;
}

/**
 * Several measures of one source over a period, broken down by one dimension, in one statement; groups in key
 * order. A measure with nothing to count is 0 (counts, sums) or null (means and rates of nothing). Measures of
 * appointments, charges and surveys read the daily visit totals where the breakdown allows (`rollsUp`), the same
 * figures as the scan of raw rows (`MEASURES`), which outcome scores and local weeks and months outside UTC take.
 */
export async function evaluateMeasures<M extends MeasureKey>(
  scope: TenantScope,
  measures: readonly M[],
  dimension: DimensionKey,
  range: MeasureRange,
  /** `raw`: the definitions over raw rows only (what the roll-up is tested against). */
  read: 'auto' | 'raw' = 'auto',
): Promise<MeasureRow<M>[]> {
  const sources = new Set(measures.map((m) => MEASURES[m].source));
  if (sources.size !== 1) throw new Error('measures evaluated together share one source');
  const first = measures[0]!;
  if (!dimensionsOf(first).includes(dimension))
    throw badRequest('dimension_not_allowed', `${first} cannot be broken down by ${dimension}`, { allowed: dimensionsOf(first) });
  const kind = MEASURES[first].source;
  // The provider's name is looked up once per group, after grouping, not once per appointment.
  const label =
    dimension === 'provider'
      ? sql`(select p.display_name from providers p where p.clinic_id = ${scope.clinicId} and p.id = g.key)`
      : sql`g.key`;
  let grouped: RawBuilder<unknown>;
  if (read === 'auto' && kind !== 'outcomes' && rollsUp(dimension, range.timeZone)) {
    // The daily visit totals for the period's closed days, its other appointments live (`daily-totals.ts`).
    const columns = sql.join(measures.map((m, i) => sql`${ROLLED[m as RolledMeasure]} as ${sql.ref(`m${i}`)}`));
    grouped = sql`
      select ${groupKey(dimension, sql`a.at`, range.timeZone)} as key, ${columns}
      from (${await periodRows(scope, range.from, range.to)}) a
      group by 1 having sum(${sql.ref(`a.${SOURCE_FIGURE[kind]}`)}) > 0`;
  } else {
    const source = SOURCES[kind];
    const columns = sql.join(measures.map((m, i) => sql`${MEASURES[m].expr} as ${sql.ref(`m${i}`)}`));
    grouped = sql`
      select ${groupKey(dimension, source.at, range.timeZone)} as key, ${columns}
      from ${source.from} where ${source.at} >= ${range.from} and ${source.at} < ${range.to}
      group by 1`;
  }
  const rows = await sql<Record<string, unknown> & { key: string; label: string | null }>`
    select g.*, ${label} as label from (${grouped}) g order by g.key`.execute(scope.db);
  if (rows.rows.length === 0 && dimension === 'none') rows.rows.push({ key: 'all', label: null });
  return rows.rows.map((r) => ({
    key: r.key,
    label: r.label ?? r.key,
    values: Object.fromEntries(measures.map((m, i) => [m, emptyValue(m, r[`m${i}`])])) as Record<M, number | null>,
  }));
}

/** A sum or count of nothing is 0; a mean or rate of nothing has no value. */
export function emptyValue(measure: MeasureKey, v: unknown): number | null {
  if (v !== null && v !== undefined) return Number(v);
  return /mean|rate|score/.test(measure) ? null : 0;
}
