import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { createPatient, getPatient, listPatients } from '../patients/store.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { pgErrorCode, urlWithCredentials, withClient } from '../db/pg.js';
import { clinicRole, rolePassword } from './naming.js';
import type { TenantScope } from './tenant-db.js';

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
      for (let i = 0; i < 3; i++)
        await createPatient(scope, { givenName: `P${i}`, familyName: c.id, birthDate: '1970-01-01', sex: 'unknown' });
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
      sql`insert into patients (clinic_id, id, given_name, family_name, birth_date) values (${pooledB.id}, 'pat_x', 'a', 'b', '2000-01-01')`.execute(
        scope.db,
      ),
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
    const rows = await t.p.stores.transaction(schemaA.id, 'read', (scope) =>
      sql<{ n: number }>`select count(*)::int as n from patients`.execute(scope.db),
    );
    expect(rows.rows[0]!.n).toBe(3);
  });
});

describe('database placement', () => {
  it("a clinic's credentials cannot open another clinic's database", async () => {
    const role = clinicRole(t.instance, dbA.id, 'database');
    const url = urlWithCredentials(
      t.p.stores.adminUrl(dbB.dataRegion, dbB.placement.database),
      role,
      rolePassword(t.p.config.secret, role),
    );
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

describe('the pin of a read ends with it', () => {
  // Reads pin their clinic per statement batch (set_config(…, true) in the query's own message); a connection
  // returned to the pool must carry nothing of the clinic it served into the next one's work.
  const probe = (scope: TenantScope) =>
    sql<{ pid: number; me: string; path: string; clinic: string; own: number; all: number }>`select pg_backend_pid() as pid,
      current_user as me, current_setting('search_path') as path, current_setting('app.clinic_id', true) as clinic,
      (select count(*)::int from patients where family_name = ${scope.clinicId}) as own, (select count(*)::int from patients) as "all"`
      .execute(scope.db)
      .then((r) => r.rows[0]!);

  it('one connection serving schema, pooled and other schema clinics in turn: each sees its own rows, then nothing remains', async () => {
    const seen = [];
    const order = [schemaA, schemaB, pooledA, schemaA, pooledB, schemaB];
    for (const [i, c] of order.entries()) {
      // The patient reads send one SQL text compiled once for every clinic (db/precompiled.ts): the names in it
      // must resolve in this clinic's transaction, never in the previous clinic's schema or role.
      const page = await t.p.stores.transaction(c.id, 'read', (scope) => listPatients(scope, { limit: 10 }));
      expect(page.items.map((x) => x.familyName)).toEqual([c.id, c.id, c.id]);
      const previous = order[(i + order.length - 1) % order.length]!;
      const theirs = await t.p.stores.transaction(previous.id, 'read', (scope) => listPatients(scope, { limit: 1 }));
      await expect(t.p.stores.transaction(c.id, 'read', (scope) => getPatient(scope, theirs.items[0]!.id))).rejects.toMatchObject({
        status: 404,
      });
      expect((await t.p.stores.transaction(c.id, 'read', (scope) => getPatient(scope, page.items[0]!.id))).clinicId).toBe(c.id);
      const r = await t.p.stores.transaction(c.id, 'read', probe);
      expect(r).toMatchObject({ clinic: c.id, own: 3, all: 3, path: `"${c.placement.schema}"` });
      expect(r.me).toBe(c.placement.model === 'schema' ? clinicRole(t.instance, c.id, 'schema') : `${t.instance}_app`);
      seen.push(r.pid);
      // A failed read on the same connection leaves nothing behind either.
      await expect(t.p.stores.transaction(c.id, 'read', (scope) => sql`select * from no_such_table`.execute(scope.db))).rejects.toThrow();
    }
    const after = await sql<{ pid: number; me: string; path: string; clinic: string | null; ro: string }>`select pg_backend_pid() as pid,
      current_user as me, current_setting('search_path') as path, current_setting('app.clinic_id', true) as clinic,
      current_setting('transaction_read_only') as ro`.execute(t.p.stores.regionDb(schemaA.dataRegion));
    // The region pool hands idle connections out last-in first-out: all of this ran on one backend.
    expect(new Set([...seen, after.rows[0]!.pid]).size).toBe(1);
    expect(after.rows[0]).toMatchObject({ me: `${t.instance}_app`, path: '"$user", public', ro: 'off' });
    expect(after.rows[0]!.clinic ?? '').toBe('');
  });

  it('every query of a read is pinned and read only, not just the first', async () => {
    const attempt = t.p.stores.transaction(schemaA.id, 'read', async (scope) => {
      expect(await probe(scope)).toMatchObject({ me: clinicRole(t.instance, schemaA.id, 'schema'), own: 3, all: 3 });
      expect(await probe(scope)).toMatchObject({ me: clinicRole(t.instance, schemaA.id, 'schema'), own: 3, all: 3 });
      await expect(sql`select * from ${sql.id(schemaB.placement.schema, 'patients')}`.execute(scope.db)).rejects.toSatisfy(
        (e) => pgErrorCode(e) === '42501',
      );
      return scope.db.updateTable('patients').set({ given_name: 'changed' }).execute();
    });
    await expect(attempt).rejects.toSatisfy((e) => pgErrorCode(e) === '25006');
  });

  it('a query whose parameters cannot be inlined runs in a pinned read-only transaction, as do the queries after it', async () => {
    const ids = await t.p.stores.transaction(pooledB.id, 'read', (scope) => scope.db.selectFrom('patients').select('id').execute());
    const attempt = t.p.stores.transaction(pooledA.id, 'read', async (scope) => {
      // An array is sent as a parameter, not inlined: BEGIN and the pin go first, in their own message.
      const other = await sql<{ n: number }>`select count(*)::int as n from patients where id = any(${ids.map((r) => r.id)})`.execute(
        scope.db,
      );
      expect(other.rows[0]!.n).toBe(0); // pooledB's ids, invisible from pooledA
      expect(await probe(scope)).toMatchObject({ clinic: pooledA.id, own: 3, all: 3 });
      return scope.db.updateTable('patients').set({ given_name: 'changed' }).execute();
    });
    await expect(attempt).rejects.toSatisfy((e) => pgErrorCode(e) === '25006');
    const after = await sql<{ tx: string }>`select current_setting('app.clinic_id', true) as tx`.execute(
      t.p.stores.regionDb(pooledA.dataRegion),
    );
    expect(after.rows[0]!.tx ?? '').toBe('');
  });
});

describe('a connection ended under a transaction', () => {
  // A database dropped WITH (FORCE) by a move, pg_terminate_backend, a failover: the backend goes away between
  // two queries of a checked-out connection. That transaction fails; the node must go on serving.
  it.each(['pooled', 'schema', 'database'] as const)('%s: fails that transaction only, and the next one is served', async (model) => {
    const clinic = { pooled: pooledA, schema: schemaA, database: dbA }[model];
    const attempt = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      const { pid } = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(scope.db)).rows[0]!;
      await withClient(t.p.stores.adminUrl(clinic.dataRegion), (c) => c.query('select pg_terminate_backend($1)', [pid]));
      await new Promise((resolve) => setTimeout(resolve, 100)); // the end of the connection arrives while no query runs
      return createPatient(scope, { givenName: 'Lost', familyName: 'Connection', birthDate: '1970-01-01', sex: 'unknown' });
    });
    await expect(attempt).rejects.toThrow();
    for (const access of ['read', 'write'] as const) {
      const rows = await t.p.stores.transaction(clinic.id, access, (scope) =>
        scope.db.selectFrom('patients').select('family_name').execute(),
      );
      expect(rows.map((r) => r.family_name)).toEqual([clinic.id, clinic.id, clinic.id]);
    }
  });
});
