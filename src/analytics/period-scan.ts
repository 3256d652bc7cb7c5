import { sql } from 'kysely';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { emptyValue, MEASURES } from './measures.js';
import type { MeasureKey } from './migration.js';
import { feeSchedule, type Revenue } from './revenue.js';
import type { Satisfaction } from './surveys.js';

/**
 * Everything the clinic dashboard counts over a period's appointments, in one statement: one pass over the
 * period's appointments (each joined to its charge and its survey, at most one of each: both are keyed by the
 * appointment), grouped at once by nothing, provider, type and UTC month (`grouping sets`).
 *
 * Why one statement: the dashboard used to run ~15 statements over the same month (visits, per-provider visits,
 * five for revenue, four for satisfaction), each a fresh pass over the month's appointments; on a clinic with
 * 1,000,000 appointments a month is ~37,500 rows and the dashboard took 2.3 s at p95 (bench/dashboard-1m.ts).
 * A tenant read is one pinned connection, so the statements could not run side by side; they are folded instead.
 *
 * The figures are the same definitions as before: the visit measures are `MEASURES` (the custom metrics' own),
 * revenue sums the charges of the period's visits, satisfaction the surveys of the period's visits.
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

export async function scanPeriod(scope: TenantScope, from: Date, to: Date): Promise<PeriodScan> {
  const measures = sql.join(VISIT_MEASURES.map((m, i) => sql`${MEASURES[m].expr} as ${sql.ref(`m${i}`)}`));
  const { rows } = await sql<Row>`
    select g.*, (select p.display_name from providers p where p.id = g.provider_id) as label,
      row_number() over (partition by g.g order by g.charged desc, g.provider_id, g.appointment_type, g.month) as charged_rank,
      row_number() over (partition by g.g
        order by (select p.display_name from providers p where p.id = g.provider_id), g.provider_id) as name_rank
    from (
      select grouping(a.provider_id, a.appointment_type, a.month) as g, a.provider_id, a.appointment_type, a.month,
        ${measures},
        count(*) filter (where a.status = 'completed' and a.charge_id is null) as unfeed,
        max(a.currency) as currency, count(a.charge_id) as charged_visits, coalesce(sum(a.amount_minor), 0) as charged,
        coalesce(sum(a.amount_minor) filter (where a.charge_status = 'paid'), 0) as paid,
        coalesce(sum(a.amount_minor) filter (where a.charge_status = 'waived'), 0) as waived,
        count(a.survey_id) as responses, avg(a.overall) as overall, avg(a.ease) as ease,
        count(*) filter (where a.recommend >= 9) as promoters, count(*) filter (where a.recommend <= 6) as detractors,
        count(*) filter (where a.overall = 1) as o1, count(*) filter (where a.overall = 2) as o2,
        count(*) filter (where a.overall = 3) as o3, count(*) filter (where a.overall = 4) as o4,
        count(*) filter (where a.overall = 5) as o5
      from (
        select a.status, a.starts_at, a.ends_at, a.provider_id, a.appointment_type,
          to_char(date_trunc('month', a.starts_at at time zone 'UTC'), 'YYYY-MM') as month,
          c.appointment_id as charge_id, c.currency, c.amount_minor, c.status as charge_status,
          s.appointment_id as survey_id, s.overall, s.ease, s.recommend
        from appointments a
        left join visit_charges c on c.clinic_id = a.clinic_id and c.appointment_id = a.id
        left join visit_surveys s on s.clinic_id = a.clinic_id and s.appointment_id = a.id
        where a.starts_at >= ${from} and a.starts_at < ${to}) a
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
