import { loadavg } from 'node:os';
import { dailyTotalsBackfill } from '../src/analytics/daily-totals-migration.js';
import type { Clinic } from '../src/controlplane/clinics.js';
import { urlWithDatabase, withClient } from '../src/db/pg.js';
import type { PlacementModel } from '../src/tenancy/naming.js';
import { bearer, startTestPlatform } from '../test/support/platform.js';
import { benchServer, median } from './server.js';

/**
 * The clinic dashboard on a clinic with 1,000,000 appointments, through the real route
 * (`GET /api/v1/clinics/:id/analytics/dashboard` for one month, signed in as the clinic's analyst: session,
 * membership, permission, tenant transaction, every measure, serialisation), against the same dashboard of a
 * 10,000-appointment clinic in the same placement, same run. Rows are made by set-based SQL (generate_series):
 * providers with weekday hours, patients, appointments on a 30-minute grid with a mix of statuses, types and
 * modalities, charges for completed visits, surveys for a fifth of them and PHQ-9/GAD-7 scores; then the daily
 * visit totals by tenant migration 18's own backfill statement (the load bypasses the triggers, as a clinic's
 * rows from before the migration did).
 *
 * Each round asks both clinics N times, alternating, after a warm-up; p95 per clinic is the median over rounds.
 * Target: p95 <= 300 ms at 1M appointments.
 * Run: npx tsx bench/dashboard-1m.ts
 *   BENCH_APPOINTMENTS (1000000), BENCH_BASELINE (10000), BENCH_REQUESTS per round (40), BENCH_ROUNDS (3),
 *   BENCH_PLACEMENT (pooled | schema | database; pooled: RLS on the shared tables, the hardest case).
 */
const BIG = Number(process.env.BENCH_APPOINTMENTS ?? 1_000_000);
const BASE = Number(process.env.BENCH_BASELINE ?? 10_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PLACEMENT = (process.env.BENCH_PLACEMENT ?? 'pooled') as PlacementModel;
const TARGET_MS = 300;
const SLOTS_PER_DAY = 25; // 09:00 … 21:00, every 30 minutes
// In the past (the 1M clinic's 800 days end in March 2025): a dashboard of a past month, whose days are closed.
const START = Date.UTC(2023, 0, 1);

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url, env: { POLYCLINIC_LOG_LEVEL: 'silent' } });

/** Providers (one per 20,000 appointments, at least 5), patients (one per 50) and the appointments, in a few statements. */
async function seed(clinic: Clinic, appointments: number): Promise<{ month: string }> {
  const providers = Math.max(5, Math.round(appointments / 20_000));
  const patients = Math.max(100, Math.round(appointments / 50));
  const days = Math.ceil(appointments / providers / SLOTS_PER_DAY);
  const c = clinic.id;
  const start = new Date(START).toISOString();
  // As the store's owner, with foreign-key triggers off for the load (the rows are consistent by construction):
  // a bulk load, not the application's write path, so seeding a million rows takes a minute, not ten.
  await withClient(urlWithDatabase(t.p.stores.adminUrl(clinic.dataRegion), clinic.placement.database), async (db) => {
    await db.query('begin');
    await db.query(`set local search_path to ${clinic.placement.schema}`);
    await db.query(`set local session_replication_role = replica`);
    await db.query(
      `insert into providers (clinic_id, id, user_id, display_name, specialty, licence_jurisdictions, time_zone)
      select $1, 'prv_bench' || g, 'usr_bench' || g, 'Dr ' || g, 'family_medicine', array['US-NY'], 'UTC'
      from generate_series(1, $2::int) g`,
      [c, providers],
    );
    await db.query(
      `insert into availability_windows (clinic_id, id, provider_id, weekday, start_time, end_time)
      select $1, 'avl_bench' || p || '_' || d, 'prv_bench' || p, d, '09:00', '21:30'
      from generate_series(1, $2::int) p, generate_series(1, 5) d`,
      [c, providers],
    );
    await db.query(
      `insert into patients (clinic_id, id, given_name, family_name, birth_date)
      select $1, 'pat_bench' || g, 'Given' || g, 'Family' || g, date '1970-01-01' + (g % 15000)
      from generate_series(1, $2::int) g`,
      [c, patients],
    );
    // Appointment g: provider g % P, its (g / P)-th slot; statuses 70% completed, 10% no-show, 10% cancelled, 10% booked.
    await db.query(
      `insert into appointments (clinic_id, id, provider_id, patient_id, appointment_type, modality, status,
        starts_at, ends_at, block_starts_at, block_ends_at, time_zone)
      select $1, 'apt_bench' || g, 'prv_bench' || (g % $2 + 1), 'pat_bench' || (g % $3 + 1),
        (array['consultation', 'follow-up', 'therapy'])[g % 3 + 1], case when g % 4 = 0 then 'in_person' else 'video' end,
        case when h < 70 then 'completed' when h < 80 then 'no_show' when h < 90 then 'cancelled' else 'booked' end,
        s, s + interval '30 minutes', s, s + interval '30 minutes', 'UTC'
      from (select g, (g::bigint * 7919) % 100 as h,
              $4::timestamptz + ((g / $2) / ${SLOTS_PER_DAY}) * interval '1 day'
                + interval '9 hours' + ((g / $2) % ${SLOTS_PER_DAY}) * interval '30 minutes' as s
            from generate_series(0, $5::int - 1) g) x`,
      [c, providers, patients, start, appointments],
    );
    await db.query(
      `insert into visit_charges (clinic_id, appointment_id, amount_minor, currency, status)
      select clinic_id, id, 9000, 'USD', case when right(id, 1) in ('1', '3', '5', '7', '9') then 'paid' else 'unpaid' end
      from appointments where clinic_id = $1 and status = 'completed'`,
      [c],
    );
    await db.query(
      `insert into visit_surveys (clinic_id, appointment_id, patient_id, overall, recommend, ease, submitted_at)
      select clinic_id, id, patient_id, length(id) % 5 + 1, length(id) % 11, null, ends_at
      from appointments where clinic_id = $1 and status = 'completed' and right(id, 1) in ('0', '5')`,
      [c],
    );
    await db.query(
      `insert into outcome_scores (clinic_id, id, patient_id, instrument, answers, score, severity, recorded_by, recorded_at)
      select $1, 'osc_bench' || g, 'pat_bench' || (g % $2 + 1), case when g % 2 = 0 then 'phq9' else 'gad7' end,
        '[]'::jsonb, g % 22, 'mild', 'usr_bench1', $3::timestamptz + (g % $4) * interval '1 day'
      from generate_series(1, $5::int) g`,
      [c, patients, start, days, Math.round(appointments / 20)],
    );
    // The daily visit totals, filled as tenant migration 18 fills them for an existing clinic (its backfill
    // statement): the bulk load above bypassed the triggers that keep them from then on.
    const backfill = performance.now();
    for (const statement of dailyTotalsBackfill(clinic.placement.schema, c)) await db.query(statement);
    console.log(`  daily visit totals backfilled in ${((performance.now() - backfill) / 1000).toFixed(1)} s`);
    await db.query('commit');
  });
  // Statistics and visibility as autovacuum would have them on a clinic that grew to this size.
  await withClient(urlWithDatabase(t.p.stores.adminUrl(clinic.dataRegion), clinic.placement.database), (client) =>
    client.query('vacuum analyze'),
  );
  // The last whole month of the clinic's appointments.
  const last = new Date(START + (days - 1) * 86_400_000);
  const month = new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
  return { month };
}

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1]!;

