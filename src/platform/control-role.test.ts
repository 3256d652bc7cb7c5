import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseOf, withClient } from '../db/pg.js';
import { controlAppRole } from '../tenancy/naming.js';
import { bearer, STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * Request paths never connect as a superuser: the control-plane pool is the control plane's application role
 * (DML, no DDL, not a superuser, so it never takes the server's reserved superuser connections), and each pool
 * has a budget of its own (`POLYCLINIC_CONTROL_POOL_MAX`, `POLYCLINIC_POOL_MAX`, a region's `_POOL_MAX`).
 */
let t: TestPlatform;
let seen: { user: string; superuser: boolean; ddl: string };
beforeAll(async () => {
  t = await startTestPlatform({
    env: { POLYCLINIC_CONTROL_POOL_MAX: '2', POLYCLINIC_POOL_MAX: '4', POLYCLINIC_REGION_US_EAST_POOL_MAX: '3' },
    // A route of the node itself, on the platform's control pool, during a request.
    extraRoutes: (app, p) =>
      app.get('/test/control-role', { config: { public: true } }, async () => {
        const who = await sql<{ user: string; superuser: boolean }>`
          select current_user as "user", rolsuper as superuser from pg_roles where rolname = current_user`.execute(p.control);
        const ddl = await sql`create table request_path_probe (id int)`.execute(p.control).then(
          () => 'created',
          (err: { code?: string }) => err.code ?? 'failed',
        );
        return { ...who.rows[0], ddl };
      }),
  });
  seen = (await t.app.inject({ method: 'GET', url: '/test/control-role' })).json();
});
afterAll(() => t?.close());

const controlConnections = (applicationName: string, database: string) =>
  withClient(t.p.config.controlDatabaseUrl, async (c) => {
    const r = await c.query<{ usename: string; usesuper: boolean }>(
      `select a.usename, u.usesuper from pg_stat_activity a join pg_user u on u.usename = a.usename
        where a.application_name = $1 and a.datname = $2`,
      [applicationName, database],
    );
    return r.rows;
  });

describe('the control plane on request paths', () => {
  it('connects as its application role, which is no superuser and may not create tables', async () => {
    expect(seen).toEqual({ user: controlAppRole(t.instance), superuser: false, ddl: '42501' });
    // And the pool every request uses, seen from the server: sign-ins and a clinic's requests, all on the app role.
    const clinic = await t.clinic({ placement: 'pooled' });
    const staff = await t.staff(clinic.id, 'physician');
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(staff.token) })).statusCode,
    ).toBe(200);
    const open = await controlConnections('polyclinic-control', databaseOf(t.p.config.controlDatabaseUrl));
    expect(open.length).toBeGreaterThan(0);
    for (const c of open) expect(c).toEqual({ usename: controlAppRole(t.instance), usesuper: false });
  });

  it('keeps to its own pool budgets: control 2, us-east 3 (its own), eu-central 4 (the default)', async () => {
    // Two clinics per region: each may hold half of its region's pool (the pool shares), so together they fill it.
    const clinics = [
      await t.clinic({ placement: 'pooled', region: 'us-east' }),
      await t.clinic({ placement: 'pooled', region: 'us-east' }),
      await t.clinic({ placement: 'pooled', region: 'eu-central' }),
      await t.clinic({ placement: 'pooled', region: 'eu-central' }),
    ];
    const staff = await Promise.all(clinics.map((c) => t.staff(c.id, 'physician')));
    // Sign-ins at once (each one's work is on the control plane), and each clinic's requests at once.
    await Promise.all(staff.map((s) => t.login(s.email, STAFF_PASSWORD)));
    const answers = await Promise.all(
      clinics.flatMap((c, i) =>
        Array.from({ length: 8 }, () =>
          t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.id}/patients`, headers: bearer(staff[i]!.token) }),
        ),
      ),
    );
    for (const a of answers) expect(a.statusCode).toBe(200);
    expect((await controlConnections('polyclinic-control', databaseOf(t.p.config.controlDatabaseUrl))).length).toBeLessThanOrEqual(2);
    const region = (id: 'us-east' | 'eu-central') => controlConnections(`polyclinic-${id}`, databaseOf(t.p.stores.adminUrl(id)));
    expect((await region('us-east')).length).toBeLessThanOrEqual(3);
    expect((await region('eu-central')).length).toBeLessThanOrEqual(4);
    expect((await region('eu-central')).length).toBeGreaterThan(0);
  });
});
