import { sql } from 'kysely';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { pgErrorCode, urlWithCredentials, urlWithDatabase, withClient } from '../db/pg.js';
import { migrateFleet } from './fleet.js';
import { moveClinic } from './move.js';
import { POOLER_AUTH_QUERY } from './pooler-logins.js';
import { databasesLine } from './pooler-target.js';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { POOLER_SCHEMA, clinicRole, poolerRole, rolePassword } from './naming.js';
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
const REFUSED = new Set(['08P01', '28P01']);

describe.skipIf(!pgbouncerInstalled)('a database clinic through PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  let t: TestPlatform;
  let clinic: Clinic;
  let token: string;
  let role: string;

  beforeAll(async () => {
    const admin = new URL(inject('pgAdminUrl'));
    bouncer = await startPgBouncer({ host: admin.hostname, port: Number(admin.port || 5432) }, 1);
    t = await startTestPlatform({ env: bouncer.env('us-east') });
    // The operator's one-time step: the pooler role's own login. Clinic logins are looked up, never listed.
    const pooler = poolerRole(t.instance);
    await bouncer.authUser(pooler, rolePassword(t.p.config.secret!, pooler));
    // Provisioned after PgBouncer started, and nothing told PgBouncer about it.
    clinic = await t.clinic({ placement: 'database', tier: 'enterprise' });
    role = clinicRole(t.instance, clinic.id, 'database');
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
    // (The pooler role's connection that looked the login up is the database's other server connection.)
    expect(servers.filter((s) => s.database === clinic.placement.database && s.user === role)).toHaveLength(1);
  });

  it("logs clinics in through auth_query: the platform's line names the pooler role, a rotated password is the next login's", async () => {
    expect(readFileSync(bouncer.target.databasesFile, 'utf8')).toContain(`auth_user=${poolerRole(t.instance)}`);
    const through = (user: string, password: string, database: string) =>
      withClient(`postgres://${user}:${encodeURIComponent(password)}@${bouncer.address}/${database}`, async (c) => {
        return (await c.query<{ who: string }>('select current_user as who')).rows[0]!.who;
      });
    const db = clinic.placement.database;
    // PgBouncer refuses a SCRAM proof it cannot verify with a protocol error of its own, not PostgreSQL's 28P01.
    const refused = (login: Promise<string>) =>
      login.then(
        () => 'accepted',
        (err: unknown) => (REFUSED.has(pgErrorCode(err) ?? '') ? 'refused' : err),
      );
    const derived = rolePassword(t.p.config.secret!, role);
    expect(await through(role, derived, db)).toBe(role);
    expect(await refused(through(role, 'not-the-password', db))).toBe('refused');
    // A rotation (`migrate` after POLYCLINIC_SECRET changes sets every role's password): the next login uses it.
    const admin = t.p.stores.adminUrl('us-east');
    await withClient(admin, (c) => c.query(`alter role "${role}" password 'rotated-password-1'`));
    try {
      expect(await through(role, 'rotated-password-1', db)).toBe(role);
      expect(await refused(through(role, derived, db))).toBe('refused');
    } finally {
      await withClient(admin, (c) => c.query(`alter role "${role}" password '${derived}'`));
    }
    expect(await through(role, derived, db)).toBe(role);
  });

  it('the lookup answers the pooler role only, and only for a login of that database that is not a superuser', async () => {
    const other = await t.clinic({ placement: 'database', tier: 'enterprise' });
    const otherRole = clinicRole(t.instance, other.id, 'database');
    const pooler = poolerRole(t.instance);
    const direct = urlWithDatabase(t.p.stores.adminUrl('us-east'), clinic.placement.database);
    const lookup = (url: string, user: string) =>
      withClient(url, async (c) => (await c.query(`select usename from ${POOLER_SCHEMA}.login($1)`, [user])).rows.map((r) => r.usename));
    const asPooler = urlWithCredentials(direct, pooler, rolePassword(t.p.config.secret!, pooler));
    expect(await lookup(asPooler, role)).toEqual([role]);
    // A password past its VALID UNTIL is not answered (CVE-2025-2291 in PgBouncer's own default lookup).
    const admin = t.p.stores.adminUrl('us-east');
    await withClient(admin, (c) => c.query(`alter role "${role}" valid until '2000-01-01'`));
    try {
      expect(await lookup(asPooler, role)).toEqual([]);
    } finally {
      await withClient(admin, (c) => c.query(`alter role "${role}" valid until 'infinity'`));
    }
    expect(await lookup(asPooler, otherRole)).toEqual([]); // another clinic's login: not this database's
    expect(await lookup(asPooler, new URL(t.p.stores.adminUrl('us-east')).username || 'postgres')).toEqual([]);
    // The clinic's own role cannot call it (EXECUTE is the pooler's alone).
    const asClinic = urlWithCredentials(direct, role, rolePassword(t.p.config.secret!, role));
    expect(await lookup(asClinic, role).catch(pgErrorCode)).toBe('42501');
  });

  it('a clinic moved into the database placement is reached through the pooler with no step of its own', async () => {
    const moved = await t.clinic({ placement: 'pooled' });
    await moveClinic(t.p, moved.id, 'database');
    const now = (await t.p.clinics.fresh(moved.id))!;
    expect(now.placement.model).toBe('database');
    const staff = await t.staff(moved.id, 'physician');
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${moved.id}/patients`,
      headers: bearer(staff.token),
      payload: { givenName: 'Moved', familyName: 'Pooler', birthDate: '1980-01-02' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const pools = await bouncer.show('pools');
    expect(pools.some((p) => p.database === now.placement.database && p.user === clinicRole(t.instance, moved.id, 'database'))).toBe(true);
  });

  it('a clinic database made before the lookup existed gets it from the next `migrate`, though it is up to date', async () => {
    const db = clinic.placement.database;
    const login = () =>
      withClient(`postgres://${role}:${rolePassword(t.p.config.secret!, role)}@${bouncer.address}/${db}`, (c) => c.query('select 1'));
    await withClient(urlWithDatabase(t.p.stores.adminUrl('us-east'), db), (c) => c.query(`drop schema ${POOLER_SCHEMA} cascade`));
    await expect(login()).rejects.toThrow();
    const report = await migrateFleet(t.p);
    expect(report.upToDate).toContain(clinic.id);
    await login();
  });

  it('`polyclinic regions pooler` prints the pooler settings and puts back a databases line someone changed', async () => {
    const file = bouncer.target.databasesFile;
    writeFileSync(file, '* = host=127.0.0.1 port=1\n');
    await withClient(bouncer.target.consoleUrl, (c) => c.query('RELOAD'));
    const run = await runCli({ ...cliEnv(t.p.config), ...bouncer.env('us-east') }, 'regions', 'pooler', 'us-east', '--auth-file');
    expect(run.code, run.stderr).toBe(0);
    const line = databasesLine(t.p.stores.adminUrl('us-east'), t.instance);
    expect(readFileSync(file, 'utf8')).toBe(line);
    expect(run.stdout).toContain(line.split('\n')[1]);
    expect(run.stdout).toContain(`auth_query = ${POOLER_AUTH_QUERY}`);
    const pooler = poolerRole(t.instance);
    expect(run.stdout).toContain(`"${pooler}" "${rolePassword(t.p.config.secret!, pooler)}"`);
    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients?limit=5`, headers: bearer(token) });
    expect(listed.statusCode, listed.body).toBe(200);
  });
});
