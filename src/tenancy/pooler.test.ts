import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { withClient } from '../db/pg.js';
import { clinicRole, rolePassword } from './naming.js';
import { pgbouncerInstalled, startPgBouncer, type PgBouncer } from '../../test/support/pgbouncer.js';
import { bearer, startTestPlatform, STAFF_PASSWORD, type TestPlatform } from '../../test/support/platform.js';

/**
 * A database-placement clinic reached through a transaction-mode pooler (PgBouncer) in front of its server
 * (`POLYCLINIC_REGION_<ID>_CLINIC_POOLER`). In transaction mode consecutive transactions of one client may run on
 * different server connections, and one server connection serves many clients' transactions in turn; that is
 * safe only because the pin sets everything with `set_config(…, true)`, which ends with the transaction. The
 * pooler keeps one server connection for the clinic here, so every transaction below shares it: a setting that
 * outlived its transaction would be seen by the next one.
 */
describe.skipIf(!pgbouncerInstalled)('a database clinic through PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  let t: TestPlatform;
  let clinic: Clinic;
  let token: string;
  let role: string;

  beforeAll(async () => {
    const admin = new URL(inject('pgAdminUrl'));
    bouncer = await startPgBouncer({ host: admin.hostname, port: Number(admin.port || 5432) }, 1);
    t = await startTestPlatform({ env: { POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: bouncer.address } });
    clinic = await t.clinic({ placement: 'database', tier: 'enterprise' });
    role = clinicRole(t.instance, clinic.id, 'database');
    await bouncer.logins({ [role]: rolePassword(t.p.config.secret!, role) }, { user: role, database: clinic.placement.database });
    const user = await t.p.users.createMember(clinic.id, {
      email: `dr@${clinic.slug}.test`,
      name: 'Dr',
      password: STAFF_PASSWORD,
      role: 'physician',
    });
    token = (await t.p.sessions.create(user.id)).token;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await bouncer?.stop();
  });

  it('answers its requests through the pooler: writes, reads, and snapshot reads', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(token),
      payload: { givenName: 'Ada', familyName: 'Pooler', birthDate: '1980-01-02' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients?limit=5`, headers: bearer(token) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items.map((p: { familyName: string }) => p.familyName)).toEqual(['Pooler']);
    const snapshot = await t.p.stores.transaction(clinic.id, 'snapshot', (s) =>
      sql<{ n: number }>`select count(*)::int as n from patients`.execute(s.db),
    );
    expect(snapshot.rows[0]!.n).toBe(1);
    // It went through the pooler: PgBouncer has a pool for the clinic's database and role.
    const pools = await bouncer.show('pools');
    expect(pools.filter((p) => p.database === clinic.placement.database && p.user === role)).toHaveLength(1);
  });

  it('nothing a transaction pinned is left on the shared server connection for the next one', async () => {
    const seen = (access: 'read' | 'write') =>
      t.p.stores.transaction(clinic.id, access, async (s) => {
        const { rows } = await sql<{ clinic: string | null; path: string; ro: string }>`
          select current_setting('app.clinic_id', true) as clinic, current_setting('search_path') as path,
                 current_setting('transaction_read_only') as ro`.execute(s.db);
        return rows[0]!;
      });
    expect(await seen('write')).toMatchObject({ clinic: clinic.id, ro: 'off' });
    expect(await seen('read')).toMatchObject({ clinic: clinic.id, ro: 'on' });
    expect(await seen('write')).toMatchObject({ clinic: clinic.id, ro: 'off' });
    // A client that is not the platform, on the same (only) server connection: no pin, default settings.
    const url = `postgres://${role}:${rolePassword(t.p.config.secret!, role)}@${bouncer.address}/${clinic.placement.database}`;
    const outside = await withClient(url, async (c) => {
      const { rows } = await c.query(
        `select current_setting('app.clinic_id', true) as clinic, current_setting('search_path') as path,
                current_setting('transaction_read_only') as ro, pg_backend_pid() as pid`,
      );
      return rows[0];
    });
    expect([null, '']).toContain(outside.clinic);
    expect(outside.ro).toBe('off');
    expect(outside.path).not.toContain('tenant');
    const servers = await bouncer.show('servers');
    expect(servers.filter((s) => s.database === clinic.placement.database)).toHaveLength(1);
  });
});
