import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, withClient } from '../db/pg.js';
import type { Clinic } from '../controlplane/clinics.js';
import { clinicRole } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * Running out of connections is one clinic's fast 503 with Retry-After, never a 500 and never another clinic's
 * failure: the node's budget of clinic-database connections (here 2, one per clinic pool), a server-side limit
 * (a clinic role whose CONNECTION LIMIT is 0, as PostgreSQL answers when it is full), and a clinic database
 * that stops accepting connections (its breaker opens, then closes when it is back).
 */
let t: TestPlatform;
let admin: string;
let pooled: { clinic: Clinic; token: string };
const database: { clinic: Clinic; token: string }[] = [];

beforeAll(async () => {
  admin = (await import('vitest')).inject('pgAdminUrl');
  t = await startTestPlatform({ env: { POLYCLINIC_CLINIC_CONNECTIONS_MAX: '2', POLYCLINIC_CLINIC_POOL_MAX: '1' } });
  const p = await t.clinic({ placement: 'pooled' });
  pooled = { clinic: p, token: (await t.staff(p.id, 'physician')).token };
  for (let i = 0; i < 4; i++) {
    const c = await t.clinic({ placement: 'database', tier: 'enterprise' });
    database.push({ clinic: c, token: (await t.staff(c.id, 'physician')).token });
  }
}, 120_000);
afterAll(() => t?.close());

const list = (c: { clinic: Clinic; token: string }) =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.clinic.id}/patients?limit=5`, headers: bearer(c.token) });

function expectOkOrRetry(res: Awaited<ReturnType<typeof list>>): void {
  if (res.statusCode === 200) return;
  expect(res.statusCode, res.body).toBe(503);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(res.headers['content-type']).toContain('application/problem+json');
}

describe('connection budget (database placement, pooled beside it)', () => {
  it('four busy database clinics on a budget of two: 200 or a fast 503 with Retry-After; pooled keeps answering 200', async () => {
    const answers = await Promise.all([
      ...database.flatMap((c) => [list(c), list(c), list(c)]),
      ...Array.from({ length: 10 }, () => list(pooled)),
    ]);
    for (const res of answers) expectOkOrRetry(res);
    const busy = answers.filter((r) => r.statusCode === 503).map((r) => r.json().code);
    expect(busy.length).toBeGreaterThan(0);
    expect(new Set(busy)).toEqual(new Set(['clinic_connections_busy']));
    expect(answers.slice(-10).map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(t.p.stores.openClinicPools()).toBeLessThanOrEqual(2);
    // One at a time, every clinic gets in: the least recently used idle pool makes room.
    for (const c of database) expect((await list(c)).statusCode).toBe(200);
    expect(t.p.stores.openClinicPools()).toBeLessThanOrEqual(2);
  });

  it('a server that refuses the clinic more connections (CONNECTION LIMIT 0): 503 for it, 200 for the others', async () => {
    const victim = database[0]!;
    const role = clinicRole(t.instance, victim.clinic.id, 'database');
    await t.p.stores.closeClinicPool(victim.clinic.id);
    await withClient(admin, (c) => c.query(`alter role ${quoteIdent(role)} connection limit 0`));
    try {
      const res = await list(victim);
      expect([res.statusCode, res.json().code]).toEqual([503, 'clinic_store_unavailable']);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect((await list(database[1]!)).statusCode).toBe(200);
      expect((await list(pooled)).statusCode).toBe(200);
    } finally {
      await withClient(admin, (c) => c.query(`alter role ${quoteIdent(role)} connection limit -1`));
      await t.p.stores.closeClinicPool(victim.clinic.id);
    }
  });
});

describe('a breaker per store (database placement)', () => {
  it('a clinic database that stops accepting connections answers 503 fast; its neighbours are untouched; it recovers', async () => {
    const victim = database[2]!;
    const db = victim.clinic.placement.database;
    expect((await list(victim)).statusCode).toBe(200);
    await withClient(admin, async (c) => {
      await c.query(`alter database ${quoteIdent(db)} allow_connections false`);
      await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [db]);
    });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await list(victim);
        expect([res.statusCode, res.json().code]).toEqual([503, 'clinic_store_unavailable']);
      }
      // The breaker is open: no connection attempt at all, an answer at once.
      const started = performance.now();
      const fast = await list(victim);
      expect(fast.statusCode).toBe(503);
      expect(performance.now() - started).toBeLessThan(100);
      expect(t.p.stores.breakers.open()).toEqual([`clinic:${victim.clinic.dataRegion}/${db}`]);
      expect((await list(database[3]!)).statusCode).toBe(200);
      expect((await list(pooled)).statusCode).toBe(200);
    } finally {
      await withClient(admin, (c) => c.query(`alter database ${quoteIdent(db)} allow_connections true`));
    }
    // Once the breaker half-opens, one trial reaches the database again and closes it.
    await new Promise((r) => setTimeout(r, 5_200));
    expect((await list(victim)).statusCode).toBe(200);
    expect(t.p.stores.breakers.open()).toEqual([]);
  });
});
