import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { InProcessBus } from '../platform/bus.js';
import { openPlatform, type Platform } from '../platform/platform.js';
import { buildApp } from '../http/app.js';
import { databaseOf, quoteIdent, withClient } from '../db/pg.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { moveClinic, type MoveHooks } from './move.js';
import { clinicDatabase, clinicSchema, type PlacementModel } from './naming.js';

/**
 * The clinic boundary while a clinic moves (issue 17, item 5). Readers and a writer poll a clinic on node A
 * while it is moved pooled -> schema -> database -> pooled by node B, or by the `polyclinic` CLI in its own
 * process. A user must never notice the move except as 503 + Retry-After on a write inside the freeze:
 * no empty list, no 404 for a patient that exists, no refused read, no other 5xx, and no write that was
 * answered 201 and then lost.
 *
 * Without POLYCLINIC_TEST_REDIS_URL node A hears node B over the in-process bus but never hears the CLI (or the
 * deaf node below), so correctness cannot lean on invalidations; with it, every process talks over Redis.
 */
const ROUND_TRIP: PlacementModel[] = ['schema', 'database', 'pooled'];
const SEEDED = 20;

let t: TestPlatform;
let nodeB: { p: Platform; app: FastifyInstance };
/** A third node with a bus of its own: it hears no invalidation from anyone. */
let deaf: { p: Platform; app: FastifyInstance };

beforeAll(async () => {
  t = await startTestPlatform();
  nodeB = await t.secondNode();
  const p = await openPlatform(t.p.config, createLogger('silent'), { bus: new InProcessBus() });
  deaf = { p, app: await buildApp(p) };
  await deaf.app.ready();
});
afterAll(async () => {
  await deaf?.app.close();
  await deaf?.p.close();
  await t?.close();
});

interface Window {
  start: number;
  end: number;
}

interface Anomaly {
  what: string;
  status: number;
  body: string;
  at: number;
}

interface Traffic {
  reads: number;
  writes: number;
  frozen: (Window & { retryAfter: string | undefined })[];
  acknowledged: string[];
  anomalies: Anomaly[];
}

/** A clinic with patients, and a physician's token that every node accepts. */
async function clinicWithPatients(): Promise<{ clinicId: string; token: string; seeded: string[] }> {
  const clinic = await t.clinic({ placement: 'pooled' });
  const { token } = await t.staff(clinic.id, 'physician');
  const seeded: string[] = [];
  for (let i = 0; i < SEEDED; i++) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(token),
      payload: { givenName: `Seed${i}`, familyName: 'Fence', birthDate: '1980-01-01' },
    });
    expect(res.statusCode, res.body).toBe(201);
    seeded.push(res.json().id);
  }
  return { clinicId: clinic.id, token, seeded };
}

/**
 * Two readers and a writer on `app` until `stop()`. Readers alternate a page of the list (never empty: the
 * clinic has patients) and one patient, seeded or acknowledged by the writer (never 404). Every answer other
 * than those, and every write answer other than 201 or 503 + Retry-After, is an anomaly.
 */
function poll(app: FastifyInstance, clinicId: string, token: string, seeded: string[]): { stop(): Promise<Traffic> } {
  const traffic: Traffic = { reads: 0, writes: 0, frozen: [], acknowledged: [], anomalies: [] };
  const url = `/api/v1/clinics/${clinicId}/patients`;
  let running = true;
  const anomaly = (what: string, res: { statusCode: number; body: string }) =>
    traffic.anomalies.push({ what, status: res.statusCode, body: res.body.slice(0, 300), at: Date.now() });
  const known = () => {
    const all = seeded.concat(traffic.acknowledged);
    return all[Math.floor(Math.random() * all.length)]!;
  };
  const reader = async () => {
    for (let i = 0; running; i++) {
      if (i % 2 === 0) {
        const res = await app.inject({ method: 'GET', url: `${url}?limit=5`, headers: bearer(token) });
        if (res.statusCode !== 200) anomaly('list refused', res);
        else if (res.json().items.length === 0) anomaly('empty list', res);
      } else {
        const id = known();
        const res = await app.inject({ method: 'GET', url: `${url}/${id}`, headers: bearer(token) });
        if (res.statusCode === 404) anomaly(`404 for existing ${id}`, res);
        else if (res.statusCode !== 200) anomaly('read refused', res);
      }
      traffic.reads++;
      await sleep(2);
    }
  };
  const writer = async () => {
    for (let i = 0; running; i++) {
      const start = Date.now();
      const res = await app.inject({
        method: 'POST',
        url,
        headers: bearer(token),
        payload: { givenName: `W${i}`, familyName: 'Fence', birthDate: '1990-02-03' },
      });
      traffic.writes++;
      if (res.statusCode === 201) traffic.acknowledged.push(res.json().id);
      else if (res.statusCode === 503 && res.json().code === 'clinic_frozen')
        traffic.frozen.push({ start, end: Date.now(), retryAfter: res.headers['retry-after'] as string | undefined });
      else anomaly('write failed', res);
      await sleep(5);
    }
  };
  const loops = [reader(), reader(), writer()];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return traffic;
    },
  };
}

