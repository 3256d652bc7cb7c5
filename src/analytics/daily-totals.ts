import { type RawBuilder, sql } from 'kysely';
import { CONTRIBUTION, DAILY_FIGURES } from './daily-totals-migration.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { sealedThrough } from './daily-totals-seal.js';
import type { DimensionKey, MeasureKey } from './migration.js';

/**
 * Reading the daily visit totals (tenant migration 18, `daily-totals-migration.ts`): a period's appointments as
 * rows of one shape, the roll-up's rows for its whole closed UTC days and one row per appointment for the rest
 * (the partial days at its edges, and today and later: days still open), each with the figures of
 * `DAILY_FIGURES`. Summing a figure over these rows is summing it over the period's appointments: the roll-up's
 * rows are those sums per day, kept exact by the writing transactions, and the live rows use the same expressions.
 *
 * The roll-up holds only the clinic's sealed days (at or before its watermark, `SEALED_TABLE`): today and later,
 * and closed days the sealing has not reached yet, are read live. Those are the days still being written
 * (bookings, check-ins, completions, charges), which is why they keep no totals; one of them is ~1/30 of a month's
 * scan, and a dashboard of past months, the common case, reads no live day at all. Only whole UTC days are rolled
 * up; a period that starts or ends inside a day reads that day's appointments live.
 */
export interface Coverage {
  /** Roll-up days `[rollFrom, rollTo)`, as 'YYYY-MM-DD' (empty when equal). */
  rollFrom: string;
  rollTo: string;
  /** Live instants: `[from, liveBefore)` and `[liveFrom, to)`. */
  liveBefore: Date;
  liveFrom: Date;
}

const DAY = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Which part of `[from, to)` the roll-up answers (its whole UTC days before today's, up to the clinic's watermark
 * `sealed`, 'YYYY-MM-DD', null when nothing is sealed) and which is scanned live.
 */
export function coverage(from: Date, to: Date, now: Date = new Date(), sealed: string | null = null): Coverage {
  const first = Math.ceil(from.getTime() / DAY) * DAY;
  const sealedEnd = sealed === null ? Number.NEGATIVE_INFINITY : Date.parse(`${sealed}T00:00:00Z`) + DAY;
  const end = Math.min(Math.floor(to.getTime() / DAY) * DAY, Math.floor(now.getTime() / DAY) * DAY, sealedEnd);
  if (end <= first) return { rollFrom: dayOf(to.getTime()), rollTo: dayOf(to.getTime()), liveBefore: to, liveFrom: to };
  return { rollFrom: dayOf(first), rollTo: dayOf(end), liveBefore: new Date(first), liveFrom: new Date(end) };
}

/**
 * What a period read may be told rather than find out. `now` places the open days (today's and later, read
 * live; a test passes the epoch to read every day live). `sealed` is the clinic's watermark when the caller has
 * read it already in this transaction (the dashboard route, which also checks its lag); it is read here otherwise.
 */
export interface PeriodRead {
  now?: Date;
  sealed?: string | null;
}

const figures = (expr: (f: (typeof DAILY_FIGURES)[number]) => string) => sql.raw(DAILY_FIGURES.map((f) => `${expr(f)} as ${f}`).join(', '));

/**
 * The period's rows (alias them `a`): `provider_id, appointment_type, modality, at` (a roll-up row's day at
 * 00:00 UTC, an appointment's start), every figure, and `currency` (of the charges counted). A row that
 * counts no charge has no currency.
 *
 * The watermark is read first, in its own statement, so the bounds below are constants the planner sees (with
 * the watermark inside the statement it planned the live branch for a whole month and hashed every charge). A
 * sealing that commits in between changes nothing: the days up to the watermark read have the same totals after
 * it, and days after it are read live either way.
 */
export async function periodRows(scope: TenantScope, from: Date, to: Date, read: PeriodRead = {}): Promise<RawBuilder<unknown>> {
  const c = coverage(from, to, read.now, read.sealed === undefined ? await sealedThrough(scope) : read.sealed);
  const clinicId = scope.clinicId;
  return sql`
    select r.provider_id, r.appointment_type, r.modality, (r.day::timestamp at time zone 'UTC') as at,
      ${figures((f) => `r.${f}`)}, case when r.charged_visits > 0 then r.currency end as currency
    from daily_visit_totals r
    where r.clinic_id = ${clinicId} and r.day >= ${c.rollFrom}::date and r.day < ${c.rollTo}::date
    union all
    select provider_id, appointment_type, modality, starts_at, ${figures((f) => CONTRIBUTION[f])}, currency
    from (
      select a.provider_id, a.appointment_type, a.modality, a.status, a.starts_at, a.ends_at,
        c.appointment_id as charge_id, c.amount_minor, c.status as charge_status, c.currency,
        v.appointment_id as survey_id, v.overall, v.recommend, v.ease
      from appointments a
      left join visit_charges c on c.clinic_id = a.clinic_id and c.appointment_id = a.id
      left join visit_surveys v on v.clinic_id = a.clinic_id and v.appointment_id = a.id
      where a.clinic_id = ${clinicId}
        and ((a.starts_at >= ${from} and a.starts_at < ${c.liveBefore}) or (a.starts_at >= ${c.liveFrom} and a.starts_at < ${to}))) x`;
}

/** The measures the roll-up can answer: every one but the outcome scores (not tied to an appointment). */
export type RolledMeasure = Exclude<MeasureKey, 'phq9_mean' | 'gad7_mean'>;

/**
 * Each measure over `periodRows` (alias `a`), the same value as its definition in `measures.ts` over raw rows:
 * counts are sums of counts, means are sums over counts (`numeric` division, as `avg` does), rates as they were.
 */
export const ROLLED: Record<RolledMeasure, RawBuilder<unknown>> = {
  visits: sql`coalesce(sum(a.visits), 0)`,
  completed_visits: sql`coalesce(sum(a.completed), 0)`,
  cancelled_visits: sql`coalesce(sum(a.cancelled), 0)`,
  no_shows: sql`coalesce(sum(a.no_shows), 0)`,
  no_show_rate: sql`sum(a.no_shows)::float8 / nullif(sum(a.completed) + sum(a.no_shows), 0)`,
  booked_minutes: sql`coalesce(sum(a.booked_minutes), 0)`,
  revenue_charged: sql`coalesce(sum(a.charged), 0)`,
  revenue_paid: sql`coalesce(sum(a.paid), 0)`,
  survey_responses: sql`coalesce(sum(a.responses), 0)`,
  mean_satisfaction: sql`sum(a.overall_sum)::numeric / nullif(sum(a.responses), 0)`,
  net_promoter_score: sql`(sum(a.promoters) - sum(a.detractors))::float8 * 100 / nullif(sum(a.responses), 0)`,
};

/** The figure whose rows a measure's source counts: a group of its breakdown exists when this is above 0. */
export const SOURCE_FIGURE = { appointments: 'visits', charges: 'charged_visits', surveys: 'responses' } as const;

const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Universal', 'Zulu', 'Etc/Zulu']);

/**
 * Whether a breakdown can be read from UTC days: any dimension but a local week or month, and those too in a UTC
 * zone. (In another zone a local week starts inside a UTC day, which the roll-up cannot split: the live scan.)
 */
export function rollsUp(dimension: DimensionKey, timeZone: string): boolean {
  return (dimension !== 'week' && dimension !== 'month') || UTC_ZONES.has(timeZone);
}
