import { sql } from 'kysely';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { type PeriodRead, periodRows, ROLLED } from './daily-totals.js';
import { emptyValue } from './measures.js';
import type { MeasureKey } from './migration.js';
import { feeSchedule, type Revenue } from './revenue.js';
import type { Satisfaction } from './surveys.js';

/**
 * Everything the clinic dashboard counts over a period's appointments, in one statement: one pass over the
 * period's rows (`daily-totals.ts`: the daily visit totals of its whole closed days, and its other appointments
 * one by one, each with its charge and survey), grouped at once by nothing, provider, type and UTC month
 * (`grouping sets`).
 *
 * Why one statement: the dashboard used to run ~15 statements over the same month (visits, per-provider visits,
 * five for revenue, four for satisfaction), each a fresh pass over the month's appointments; on a clinic with
 * 1,000,000 appointments a month is ~37,500 rows and the dashboard took 2.3 s at p95 (bench/dashboard-1m.ts).
 * A tenant read is one pinned connection, so the statements could not run side by side; they are folded instead.
 * Why the roll-up: folded, the pass still joined 37,500 appointments to their charges and surveys (0.65–1.25 s);
 * a closed month is ~4,500 roll-up rows (50 providers, 3 types, 2 modalities, 30 days).
 *
 * The figures are the same definitions as before: the visit measures are `ROLLED` (the custom metrics' own, equal
 * to `MEASURES` over raw rows), revenue sums the charges of the period's visits, satisfaction their surveys.
 */
const VISIT_MEASURES = [
  'visits',
  'completed_visits',
  'cancelled_visits',
  'no_shows',
  'no_show_rate',
  'booked_minutes',
] as const satisfies readonly MeasureKey[];
type VisitMeasure = (typeof VISIT_MEASURES)[number];

export interface PeriodScan {
  visits: Record<VisitMeasure, number | null>;
  completedByProvider: Map<string, number>;
  revenue: Revenue;
  satisfaction: Satisfaction;
}

type Row = {
  /** 7: the whole period; 3: one provider; 5: one appointment type; 6: one month (bits of `grouping()`). */
  g: number;
  provider_id: string | null;
  appointment_type: string | null;
  month: string | null;
  label: string | null;
  charged_rank: string;
  name_rank: string;
  unfeed: string;
  currency: string | null;
  charged_visits: string;
  charged: string;
  paid: string;
  waived: string;
  responses: string;
  overall: string | null;
  ease: string | null;
  promoters: string;
  detractors: string;
  o1: string;
  o2: string;
  o3: string;
  o4: string;
  o5: string;
} & Record<`m${number}`, unknown>;

const n = (v: unknown) => Number(v ?? 0);
const orNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const byRank = (k: 'charged_rank' | 'name_rank') => (x: Row, y: Row) => Number(x[k]) - Number(y[k]);

/** `read`: when the period's days are open and how far the clinic's days are sealed, if known (`PeriodRead`). */
export async function scanPeriod(scope: TenantScope, from: Date, to: Date, read: PeriodRead = {}): Promise<PeriodScan> {
  const measures = sql.join(VISIT_MEASURES.map((m, i) => sql`${ROLLED[m]} as ${sql.ref(`m${i}`)}`));
  const name = sql`(select p.display_name from providers p where p.clinic_id = ${scope.clinicId} and p.id = g.provider_id)`;
  const { rows } = await sql<Row>`
    select g.*, ${name} as label,
      row_number() over (partition by g.g order by g.charged desc, g.provider_id, g.appointment_type, g.month) as charged_rank,
      row_number() over (partition by g.g order by ${name}, g.provider_id) as name_rank
    from (
      select grouping(a.provider_id, a.appointment_type, a.month) as g, a.provider_id, a.appointment_type, a.month,
        ${measures},
        sum(a.unfeed) as unfeed, max(a.currency) as currency, sum(a.charged_visits) as charged_visits,
        coalesce(sum(a.charged), 0) as charged, coalesce(sum(a.paid), 0) as paid, coalesce(sum(a.waived), 0) as waived,
        sum(a.responses) as responses, sum(a.overall_sum)::numeric / nullif(sum(a.responses), 0) as overall,
        sum(a.ease_sum)::numeric / nullif(sum(a.ease_count), 0) as ease,
        sum(a.promoters) as promoters, sum(a.detractors) as detractors,
        sum(a.o1) as o1, sum(a.o2) as o2, sum(a.o3) as o3, sum(a.o4) as o4, sum(a.o5) as o5
      from (
        select r.*, to_char(date_trunc('month', r.at at time zone 'UTC'), 'YYYY-MM') as month
        from (${await periodRows(scope, from, to, read)}) r) a
      group by grouping sets ((), (a.provider_id), (a.appointment_type), (a.month))) g`.execute(scope.db);

  const of = (g: number) => rows.filter((r) => Number(r.g) === g);
  // A grand total exists even over no rows; the empty fallback only guards the shape.
  const t = of(7)[0] ?? ({} as Partial<Row>);
  const visits = Object.fromEntries(VISIT_MEASURES.map((m, i) => [m, emptyValue(m, t[`m${i}`])])) as Record<VisitMeasure, number | null>;
  const completedAt = VISIT_MEASURES.indexOf('completed_visits');
  const providers = of(3);
  const charged = n(t.charged);
  const paid = n(t.paid);
  const waived = n(t.waived);
  const responses = n(t.responses);
  const done = n(visits.completed_visits);
  return {
    visits,
    completedByProvider: new Map(providers.map((r) => [r.provider_id!, n(r[`m${completedAt}`])])),
    revenue: {
      currency: t.currency ?? (await feeSchedule(scope)).currency,
      chargedMinor: charged,
      paidMinor: paid,
      waivedMinor: waived,
      outstandingMinor: charged - paid - waived,
      chargedVisits: n(t.charged_visits),
      visitsWithoutFee: n(t.unfeed),
      byMonth: of(6)
        .filter((r) => n(r.charged_visits) > 0)
        .sort((x, y) => (x.month! < y.month! ? -1 : 1))
        .map((r) => ({ month: r.month!, chargedMinor: n(r.charged), paidMinor: n(r.paid) })),
      byProvider: providers
        .filter((r) => n(r.charged_visits) > 0)
        .sort(byRank('charged_rank'))
        .map((r) => ({ providerId: r.provider_id!, displayName: r.label!, visits: n(r.charged_visits), chargedMinor: n(r.charged) })),
      byType: of(5)
        .filter((r) => n(r.charged_visits) > 0)
        .sort(byRank('charged_rank'))
        .map((r) => ({ appointmentType: r.appointment_type!, visits: n(r.charged_visits), chargedMinor: n(r.charged) })),
    },
    satisfaction: {
      responses,
      responseRate: done === 0 ? null : responses / done,
      averageOverall: orNull(t.overall),
      averageEase: orNull(t.ease),
      netPromoterScore: responses === 0 ? null : ((n(t.promoters) - n(t.detractors)) / responses) * 100,
      overallDistribution: [n(t.o1), n(t.o2), n(t.o3), n(t.o4), n(t.o5)],
      byProvider: providers
        .filter((r) => n(r.responses) > 0)
        .sort(byRank('name_rank'))
        .map((r) => ({ providerId: r.provider_id!, displayName: r.label!, responses: n(r.responses), averageOverall: Number(r.overall) })),
    },
  };
}