/** What the traffic saw, in the shape the assertions compare (so a failure prints what went wrong). */
function verdict(traffic: Traffic, moves: Window[]) {
  const outside = traffic.frozen.filter((f) => !moves.some((m) => f.start <= m.end && f.end >= m.start));
  return {
    anomalies: traffic.anomalies.map((a) => `${a.what}: ${a.status} ${a.body}`),
    frozenWithoutRetryAfter: traffic.frozen.filter((f) => !f.retryAfter).length,
    frozenOutsideAMove: outside.length,
  };
}

const CLEAN = { anomalies: [], frozenWithoutRetryAfter: 0, frozenOutsideAMove: 0 };

/** Every patient a node answered 201 for exists afterwards, read through every node. */
async function lostWrites(clinicId: string, token: string, ids: string[]): Promise<string[]> {
  const lost: string[] = [];
  for (const app of [t.app, nodeB.app, deaf.app])
    for (const id of ids) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients/${id}`, headers: bearer(token) });
      if (res.statusCode !== 200) lost.push(`${id}: ${res.statusCode}`);
    }
  return lost;
}

async function listedCount(clinicId: string, token: string): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const res: { statusCode: number; json(): { items: unknown[]; nextCursor: string | null } } = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinicId}/patients?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      headers: bearer(token),
    });
    expect(res.statusCode).toBe(200);
    n += res.json().items.length;
    cursor = res.json().nextCursor;
  } while (cursor);
  return n;
}

describe('a clinic moved through every placement while node A serves it', () => {
  it('moved by node B: no empty list, no false 404, reads never refused, writes 503 only in the freeze, none lost', async () => {
    const { clinicId, token, seeded } = await clinicWithPatients();
    // Every node has the clinic cached before the first move.
    for (const app of [t.app, nodeB.app, deaf.app])
      expect(
        (await app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients?limit=1`, headers: bearer(token) })).statusCode,
      ).toBe(200);
    const onA = poll(t.app, clinicId, token, seeded);
    const onDeaf = poll(deaf.app, clinicId, token, seeded);
    const moves: Window[] = [];
    for (const model of ROUND_TRIP) {
      await sleep(300);
      const start = Date.now();
      const res = await nodeB.app.inject({
        method: 'POST',
        url: `/api/v1/platform/clinics/${clinicId}/placement`,
        headers: bearer(t.operatorToken),
        payload: { model },
      });
      moves.push({ start, end: Date.now() });
      expect(res.statusCode, res.body).toBe(200);
    }
    await sleep(300);
    const a = await onA.stop();
    const d = await onDeaf.stop();
    const acknowledged = [...a.acknowledged, ...d.acknowledged];
    expect({
      nodeA: verdict(a, moves),
      deafNode: verdict(d, moves),
      lost: await lostWrites(clinicId, token, acknowledged),
      listed: await listedCount(clinicId, token),
    }).toEqual({ nodeA: CLEAN, deafNode: CLEAN, lost: [], listed: SEEDED + acknowledged.length });
    // The traffic really ran through the moves, freezes included.
    expect(a.reads).toBeGreaterThan(50);
    expect(a.acknowledged.length).toBeGreaterThan(5);
    expect(a.frozen.length + d.frozen.length).toBeGreaterThan(0);
  });

  it('moved by the CLI in another process: the same, though node A hears nothing of it without Redis', async () => {
    const { clinicId, token, seeded } = await clinicWithPatients();
    const env = { ...cliEnv(t.p.config), ...(t.p.config.redisUrl ? { POLYCLINIC_REDIS_URL: t.p.config.redisUrl } : {}) };
    for (const app of [t.app, nodeB.app])
      expect(
        (await app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients?limit=1`, headers: bearer(token) })).statusCode,
      ).toBe(200);
    const onA = poll(t.app, clinicId, token, seeded);
    const moves: Window[] = [];
    for (const model of ROUND_TRIP) {
      const start = Date.now();
      const run = await runCli(env, 'clinics', 'move', clinicId, model);
      moves.push({ start, end: Date.now() });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(new RegExp(`^moved ${clinicId} \\w+ -> ${model};`));
    }
    await sleep(300);
    const a = await onA.stop();
    expect({
      nodeA: verdict(a, moves),
      lost: await lostWrites(clinicId, token, a.acknowledged),
      listed: await listedCount(clinicId, token),
    }).toEqual({ nodeA: CLEAN, lost: [], listed: SEEDED + a.acknowledged.length });
    expect(a.reads).toBeGreaterThan(50);
    expect(a.acknowledged.length).toBeGreaterThan(5);
    expect(a.frozen.length).toBeGreaterThan(0);
    // Three CLI processes start, each compiling the CLI on its way in: 20 s here when idle, past the default minute
    // under a load of 8 or more.
  }, 180_000);
});

/** Holds an exclusive lock on a table of the move's target, so the copy waits on it; then `act`s on the waiting backend. */
function interruptCopy(
  target: { url: string; schema: string },
  act: 'cancel' | 'terminate',
): { hooks: MoveHooks; interrupted: Promise<number> } {
  let resolve!: (pid: number) => void;
  let reject!: (err: unknown) => void;
  const interrupted = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
  const hooks: MoveHooks = {
    duringFreeze: async () => {
      const holder = new pg.Client({ connectionString: target.url });
      holder.on('error', () => {});
      await holder.connect();
      await holder.query('begin');
      await holder.query(`lock table ${quoteIdent(target.schema)}.patients in access exclusive mode`);
      const me = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      void (async () => {
        try {
          for (let i = 0; i < 500; i++) {
            const waiting = await withClient(t.p.stores.adminUrl('us-east'), (c) =>
              c.query<{ pid: number }>('select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [me]),
            );
            const pid = waiting.rows[0]?.pid;
            if (pid) {
              await withClient(t.p.stores.adminUrl('us-east'), (c) => c.query(`select pg_${act}_backend($1)`, [pid]));
              resolve(pid);
              return;
            }
            await sleep(10);
          }
          throw new Error('the copy never waited on the lock');
        } catch (err) {
          reject(err);
        } finally {
          await holder.query('rollback').catch(() => {});
          await holder.end().catch(() => {});
        }
      })();
    },
  };
  return { hooks, interrupted };
}

describe('a move that fails', () => {
  for (const failure of ['verification', 'cancelled copy', 'terminated copy'] as const)
    it(`(${failure}) leaves the clinic where it was, readable and writable on every node, traffic unharmed`, async () => {
      const { clinicId, token, seeded } = await clinicWithPatients();
      const before = (await t.p.clinics.fresh(clinicId))!;
      const to: PlacementModel = failure === 'terminated copy' ? 'database' : 'schema';
      // Where the move builds its target (tenancy/naming.ts).
      const target =
        to === 'schema'
          ? { url: t.p.stores.adminUrl('us-east', before.placement.database), schema: clinicSchema(clinicId) }
          : { url: t.p.stores.adminUrl('us-east', clinicDatabase(t.instance, clinicId)), schema: 'tenant' };

      const onA = poll(t.app, clinicId, token, seeded);
      await sleep(200);
      let interrupted: Promise<number> | undefined;
      let hooks: MoveHooks;
      if (failure === 'verification')
        hooks = {
          beforeVerify: async ({ url, placement }) => {
            await withClient(url, (c) =>
              c.query(
                `update ${quoteIdent(placement.schema)}.patients set given_name = 'Corrupted' where id = (select min(id) from ${quoteIdent(placement.schema)}.patients)`,
              ),
            );
          },
        };
      else ({ hooks, interrupted } = interruptCopy(target, failure === 'cancelled copy' ? 'cancel' : 'terminate'));
      const start = Date.now();
      const outcome = await moveClinic(nodeB.p, clinicId, to, hooks).then(
        () => 'moved',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      const moves = [{ start, end: Date.now() }];
      if (interrupted) expect(await interrupted).toBeGreaterThan(0);
      expect(outcome).not.toBe('moved');
      await sleep(300);
      const a = await onA.stop();

      const after = (await t.p.clinics.fresh(clinicId))!;
      expect({ placement: after.placement, status: after.status }).toEqual({ placement: before.placement, status: 'active' });
      expect({ nodeA: verdict(a, moves), lost: await lostWrites(clinicId, token, a.acknowledged) }).toEqual({ nodeA: CLEAN, lost: [] });
      // Every node reads and writes it, the deaf one included.
      for (const app of [t.app, nodeB.app, deaf.app]) {
        const write = await app.inject({
          method: 'POST',
          url: `/api/v1/clinics/${clinicId}/patients`,
          headers: bearer(token),
          payload: { givenName: 'After', familyName: failure, birthDate: '2000-01-01' },
        });
        expect(write.statusCode, write.body).toBe(201);
        const read = await app.inject({
          method: 'GET',
          url: `/api/v1/clinics/${clinicId}/patients/${write.json().id}`,
          headers: bearer(token),
        });
        expect(read.statusCode).toBe(200);
      }
      // Nothing of the target is left behind.
      if (to === 'schema') {
        const left = await withClient(target.url, (c) => c.query('select 1 from pg_namespace where nspname = $1', [target.schema]));
        expect(left.rowCount).toBe(0);
      } else {
        const left = await withClient(t.p.stores.adminUrl('us-east'), (c) =>
          c.query('select 1 from pg_database where datname = $1', [databaseOf(target.url)]),
        );
        expect(left.rowCount).toBe(0);
      }
    });
});
