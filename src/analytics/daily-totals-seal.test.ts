import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactTotals, seedClinic, totals } from '../../test/support/daily-totals.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { urlWithDatabase, withClient } from '../db/pg.js';
import { dailyTotalsBackfill } from './daily-totals-migration.js';
import { SEAL_JOB, sealDailyTotals, sealedThrough } from './daily-totals-seal.js';

/**
 * The sealing of the daily visit totals (issue 15): a booking of an open day writes no totals; a sealing racing
 * writes to the day it seals loses none of them and counts none twice; the dashboard asks for a sealing when the
 * watermark lags; one clinic's sealing never touches another's, in every placement.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const DAY = 86_400_000;
const today = () => Math.floor(Date.now() / DAY) * DAY;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** `n` completed appointments of provider 0 on the UTC day starting `day`, one per seat, ids `apt_<prefix>NNN`. */
async function book(scope: TenantScope, prefix: string, day: number, n: number): Promise<void> {
  await sql`insert into appointments (clinic_id, id, provider_id, patient_id, appointment_type, modality, status,
      starts_at, ends_at, block_starts_at, block_ends_at, time_zone, seat)
    select ${scope.clinicId}, ${`apt_${prefix}`} || lpad(g::text, 3, '0'), 'prv_dt0', 'pat_dt' || (g % 4), 'consultation', 'video',
      'booked', s, s + interval '20 minutes', s, s + interval '20 minutes', 'UTC', g + 1
    from (select g, ${new Date(day)}::timestamptz + (g % 20) * interval '1 hour' as s from generate_series(0, ${n - 1}::int) g) x`.execute(
    scope.db,
  );
}

const rowCount = async (scope: TenantScope) =>
  Number((await sql<{ n: string }>`select count(*) as n from daily_visit_totals`.execute(scope.db)).rows[0]!.n);

async function sealedClinic() {
  const clinic = await t.clinic({ placement: 'pooled' });
  await seedClinic(t, clinic.id);
  return clinic;
}