try {
  const big = await t.clinic({ placement: PLACEMENT, tier: 'enterprise' });
  const base = await t.clinic({ placement: PLACEMENT, tier: 'mid' });
  let t0 = performance.now();
  const bigSeed = await seed(big, BIG);
  console.log(
    `seeded ${BIG.toLocaleString()} appointments (with charges, surveys, scores) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  t0 = performance.now();
  const baseSeed = await seed(base, BASE);
  console.log(`seeded ${BASE.toLocaleString()} appointments in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const ask = async (clinic: Clinic, token: string, month: string): Promise<number> => {
    const [y, m] = month.split('-').map(Number) as [number, number];
    const from = new Date(Date.UTC(y, m - 1, 1)).toISOString();
    const to = new Date(Date.UTC(y, m, 1)).toISOString();
    const start = performance.now();
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinic.id}/analytics/dashboard?from=${from}&to=${to}`,
      headers: bearer(token),
    });
    const ms = performance.now() - start;
    if (res.statusCode !== 200) throw new Error(`dashboard: ${res.statusCode} ${res.body}`);
    if (res.json().appointments.booked === 0) throw new Error('the month asked has no appointments');
    return ms;
  };
  const bigToken = (await t.staff(big.id, 'analyst')).token;
  const baseToken = (await t.staff(base.id, 'analyst')).token;
  for (let i = 0; i < 5; i++) {
    await ask(big, bigToken, bigSeed.month);
    await ask(base, baseToken, baseSeed.month);
  }
  const bigP95: number[] = [];
  const baseP95: number[] = [];
  const bigMedian: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      b.push(await ask(big, bigToken, bigSeed.month));
      s.push(await ask(base, baseToken, baseSeed.month));
    }
    bigP95.push(p95(b));
    baseP95.push(p95(s));
    bigMedian.push(median(b));
    console.log(`round ${r + 1}: p95 ${p95(b).toFixed(1)} ms (1M) vs ${p95(s).toFixed(1)} ms (baseline)`);
  }
  const bigFinal = median(bigP95);
  const baseFinal = median(baseP95);
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${server.kind}; placement ${PLACEMENT}; ${REQUESTS} requests x ${ROUNDS} rounds per clinic`,
  );
  console.log(`dashboard, ${BASE.toLocaleString()} appointments (baseline): p95 ${baseFinal.toFixed(1)} ms`);
  console.log(
    `dashboard, ${BIG.toLocaleString()} appointments: p95 ${bigFinal.toFixed(1)} ms, median ${median(bigMedian).toFixed(1)} ms ` +
      `(${(bigFinal / baseFinal).toFixed(2)}x the baseline; target ${TARGET_MS} ms: ${bigFinal <= TARGET_MS ? 'met' : 'missed'})`,
  );
  process.exitCode = bigFinal <= TARGET_MS ? 0 : 1;
} finally {
  await t.close();
  await server.stop();
}
