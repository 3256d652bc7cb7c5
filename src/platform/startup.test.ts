import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { OLDEST_SERVED_TENANT_VERSION } from '../schema.js';
import { quoteIdent as q } from '../db/pg.js';
import { createLogger } from '../logger.js';
import { migrateFleet } from '../tenancy/fleet.js';
import { latestTenantVersion } from '../tenancy/migrations.js';
import { migrateAtStart } from './startup.js';

/**
 * A node's start does not wait for the fleet's stores, nor refuse to start while another runner migrates
 * (`startup.ts`); a clinic whose store is older than the build serves answers 503 until it is migrated.
 */
let t: TestPlatform;
const log = createLogger('silent');
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const FLEET_LOCK = `hashtextextended('polyclinic:fleet-migrate', 0)`;

describe('migrations at a node start', () => {
  it('a node starts while another runner holds the fleet lock, serves its clinics, and leaves the stores to that runner', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    const doc = await t.staff(clinic.id, 'physician');
    const runner = new pg.Client({ connectionString: t.p.config.controlDatabaseUrl });
    await runner.connect();
    try {
      await runner.query(`select pg_advisory_lock(${FLEET_LOCK})`);
      const node = await t.secondNode();
      try {
        const started = Date.now();
        const { stores } = await migrateAtStart(node.p, log, { waitMs: 5_000, pollMs: 50 });
        await stores;
        expect(Date.now() - started).toBeLessThan(5_000);
        const res = await node.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doc.token) });
        expect(res.statusCode).toBe(200);
      } finally {
        await node.stop();
      }
      // The lock was never taken from its holder.
      const held = await runner.query<{ n: number }>(
        `select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted`,
      );
      expect(held.rows[0]!.n).toBe(1);
    } finally {
      await runner.end();
    }
  });

  it('a clinic recorded below the oldest served version answers 503 clinic_upgrading with Retry-After until migrated', async () => {
    const clinic = await t.clinic({ placement: 'database' });
    const doc = await t.staff(clinic.id, 'physician');
    const list = () => t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doc.token) });
    expect((await list()).statusCode).toBe(200);
    // As the control plane records a store left behind by an older build.
    await t.p.clinics.setSchemaVersion([clinic.id], OLDEST_SERVED_TENANT_VERSION - 1);
    const refused = await list();
    expect([refused.statusCode, refused.json().code, refused.headers['retry-after']]).toEqual([503, 'clinic_upgrading', '5']);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    const { stores } = await migrateAtStart(t.p, log);
    await stores;
    expect((await t.p.clinics.fresh(clinic.id))!.schemaVersion).toBeGreaterThanOrEqual(OLDEST_SERVED_TENANT_VERSION);
    expect((await list()).statusCode).toBe(200);
  });

  it('a fleet migration interrupted halfway (its connections gone, as when its process dies) resumes where it stopped', async () => {
    const clinics = await Promise.all([1, 2, 3].map(() => t.clinic({ placement: 'schema' })));
    const blocked = clinics[0]!;
    const next = latestTenantVersion(t.p.tenantMigrations) + 1;
    const before = t.p.tenantMigrations;
    // The new migration waits in the first clinic's store on a lock this test holds: the run stops there, halfway.
    t.p.tenantMigrations = [
      ...before,
      {
        version: next,
        name: 'test: a column, held up in one store',
        up: (schema) => [
          ...(schema === blocked.placement.schema ? ['select pg_advisory_xact_lock(715001)'] : []),
          `alter table ${q(schema)}.patients add column resumed text`,
        ],
      },
    ];
    const regionDb = new pg.Client({ connectionString: t.p.stores.adminUrl(blocked.dataRegion, blocked.placement.database) });
    await regionDb.connect();
    try {
      await regionDb.query('select pg_advisory_lock(715001)');
      const run = migrateFleet(t.p).catch((err: unknown) => err);
      const waiting = async () =>
        (
          await regionDb.query<{ pid: number }>(
            `select pid from pg_stat_activity where wait_event_type = 'Lock' and query like '%715001%' and pid <> pg_backend_pid()`,
          )
        ).rows;
      for (let i = 0; i < 200 && (await waiting()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toHaveLength(1);
      // The runner dies: its connections end (the fleet lock's and the stores').
      await regionDb.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name in ('polyclinic-admin', 'polyclinic-migrate') and pid <> pg_backend_pid()`,
      );
      const control = new pg.Client({ connectionString: t.p.config.controlDatabaseUrl });
      await control.connect();
      await control.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'polyclinic-admin' and pid <> pg_backend_pid()`,
      );
      await control.end();
      await run;
      await regionDb.query('select pg_advisory_unlock(715001)');
      const atNext = async () => (await Promise.all(clinics.map((c) => t.p.clinics.fresh(c.id)))).map((c) => c!.schemaVersion === next);
      expect((await atNext())[0]).toBe(false);
      // A new run takes the lock and finishes what the dead one left, the held-up store included.
      const report = await migrateFleet(t.p);
      expect(report.failed).toEqual([]);
      expect(await atNext()).toEqual([true, true, true]);
      for (const c of clinics) {
        const cols = await regionDb.query(
          `select 1 from information_schema.columns where table_schema = $1 and table_name = 'patients' and column_name = 'resumed'`,
          [c.placement.schema],
        );
        expect(cols.rowCount, c.placement.schema).toBe(1);
      }
    } finally {
      t.p.tenantMigrations = before;
      await regionDb.end();
    }
  });
});