/** Resolves when `release` is called: holds a transaction open at a chosen point. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release = () => {};
  const wait = new Promise<void>((r) => {
    release = r;
  });
  return { wait, release };
}

describe('daily totals sealing', () => {
  it('a booking of today or a future day writes no totals row; one of a sealed day does', async () => {
    const clinic = await sealedClinic();
    await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      expect(await sealDailyTotals(scope)).toBe(dayOf(today() - DAY));
      await book(scope, 'fut', today() + 3 * DAY, 5);
      await book(scope, 'tod', today(), 5);
      await sql`update appointments set status = 'completed' where id like 'apt_tod%'`.execute(scope.db);
      expect(await rowCount(scope)).toBe(0);
      await book(scope, 'old', today() - 2 * DAY, 3);
      expect(await rowCount(scope)).toBe(1);
      await exactTotals(scope);
    });
  });

  it("a booking two or more days ahead passes a sealing in progress without its lock; tomorrow's waits; both are counted later", async () => {
    const clinic = await sealedClinic();
    const sealing = gate();
    const locked = gate();
    // A sealing in progress: the watermark row locked FOR UPDATE until it commits.
    const sealer = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      await sealDailyTotals(scope);
      locked.release();
      await sealing.wait;
    });
    await locked.wait;
    const settled = (p: Promise<unknown>, ms: number) =>
      Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    const far = t.p.stores.transaction(clinic.id, 'write', (scope) => book(scope, 'far', today() + 2 * DAY, 4));
    const near = t.p.stores.transaction(clinic.id, 'write', (scope) => book(scope, 'near', today() + DAY, 4));
    try {
      expect(await settled(far, 5_000)).toBe(true);
      expect(await settled(near, 500)).toBe(false);
    } finally {
      sealing.release();
      await Promise.all([sealer, near]);
    }
    // Days later, the sealing of those days counts both from raw rows; the roll-up equals them.
    await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      expect(await sealDailyTotals(scope, new Date(today() + 4 * DAY))).toBe(dayOf(today() + 3 * DAY));
      expect(await rowCount(scope)).toBe(2);
      await exactTotals(scope);
    });
  });

  it('a write that holds its watermark share lock first makes the sealing wait, and is counted by it', async () => {
    const clinic = await sealedClinic();
    const yesterday = today() - DAY;
    await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      await book(scope, 'y', yesterday, 10);
      await sealDailyTotals(scope, new Date(), dayOf(yesterday - DAY));
    });
    const held = gate();
    const wrote = gate();
    const writer = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      await sql`update appointments set status = 'completed' where id in ('apt_y001', 'apt_y002')`.execute(scope.db);
      wrote.release();
      await held.wait;
    });
    await wrote.wait;
    let sealed = false;
    const sealing = t.p.stores
      .transaction(clinic.id, 'write', (scope) => sealDailyTotals(scope))
      .then((w) => {
        sealed = true;
        return w;
      });
    await new Promise((r) => setTimeout(r, 300));
    expect(sealed).toBe(false);
    held.release();
    await writer;
    expect(await sealing).toBe(dayOf(yesterday));
    await t.p.stores.transaction(clinic.id, 'read', async (scope) => {
      const kept = await exactTotals(scope);
      expect(kept.map((r) => (r as { completed: number }).completed)).toEqual([2]);
    });
  });

  it('a write after the sealing took its lock waits for it and adds its own change to the sealed totals', async () => {
    const clinic = await sealedClinic();
    const yesterday = today() - DAY;
    await t.p.stores.transaction(clinic.id, 'write', (scope) => book(scope, 'y', yesterday, 10));
    const held = gate();
    const locked = gate();
    const sealing = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      await sealDailyTotals(scope);
      locked.release();
      await held.wait;
    });
    await locked.wait;
    let written = false;
    const writer = t.p.stores
      .transaction(clinic.id, 'write', (scope) =>
        sql`update appointments set status = 'cancelled' where id in ('apt_y003', 'apt_y004', 'apt_y005')`.execute(scope.db),
      )
      .then(() => {
        written = true;
      });
    await new Promise((r) => setTimeout(r, 300));
    expect(written).toBe(false);
    held.release();
    await Promise.all([sealing, writer]);
    await t.p.stores.transaction(clinic.id, 'read', async (scope) => {
      const kept = await exactTotals(scope);
      expect(kept.map((r) => (r as { cancelled: number }).cancelled)).toEqual([3]);
    });
  });

  it('20 concurrent status changes of the sealing day racing the sealing: totals equal the raw rows', async () => {
    const clinic = await sealedClinic();
    const yesterday = today() - DAY;
    await t.p.stores.transaction(clinic.id, 'write', (scope) => book(scope, 'y', yesterday, 20));
    const statuses = ['completed', 'no_show', 'cancelled', 'checked_in'];
    const writes = Array.from({ length: 20 }, (_, i) =>
      new Promise((r) => setTimeout(r, (i * 7) % 40)).then(() =>
        t.p.stores.transaction(clinic.id, 'write', async (scope) => {
          const id = `apt_y${String(i).padStart(3, '0')}`;
          await sql`update appointments set status = ${statuses[i % 4]} where id = ${id}`.execute(scope.db);
          if (i % 5 === 0) await sql`update appointments set status = 'completed' where id = ${id}`.execute(scope.db);
        }),
      ),
    );
    const sealing = new Promise((r) => setTimeout(r, 15)).then(() =>
      t.p.stores.transaction(clinic.id, 'write', (scope) => sealDailyTotals(scope)),
    );
    await Promise.all([...writes, sealing]);
    await t.p.stores.transaction(clinic.id, 'read', async (scope) => {
      expect(await sealedThrough(scope)).toBe(dayOf(yesterday));
      const kept = await exactTotals(scope);
      expect(kept.length).toBe(1);
    });
  });

  it('a dashboard read that finds the watermark lagging queues a sealing; the job seals through yesterday', async () => {
    const clinic = await sealedClinic();
    await t.p.stores.transaction(clinic.id, 'write', (scope) => book(scope, 'old', today() - 5 * DAY, 4));
    const from = new Date(today() - 10 * DAY).toISOString();
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinic.id}/analytics/dashboard?from=${from}&to=${new Date(today()).toISOString()}`,
      headers: bearer((await t.staff(clinic.id, 'analyst')).token),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().appointments.booked).toBe(4);
    const queued = await t.p.control
      .selectFrom('jobs')
      .select(['key', 'run_at'])
      .where('clinic_id', '=', clinic.id)
      .where('kind', '=', SEAL_JOB)
      .execute();
    expect(queued.map((j) => j.key)).toEqual(['daily-totals-seal:now']);
    t.p.worker.start();
    try {
      await expect
        .poll(() => t.p.stores.transaction(clinic.id, 'read', (scope) => sealedThrough(scope)), { timeout: 10_000 })
        .toBe(dayOf(today() - DAY));
    } finally {
      await t.p.worker.stop();
    }
    // Its next run is queued for shortly after the next midnight (UTC).
    await expect
      .poll(async () =>
        (await t.p.control.selectFrom('jobs').select('key').where('clinic_id', '=', clinic.id).where('kind', '=', SEAL_JOB).execute()).map(
          (j) => j.key,
        ),
      )
      .toContain(`daily-totals-seal:${dayOf(today() + DAY)}`);
    await t.p.stores.transaction(clinic.id, 'read', async (scope) => {
      const kept = await exactTotals(scope);
      expect(kept.length).toBe(1);
    });
  });

  it('a dashboard request reads the watermark once, and answers its sealed days from the roll-up', async () => {
    const clinic = await sealedClinic();
    await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      await book(scope, 'old', today() - 3 * DAY, 4);
      await sealDailyTotals(scope);
      expect(await rowCount(scope)).toBe(1);
    });
    const headers = bearer((await t.staff(clinic.id, 'analyst')).token);
    const url = `/api/v1/clinics/${clinic.id}/analytics/dashboard?from=${new Date(today() - 7 * DAY).toISOString()}&to=${new Date(today()).toISOString()}`;
    // Every statement the platform sends, as text (a tenant read's pin and first statement travel as one message).
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function observed(this: pg.Client, ...args: unknown[]) {
      sent.push(typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? ''));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    let res: Awaited<ReturnType<typeof t.app.inject>>;
    try {
      res = await t.app.inject({ method: 'GET', url, headers });
    } finally {
      pg.Client.prototype.query = query;
    }
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().appointments.booked).toBe(4);
    expect(sent.join('\n').match(/from daily_totals_sealed/g)).toHaveLength(1);
  });

  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: sealing one clinic never touches another's watermark or totals; another clinic's analyst gets 404`, async () => {
      const a = await t.clinic({ placement });
      const b = await t.clinic({ placement });
      for (const c of [a, b]) await seedClinic(t, c.id);
      for (const c of [a, b]) await t.p.stores.transaction(c.id, 'write', (scope) => book(scope, 'old', today() - 3 * DAY, 4));
      await t.p.stores.transaction(a.id, 'write', (scope) => sealDailyTotals(scope));
      await t.p.stores.transaction(b.id, 'read', async (scope) => {
        expect(await sealedThrough(scope)).toBeNull();
        expect(await rowCount(scope)).toBe(0);
      });
      await t.p.stores.transaction(a.id, 'read', async (scope) => {
        expect(await sealedThrough(scope)).toBe(dayOf(today() - DAY));
        const kept = await exactTotals(scope);
        expect(kept.length).toBe(1);
      });
      const url = `/api/v1/clinics/${a.id}/analytics/dashboard?from=${new Date(today() - 7 * DAY).toISOString()}&to=${new Date(today()).toISOString()}`;
      const stranger = await t.app.inject({ method: 'GET', url, headers: bearer((await t.staff(b.id, 'analyst')).token) });
      expect(stranger.statusCode).toBe(404);
    });

  it('pooled: the backfill of one clinic (as migration 18 runs it, as the owner) seals it through yesterday and no other', async () => {
    const [a, b] = [await sealedClinic(), await sealedClinic()];
    await t.p.stores.transaction(b.id, 'write', async (scope) => {
      await book(scope, 'old', today() - 4 * DAY, 3);
      await sealDailyTotals(scope);
    });
    const bBefore = await t.p.stores.transaction(b.id, 'read', (scope) => totals(scope));
    expect(bBefore.kept.length).toBe(1);
    // A bulk load that bypasses the triggers, then the backfill, as bench/dashboard-1m.ts does.
    await withClient(urlWithDatabase(t.p.stores.adminUrl(a.dataRegion), a.placement.database), async (db) => {
      await db.query('begin');
      await db.query(`set local search_path to ${a.placement.schema}`);
      await db.query('set local session_replication_role = replica');
      await db.query(
        `insert into appointments (clinic_id, id, provider_id, patient_id, appointment_type, modality, status,
          starts_at, ends_at, block_starts_at, block_ends_at, time_zone)
        select $1, 'apt_bulk' || g, 'prv_dt0', 'pat_dt0', 'therapy', 'video', 'completed', s, s + interval '30 minutes',
          s, s + interval '30 minutes', 'UTC'
        from (select g, $2::timestamptz + g * interval '7 hours' as s from generate_series(0, 20) g) x`,
        [a.id, new Date(today() - 5 * DAY)],
      );
      for (const statement of dailyTotalsBackfill(a.placement.schema, a.id)) await db.query(statement);
      await db.query('commit');
    });
    await t.p.stores.transaction(a.id, 'read', async (scope) => {
      expect(await sealedThrough(scope)).toBe(dayOf(today() - DAY));
      const kept = await exactTotals(scope);
      expect(kept.length).toBeGreaterThan(2);
    });
    expect(await t.p.stores.transaction(b.id, 'read', (scope) => totals(scope))).toEqual(bBefore);
  });
});
