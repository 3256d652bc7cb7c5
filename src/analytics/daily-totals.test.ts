import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { exactTotals, seedClinic, totals } from '../../test/support/daily-totals.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { evaluateMeasures, MEASURES } from './measures.js';
import { DIMENSION_KEYS, type MeasureKey } from './migration.js';
import { scanPeriod } from './period-scan.js';
import { setChargeStatus } from './revenue.js';
import { sealDailyTotals } from './daily-totals-seal.js';

/**
 * The daily visit totals (tenant migration 18) stay exact under any sequence of writes: after random bookings,
 * status changes, moves across days, reassignments, charges and their payment status, surveys, deletions, bulk
 * moves and sealings at random points (writes before and after them, late edits to sealed days, moves across the
 * watermark), (1) the roll-up table equals its recomputation from the raw rows of the sealed days, with no
 * emptied bucket left and no row after the watermark, and
 * (2) the dashboard's scan and every custom measure and breakdown read through the roll-up equal the same read
 * of raw rows only, to the last digit, over periods that start and end inside days. Writes of one clinic never
 * touch another's rows, in every placement, and another clinic's analyst gets 404.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const STATUSES = ['booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show'] as const;
const TYPES = ['consultation', 'follow-up', 'therapy'] as const;
const BASE = Date.UTC(2025, 2, 1); // closed days: the roll-up answers them
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Op =
  | { kind: 'book'; n: number; day: number; hour: number; provider: number; type: number; modality: number; status: number }
  | { kind: 'status'; pick: number; status: number }
  | { kind: 'move'; pick: number; hours: number }
  | { kind: 'reassign'; pick: number; provider: number; type: number; modality: number }
  | { kind: 'charge'; pick: number; amount: number; status: number }
  | { kind: 'chargeStatus'; pick: number; status: number }
  | { kind: 'uncharge'; pick: number }
  | { kind: 'survey'; pick: number; overall: number; recommend: number; ease: number }
  | { kind: 'unsurvey'; pick: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'shiftDay'; day: number; days: number }
  | { kind: 'seal'; day: number };

const pick = fc.nat(1000);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('book' as const),
    n: fc.integer({ min: 1, max: 6 }),
    day: fc.integer({ min: 0, max: 20 }),
    hour: fc.integer({ min: 0, max: 23 }),
    provider: fc.nat(2),
    type: fc.nat(2),
    modality: fc.nat(1),
    status: fc.nat(5),
  }),
  fc.record({ kind: fc.constant('status' as const), pick, status: fc.nat(5) }),
  fc.record({ kind: fc.constant('move' as const), pick, hours: fc.integer({ min: -72, max: 72 }) }),
  fc.record({ kind: fc.constant('reassign' as const), pick, provider: fc.nat(2), type: fc.nat(2), modality: fc.nat(1) }),
  fc.record({ kind: fc.constant('charge' as const), pick, amount: fc.integer({ min: 0, max: 20_000 }), status: fc.nat(2) }),
  fc.record({ kind: fc.constant('chargeStatus' as const), pick, status: fc.nat(2) }),
  fc.record({ kind: fc.constant('uncharge' as const), pick }),
  fc.record({
    kind: fc.constant('survey' as const),
    pick,
    overall: fc.integer({ min: 1, max: 5 }),
    recommend: fc.integer({ min: 0, max: 10 }),
    ease: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({ kind: fc.constant('unsurvey' as const), pick }),
  fc.record({ kind: fc.constant('delete' as const), pick }),
  fc.record({ kind: fc.constant('shiftDay' as const), day: fc.integer({ min: 0, max: 20 }), days: fc.integer({ min: -3, max: 3 }) }),
  // Sealing at random points, through a day before, among or after the written ones (it never moves back).
  fc.record({ kind: fc.constant('seal' as const), day: fc.integer({ min: -3, max: 24 }) }),
);

/** Applies one write, through the tenant write transaction every route uses (the triggers see what they see there). */
async function apply(scope: TenantScope, o: Op, seq: { n: number }): Promise<void> {
  const ids = (await sql<{ id: string }>`select id from appointments order by id`.execute(scope.db)).rows.map((r) => r.id);
  const id = ids.length ? ids[('pick' in o ? o.pick : 0) % ids.length]! : null;
  switch (o.kind) {
    case 'seal':
      await sealDailyTotals(scope, new Date(), new Date(BASE + o.day * DAY).toISOString().slice(0, 10));
      return;
    case 'book': {
      const first = seq.n;
      seq.n += o.n;
      // Each appointment on a seat of its own, so moves never meet the seat rule (not what is tested here).
      await sql`insert into appointments (clinic_id, id, provider_id, patient_id, appointment_type, modality, status,
          starts_at, ends_at, block_starts_at, block_ends_at, time_zone, seat)
        select ${scope.clinicId}, 'apt_dt' || lpad(g::text, 4, '0'), 'prv_dt' || ${o.provider}, 'pat_dt' || (g % 4),
          ${TYPES[o.type]}, ${o.modality ? 'video' : 'in_person'}, ${STATUSES[o.status]}, s, s + (g % 4 + 1) * interval '17 minutes 13 seconds',
          s, s + (g % 4 + 1) * interval '17 minutes 13 seconds', 'UTC', g + 1
        from (select g, ${new Date(BASE + o.day * DAY + o.hour * HOUR)}::timestamptz + (g % 5) * interval '3 hours' as s
              from generate_series(${first}::int, ${first + o.n - 1}::int) g) x`.execute(scope.db);
      return;
    }
    case 'shiftDay': {
      const from = new Date(BASE + o.day * DAY);
      await sql`update appointments set starts_at = starts_at + ${o.days} * interval '1 day', ends_at = ends_at + ${o.days} * interval '1 day',
          block_starts_at = block_starts_at + ${o.days} * interval '1 day', block_ends_at = block_ends_at + ${o.days} * interval '1 day'
        where starts_at >= ${from} and starts_at < ${new Date(from.getTime() + DAY)}`.execute(scope.db);
      return;
    }
  }
  if (id === null) return;
  const has = async (table: 'visit_charges' | 'visit_surveys') =>
    (await sql`select 1 from ${sql.table(table)} where appointment_id = ${id}`.execute(scope.db)).rows.length > 0;
  switch (o.kind) {
    case 'status':
      await sql`update appointments set status = ${STATUSES[o.status]} where id = ${id}`.execute(scope.db);
      return;
    case 'move':
      await sql`update appointments set starts_at = starts_at + ${o.hours} * interval '1 hour', ends_at = ends_at + ${o.hours} * interval '1 hour',
          block_starts_at = block_starts_at + ${o.hours} * interval '1 hour', block_ends_at = block_ends_at + ${o.hours} * interval '1 hour'
        where id = ${id}`.execute(scope.db);
      return;
    case 'reassign':
      await sql`update appointments set provider_id = ${`prv_dt${o.provider}`}, appointment_type = ${TYPES[o.type]},
          modality = ${o.modality ? 'video' : 'in_person'} where id = ${id}`.execute(scope.db);
      return;
    case 'charge':
      await sql`insert into visit_charges (clinic_id, appointment_id, amount_minor, currency, status)
        values (${scope.clinicId}, ${id}, ${o.amount}, 'EUR', ${['unpaid', 'paid', 'waived'][o.status]})
        on conflict (clinic_id, appointment_id) do update set amount_minor = excluded.amount_minor`.execute(scope.db);
      return;
    case 'chargeStatus':
      if (await has('visit_charges')) await setChargeStatus(scope, id, (['unpaid', 'paid', 'waived'] as const)[o.status]!, 'usr_dt0');
      return;
    case 'uncharge':
      await sql`delete from visit_charges where appointment_id = ${id}`.execute(scope.db);
      return;
    case 'survey':
      await sql`insert into visit_surveys (clinic_id, appointment_id, patient_id, overall, recommend, ease)
        select clinic_id, id, patient_id, ${o.overall}, ${o.recommend}, ${o.ease === 0 ? null : o.ease} from appointments where id = ${id}
        on conflict (clinic_id, appointment_id) do update set overall = excluded.overall, recommend = excluded.recommend, ease = excluded.ease`.execute(
        scope.db,
      );
      return;
    case 'unsurvey':
      await sql`delete from visit_surveys where appointment_id = ${id}`.execute(scope.db);
      return;
    case 'delete':
      await sql`delete from visit_charges where appointment_id = ${id}`.execute(scope.db);
      await sql`delete from visit_surveys where appointment_id = ${id}`.execute(scope.db);
      await sql`delete from appointments where id = ${id}`.execute(scope.db);
      return;
  }
}

