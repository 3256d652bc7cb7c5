import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterEach, describe, expect, it, inject } from 'vitest';
import { AppError } from '../errors.js';
import { withClient } from '../db/pg.js';
import { ClinicPools, type ClinicPool } from './clinic-pools.js';
import type { TenantDB } from './tenant-db.js';

/**
 * The budget arithmetic of clinic pools: per database server and per node, least recently used idle pool closed
 * to make room, a wait bounded by `waitMs`. Pools connect lazily, so the servers named here need not exist except
 * where a query runs (on the test server).
 */
const admin = inject('pgAdminUrl');
let pools: ClinicPools | undefined;
afterEach(() => pools?.closeAll());

function budget(perServer: number, perNode: number, waitMs = 100): ClinicPools {
  pools = new ClinicPools(
    { poolMax: 1, perServer, perNode, waitMs, idleMs: 60_000, poolWaitMs: 2_000 },
    (pool) => new Kysely<TenantDB>({ dialect: new PostgresDialect({ pool }) }),
  );
  return pools;
}
const on = (host: string, clinic: string) => ({ key: `r/${clinic}`, region: 'r', url: () => `postgres://u:p@${host}/${clinic}` });

async function busy(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('clinic_connections_busy');
  return err as AppError;
}

describe('clinic pools under a budget per server and per node', () => {
  it("a full server's share refuses its clinics after the wait, while another server still has room", async () => {
    const cp = budget(2, 3);
    const a = await cp.acquire('a', on('db-1:5432', 'a'));
    await cp.acquire('b', on('db-1:5432', 'b'));
    const started = performance.now();
    await busy(cp.acquire('c', on('db-1:5432', 'c')));
    expect(performance.now() - started).toBeLessThan(1_000);
    await cp.acquire('d', on('db-2:5432', 'd'));
    expect([cp.reservedOn('db-1:5432'), cp.reservedOn('db-2:5432')]).toEqual([2, 1]);
    // The node's own budget (3) is full too: db-2 has room on its server but not on the node.
    await busy(cp.acquire('e', on('db-2:5432', 'e')));
    // Once a's request is done, its pool is the least recently used idle one: c takes its place on db-1.
    cp.release(a);
    await cp.acquire('c', on('db-1:5432', 'c'));
    expect(cp.size()).toBe(3);
    expect(cp.reservedOn('db-1:5432')).toBe(2);
  });

  it('a request that waits gets the room freed by a pool going idle within the wait', async () => {
    const cp = budget(1, 10, 2_000);
    const a = await cp.acquire('a', on('db-1:5432', 'a'));
    const waiting = cp.acquire('b', on('db-1:5432', 'b'));
    setTimeout(() => cp.release(a), 30);
    const b: ClinicPool = await waiting;
    expect(b.clinicId).toBe('b');
    expect(cp.size()).toBe(1);
  });

  it("a closed pool's reservation comes back only once its backend has left the server", async () => {
    const cp = budget(1, 10, 5_000);
    const a = await cp.acquire('a', { key: 'r/a', region: 'r', url: () => admin });
    const name = 'polyclinic-a';
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(a.db);
    cp.release(a);
    // b's request closes a's pool; when it gets its pool, a's backend must already be gone.
    const b = await cp.acquire('b', { key: 'r/b', region: 'r', url: () => admin });
    const left = await withClient(admin, (c) =>
      c.query('select count(*)::int as n from pg_stat_activity where pid = $1 and application_name = $2', [rows[0]!.pid, name]),
    );
    expect(left.rows[0].n).toBe(0);
    cp.release(b);
  });
});
