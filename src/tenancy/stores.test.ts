import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { createPatient } from '../patients/store.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { pgErrorCode, urlWithCredentials } from '../db/pg.js';
import { clinicRole, rolePassword } from './naming.js';

/** Defense in depth: even a query that forgets `clinic_id` cannot see another clinic, in any placement. */
let t: TestPlatform;
let pooledA: Clinic, pooledB: Clinic, schemaA: Clinic, schemaB: Clinic, dbA: Clinic, dbB: Clinic;

beforeAll(async () => {
  t = await startTestPlatform();
  [pooledA, pooledB, schemaA, schemaB, dbA, dbB] = await Promise.all([
    t.clinic({ placement: 'pooled' }),
    t.clinic({ placement: 'pooled' }),
    t.clinic({ placement: 'schema' }),
    t.clinic({ placement: 'schema' }),
    t.clinic({ placement: 'database' }),
    t.clinic({ placement: 'database' }),
  ]);
  for (const c of [pooledA, pooledB, schemaA, schemaB, dbA, dbB])
    await t.p.stores.transaction(c.id, 'write', async (scope) => {
      for (let i = 0; i < 3; i++) await createPatient(scope, { givenName: `P${i}`, familyName: c.id, birthDate: '1970-01-01', sex: 'unknown' });
    });
});
afterAll(() => t?.close());

describe('pooled placement', () => {
  it('a query without any clinic_id filter returns only the clinic of the transaction', async () => {
    const rows = await t.p.stores.transaction(pooledA.id, 'read', (scope) =>
      sql<{ clinic_id: string }>`select clinic_id from patients`.execute(scope.db),
    );
    expect(rows.rows).toHaveLength(3);
    expect(new Set(rows.rows.map((r) => r.clinic_id))).toEqual(new Set([pooledA.id]));
  });

  it('cannot write a row for another clinic even when it names it explicitly', async () => {
    const attempt = t.p.stores.transaction(pooledA.id, 'write', (scope) =>
      sql`insert into patients (clinic_id, id, given_name, family_name, birth_date) values (${pooledB.id}, 'pat_x', 'a', 'b', '2000-01-01')`.execute(scope.db),
    );
    await expect(attempt).rejects.toMatchObject({ code: '42501' }); // new row violates row-level security policy
  });

  it('the app role is not the table owner and RLS is forced', async () => {
    const rows = await t.p.stores.transaction(pooledA.id, 'read', (scope) =>
      sql<{ owner: string; me: string; force: boolean }>`select tableowner as owner, current_user as me, c.relforcerowsecurity as force
        from pg_tables t join pg_class c on c.relname = t.tablename and c.relnamespace = 'tenant'::regnamespace
        where schemaname = 'tenant' and tablename = 'patients'`.execute(scope.db),
    );
    expect(rows.rows[0]!.owner).not.toBe(rows.rows[0]!.me);
    expect(rows.rows[0]!.force).toBe(true);
  });
});

describe('schema placement', () => {
  it("a clinic's role cannot read another clinic's schema", async () => {
    const attempt = t.p.stores.transaction(schemaA.id, 'read', (scope) =>
      sql`select * from ${sql.id(schemaB.placement.schema, 'patients')}`.execute(scope.db),
    );
    await expect(attempt).rejects.toSatisfy((e) => pgErrorCode(e) === '42501');
  });

  it("a clinic's role cannot read the pooled tables either", async () => {
    const attempt = t.p.stores.transaction(schemaA.id, 'read', (scope) => sql`select * from tenant.patients`.execute(scope.db));
    await expect(attempt).rejects.toSatisfy((e) => pgErrorCode(e) === '42501');
  });

  it('sees its own rows through unqualified names', async () => {
    const rows = await t.p.stores.transaction(schemaA.id, 'read', (scope) => sql<{ n: number }>`select count(*)::int as n from patients`.execute(scope.db));
    expect(rows.rows[0]!.n).toBe(3);
  });
});

describe('database placement', () => {
  it("a clinic's credentials cannot open another clinic's database", async () => {
    const role = clinicRole(t.instance, dbA.id, 'database');
    const url = urlWithCredentials(t.p.stores.adminUrl(dbB.dataRegion, dbB.placement.database), role, rolePassword(t.p.config.secret, role));
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toSatisfy((e) => ['42501', '28000', '28P01'].includes(pgErrorCode(e) ?? ''));
    await client.end().catch(() => {});
  });

  it('opens its pool on first use and closes it when idle', async () => {
    await t.p.stores.closeIdleClinicPools(Date.now() + 3_600_000);
    expect(t.p.stores.openClinicPools()).toBe(0);
    await t.p.stores.transaction(dbA.id, 'read', (scope) => scope.db.selectFrom('patients').select('id').execute());
    expect(t.p.stores.openClinicPools()).toBe(1);
    await t.p.stores.closeIdleClinicPools(Date.now());
    expect(t.p.stores.openClinicPools()).toBe(1); // used just now: not idle yet
    await t.p.stores.closeIdleClinicPools(Date.now() + 3_600_000);
    expect(t.p.stores.openClinicPools()).toBe(0);
    const rows = await t.p.stores.transaction(dbA.id, 'read', (scope) => scope.db.selectFrom('patients').select('clinic_id').execute());
    expect(rows.map((r) => r.clinic_id)).toEqual([dbA.id, dbA.id, dbA.id]);
  });
});

describe('read transactions', () => {
  it('refuse writes', async () => {
    const attempt = t.p.stores.transaction(pooledA.id, 'read', (scope) =>
      scope.db.updateTable('patients').set({ given_name: 'changed' }).execute(),
    );
    await expect(attempt).rejects.toSatisfy((e) => pgErrorCode(e) === '25006');
  });
});