const SOURCES = ['appointments', 'charges', 'surveys'] as const;
const measuresOf = (source: (typeof SOURCES)[number]) =>
  (Object.keys(MEASURES) as MeasureKey[]).filter((m) => MEASURES[m].source === source);

/** Every read of the period through the roll-up equals the same read of raw rows. */
async function expectSameReads(scope: TenantScope, from: Date, to: Date): Promise<void> {
  expect(await scanPeriod(scope, from, to)).toEqual(await scanPeriod(scope, from, to, { now: new Date(0) }));
  for (const source of SOURCES)
    for (const dimension of DIMENSION_KEYS) {
      const range = { from, to, timeZone: 'UTC' };
      const measures = measuresOf(source);
      expect(await evaluateMeasures(scope, measures, dimension, range), `${source} by ${dimension}`).toEqual(
        await evaluateMeasures(scope, measures, dimension, range, 'raw'),
      );
    }
}

describe('daily visit totals', () => {
  it('pooled: stay equal to the raw rows after any sequence of writes, and read the same as them', async () => {
    const other = await t.clinic({ placement: 'pooled' });
    await seedClinic(t, other.id);
    await t.p.stores.transaction(other.id, 'write', (scope) =>
      apply(scope, { kind: 'book', n: 6, day: 3, hour: 22, provider: 1, type: 0, modality: 0, status: 3 }, { n: 0 }),
    );
    await t.p.stores.transaction(other.id, 'write', (scope) => sealDailyTotals(scope));
    const otherBefore = await t.p.stores.transaction(other.id, 'read', (scope) => totals(scope));
    expect(otherBefore.kept.length).toBeGreaterThan(0);

    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 3, maxLength: 10 }),
        fc.record({ from: fc.integer({ min: 0, max: 20 * 24 }), hours: fc.integer({ min: 1, max: 30 * 24 }) }),
        fc.integer({ min: -3, max: 24 }),
        async (transactions, period, firstSeal) => {
          const clinic = await t.clinic({ placement: 'pooled' });
          await seedClinic(t, clinic.id);
          const seq = { n: 0 };
          // Bookings first, so later writes have appointments to act on.
          await t.p.stores.transaction(clinic.id, 'write', (scope) =>
            apply(scope, { kind: 'book', n: 8, day: 5, hour: 20, provider: 0, type: 1, modality: 1, status: 3 }, seq),
          );
          await t.p.stores.transaction(clinic.id, 'write', (scope) => apply(scope, { kind: 'seal', day: firstSeal }, seq));
          for (const ops of transactions)
            await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
              for (const o of ops) await apply(scope, o, seq);
            });
          await t.p.stores.transaction(clinic.id, 'read', async (scope) => {
            await exactTotals(scope);
            const from = new Date(BASE - 2 * DAY + period.from * HOUR);
            await expectSameReads(scope, from, new Date(from.getTime() + period.hours * HOUR));
            await expectSameReads(scope, new Date(BASE - 5 * DAY), new Date(BASE + 40 * DAY));
          });
        },
      ),
      { numRuns: 12 },
    );
    // Another clinic of the same pooled table: none of those writes touched its rows.
    expect(await t.p.stores.transaction(other.id, 'read', (scope) => totals(scope))).toEqual(otherBefore);
  }, 300_000);

  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: one clinic's writes never touch another's totals; another clinic's analyst gets 404`, async () => {
      const a = await t.clinic({ placement });
      const b = await t.clinic({ placement });
      for (const c of [a, b]) await seedClinic(t, c.id);
      // Both sealed through yesterday: their writes of past days keep totals (an unsealed day keeps none).
      for (const c of [a, b]) await t.p.stores.transaction(c.id, 'write', (scope) => sealDailyTotals(scope));
      await t.p.stores.transaction(b.id, 'write', (scope) =>
        apply(scope, { kind: 'book', n: 5, day: 2, hour: 9, provider: 0, type: 0, modality: 1, status: 3 }, { n: 0 }),
      );
      const bBefore = await t.p.stores.transaction(b.id, 'read', (scope) => totals(scope));
      const seq = { n: 0 };
      await t.p.stores.transaction(a.id, 'write', async (scope) => {
        for (const o of [
          { kind: 'book', n: 5, day: 2, hour: 9, provider: 0, type: 0, modality: 1, status: 3 },
          { kind: 'charge', pick: 1, amount: 4200, status: 1 },
          { kind: 'survey', pick: 2, overall: 4, recommend: 9, ease: 3 },
          { kind: 'move', pick: 1, hours: 30 },
          { kind: 'shiftDay', day: 2, days: 1 },
        ] as const satisfies readonly Op[])
          await apply(scope, o, seq);
      });
      const bAfter = await t.p.stores.transaction(b.id, 'read', (scope) => totals(scope));
      expect(bAfter).toEqual(bBefore);
      const aNow = await t.p.stores.transaction(a.id, 'read', (scope) => totals(scope));
      expect(aNow.kept).toEqual(aNow.raw);
      expect(aNow.kept.length).toBeGreaterThan(0);

      const period = `from=${new Date(BASE).toISOString()}&to=${new Date(BASE + 10 * DAY).toISOString()}`;
      const ask = async (clinicId: string, token: string) =>
        t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/analytics/dashboard?${period}`, headers: bearer(token) });
      const own = await ask(a.id, (await t.staff(a.id, 'analyst')).token);
      expect(own.statusCode, own.body).toBe(200);
      expect(own.json().appointments.booked).toBe(5);
      expect(own.json().revenue.chargedMinor).toBe(4200);
      const stranger = await ask(a.id, (await t.staff(b.id, 'analyst')).token);
      expect(stranger.statusCode).toBe(404);
    });
});
