import { sql } from 'kysely';
import { expect } from 'vitest';
import type { TenantScope } from '../../src/tenancy/tenant-db.js';
import type { TestPlatform } from './platform.js';

/** Three providers ('prv_dt0'…'prv_dt2', UTC) and four patients ('pat_dt0'…'pat_dt3') for daily-totals tests. */
export async function seedClinic(t: TestPlatform, clinicId: string): Promise<void> {
  await t.p.stores.transaction(clinicId, 'write', async (scope) => {
    await sql`insert into providers (clinic_id, id, user_id, display_name, specialty, licence_jurisdictions, time_zone)
      select ${clinicId}, 'prv_dt' || g, 'usr_dt' || g, 'Dr ' || g, 'family_medicine', array['US-NY'], 'UTC'
      from generate_series(0, 2) g`.execute(scope.db);
    await sql`insert into patients (clinic_id, id, given_name, family_name, birth_date)
      select ${clinicId}, 'pat_dt' || g, 'Given', 'Family', date '1970-01-01' from generate_series(0, 3) g`.execute(scope.db);
  });
}

/**
 * The roll-up as it is, and as a straightforward grouping of the raw rows of the clinic's sealed days (at or before
 * its watermark) says it should be (both in key order).
 */
export async function totals(scope: TenantScope) {
  const kept = await sql`
    select day::text, provider_id, appointment_type, modality, visits, completed, cancelled, no_shows, trim_scale(booked_minutes)::text as booked_minutes,
      unfeed, charged_visits, charged, paid, waived, responses, overall_sum, ease_sum, ease_count, promoters, detractors,
      o1, o2, o3, o4, o5, case when charged_visits > 0 then currency end as currency
    from daily_visit_totals where clinic_id = ${scope.clinicId} order by 1, 2, 3, 4`.execute(scope.db);
  const raw = await sql`
    select (a.starts_at at time zone 'UTC')::date::text as day, a.provider_id, a.appointment_type, a.modality,
      count(*)::int as visits, count(*) filter (where a.status = 'completed')::int as completed,
      count(*) filter (where a.status = 'cancelled')::int as cancelled, count(*) filter (where a.status = 'no_show')::int as no_shows,
      trim_scale(coalesce(sum(extract(epoch from a.ends_at - a.starts_at) / 60) filter (where a.status <> 'cancelled'), 0))::text as booked_minutes,
      count(*) filter (where a.status = 'completed' and c.appointment_id is null)::int as unfeed,
      count(c.appointment_id)::int as charged_visits, coalesce(sum(c.amount_minor), 0)::bigint as charged,
      coalesce(sum(c.amount_minor) filter (where c.status = 'paid'), 0)::bigint as paid,
      coalesce(sum(c.amount_minor) filter (where c.status = 'waived'), 0)::bigint as waived,
      count(v.appointment_id)::int as responses, coalesce(sum(v.overall), 0)::bigint as overall_sum,
      coalesce(sum(v.ease), 0)::bigint as ease_sum, count(v.ease)::int as ease_count,
      count(*) filter (where v.recommend >= 9)::int as promoters, count(*) filter (where v.recommend <= 6)::int as detractors,
      count(*) filter (where v.overall = 1)::int as o1, count(*) filter (where v.overall = 2)::int as o2,
      count(*) filter (where v.overall = 3)::int as o3, count(*) filter (where v.overall = 4)::int as o4,
      count(*) filter (where v.overall = 5)::int as o5, max(c.currency) as currency
    from appointments a
    left join visit_charges c on c.clinic_id = a.clinic_id and c.appointment_id = a.id
    left join visit_surveys v on v.clinic_id = a.clinic_id and v.appointment_id = a.id
    where a.clinic_id = ${scope.clinicId} and (a.starts_at at time zone 'UTC')::date
      <= coalesce((select totals_through from daily_totals_sealed where clinic_id = ${scope.clinicId}), '-infinity')
    group by 1, 2, 3, 4 order by 1, 2, 3, 4`.execute(scope.db);
  return { kept: kept.rows, raw: raw.rows };
}

/** The roll-up's rows, having checked that they equal the raw rows' grouping (`totals`). */
export async function exactTotals(scope: TenantScope) {
  const { kept, raw } = await totals(scope);
  expect(kept).toEqual(raw);
  return kept;
}
