import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, withClient } from '../db/pg.js';
import type { Clinic } from '../controlplane/clinics.js';
import { clinicRole } from '../tenancy/naming.js';
import { STAFF_PASSWORD, bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * Running out of connections is one clinic's fast 503 with Retry-After, never a 500 and never another clinic's
 * failure: the node's share of the server's connections to clinic databases (here 8, pools of 2: four clinics at
 * once), checked against what the server itself counts in `pg_stat_activity`; a server-side limit (a clinic role
 * whose CONNECTION LIMIT is 0, as PostgreSQL answers when it is full), and a clinic database that stops accepting
 * connections (its breaker opens, then closes when it is back).
 */
const BUDGET = 8;
// Four times as many clinics as the share has pools: enough to show eviction and refusal, few enough for CI.
const CLINICS = 16;
let t: TestPlatform;
let admin: string;
let pooled: { clinic: Clinic; token: string };
const database: { clinic: Clinic; token: string }[] = [];

beforeAll(async () => {
  admin = (await import('vitest')).inject('pgAdminUrl');
  t = await startTestPlatform({
    env: {
      POLYCLINIC_CLINIC_CONNECTIONS_PER_SERVER: String(BUDGET),
      POLYCLINIC_CLINIC_POOL_MAX: '2',
      POLYCLINIC_CLINIC_CONNECTIONS_WAIT_MS: '300',
    },
  });
  const p = await t.clinic({ placement: 'pooled' });
  pooled = { clinic: p, token: (await t.staff(p.id, 'physician')).token };
  // Four at a time: each creates a database on the shared server.
  for (let i = 0; i < CLINICS; i += 4)
    database.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(4, CLINICS - i) }, async () => {
          const c = await t.clinic({ placement: 'database', tier: 'enterprise' });
          const user = await t.p.users.createMember(c.id, {
            email: `dr@${c.slug}.test`,
            name: 'Dr',
            password: STAFF_PASSWORD,
            role: 'physician',
          });
          return { clinic: c, token: (await t.p.sessions.create(user.id)).token };
        }),
      )),
    );
}, 180_000);
afterAll(() => t?.close());

const list = (c: { clinic: Clinic; token: string }) =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.clinic.id}/patients?limit=5`, headers: bearer(c.token) });

function expectOkOrRetry(res: Awaited<ReturnType<typeof list>>): void {
  if (res.statusCode === 200) return;
  expect(res.statusCode, res.body).toBe(503);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(res.headers['content-type']).toContain('application/problem+json');
}

/** The highest count of connections to this test's clinic databases that the server shows while `run` runs. */
async function peakConnections(run: () => Promise<unknown>): Promise<number> {
  const dbs = database.map((c) => c.clinic.placement.database);
  return withClient(admin, async (c) => {
    let peak = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const { rows } = await c.query('select count(*)::int as n from pg_stat_activity where datname = any($1)', [dbs]);
        peak = Math.max(peak, rows[0].n as number);
      }
    })();
    try {
      await run();
    } finally {
      done = true;
      await sampler;
    }
    return peak;
  });
}

/** Holds a write transaction open on each clinic (its pool busy) until the answer's `release` is called. */
function hold(clinics: { clinic: Clinic }[]): { ready: Promise<unknown>; release: () => Promise<unknown> } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const started: Promise<void>[] = [];
  const done = clinics.map((c) => {
    let entered!: () => void;
    started.push(new Promise<void>((r) => (entered = r)));
    return t.p.stores.transaction(c.clinic.id, 'write', async () => {
      entered();
      await gate;
    });
  });
  return {
    ready: Promise.all(started),
    release: () => {
      open();
      return Promise.all(done);
    },
  };
}

describe('a budget of connections per database server (database placement, pooled beside it)', () => {
  it(`${CLINICS} database clinics at once on a share of ${BUDGET}: 200 or 503 with Retry-After, pooled 200, the server never sees more`, async () => {
    let answers: Awaited<ReturnType<typeof list>>[] = [];
    const peak = await peakConnections(async () => {
      answers = await Promise.all([...database.flatMap((c) => [list(c), list(c)]), ...Array.from({ length: 10 }, () => list(pooled))]);
      // One at a time, every clinic gets in: the least recently used idle pool makes room.
      for (const c of database) expect((await list(c)).statusCode).toBe(200);
    });
    for (const res of answers) expectOkOrRetry(res);
    const busy = answers.filter((r) => r.statusCode === 503).map((r) => r.json().code);
    expect(new Set(busy)).toEqual(new Set(busy.length ? ['clinic_connections_busy'] : []));
    expect(answers.slice(0, -10).filter((r) => r.statusCode === 200).length).toBeGreaterThan(BUDGET / 2);
    expect(answers.slice(-10).map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(BUDGET);
    expect(t.p.stores.openClinicPools()).toBeLessThanOrEqual(BUDGET / 2);
  });

  it('every pool busy: the next clinic waits its short deadline, then 503 clinic_connections_busy; a pool freed in time lets it in', async () => {
    const busy = hold(database.slice(0, BUDGET / 2));
    await busy.ready;
    try {
      const started = performance.now();
      const refused = await list(database[BUDGET / 2]!);
      expect([refused.statusCode, refused.json().code]).toEqual([503, 'clinic_connections_busy']);
      expect(refused.headers['retry-after']).toBe('1');
      expect(performance.now() - started).toBeLessThan(2_000);
      expect((await list(pooled)).statusCode).toBe(200);
      // A request that arrives while every pool is busy gets in if one is freed within its wait.
      const waiting = list(database[BUDGET / 2 + 1]!);
      await busy.release();
      expect((await waiting).statusCode).toBe(200);
    } finally {
      await busy.release();
    }
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
