import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropInstance } from '../../test/support/platform.js';
import { urlWithCredentials, urlWithDatabase, withClient } from '../db/pg.js';
import { newId } from '../ids.js';
import { TENANT_MIGRATIONS, TENANT_TABLES } from '../schema.js';
import { appRole, clinicRole, rolePassword } from './naming.js';
import { placementFor, placementKind, type ClinicStore, type PlacementContext } from './placement/index.js';
import { databaseSpares, migrationFingerprint, schemaSpares } from './placement/spares.js';
import { ensureRole, migrateTenantSchema, prepareTenantDatabase } from './store-migrate.js';
import { provisionTenantSchema } from './store-provision.js';

/**
 * A store built in one transaction (`store-provision.ts`) is the store the migrations build one by one: the same
 * ledger, the same tables, columns, indexes, policies and triggers. A spare claimed by a clinic
 * (`placement/spares.ts`) is the store `create` builds for it: the same catalogue, functions, grants and role.
 */
const admin = inject('pgAdminUrl');
const instance = `pt${randomBytes(4).toString('hex')}`;
const database = `${instance}_region`;
const url = urlWithDatabase(admin, database);
const built = 'built';
const migrated = 'migrated';
const ctx: PlacementContext = {
  instance,
  secret: randomBytes(24).toString('hex'),
  adminUrl: (_region, db) => urlWithDatabase(admin, db ?? database),
  clinicUrl: (_region, db) => urlWithDatabase(admin, db),
  closeClinicPool: async () => {},
  tenantTables: TENANT_TABLES,
};

beforeAll(async () => {
  await withClient(admin, (c) => c.query(`create database ${database}`));
  await withClient(url, async (c) => {
    await ensureRole(c, appRole(instance), { login: true, inherit: false, password: 'x' });
    await prepareTenantDatabase(c, database, [appRole(instance)]);
  });
});
afterAll(() => dropInstance(admin, instance));

/** What a schema holds, with its own name and its role's name taken out: tables, functions, grants, policies. */
const catalogue = (dbUrl: string, schema: string, role = '-') =>
  withClient(dbUrl, async (c) => {
    const rows = await c.query<{ item: string }>(
      `select format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable, coalesce(column_default, '')) as item
         from information_schema.columns where table_schema = $1
       union all select format('index %s', indexdef) from pg_indexes where schemaname = $1
       union all select format('policy %s.%s %s', tablename, policyname, qual) from pg_policies where schemaname = $1
       union all select format('trigger %s', pg_get_triggerdef(t.oid)) from pg_trigger t
         join pg_class r on r.oid = t.tgrelid join pg_namespace n on n.oid = r.relnamespace where n.nspname = $1 and not t.tgisinternal
       union all select format('function %s %s', p.proname, p.prosrc) from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace where n.nspname = $1
       union all select format('grant %s %s %s', table_name, grantee, privilege_type)
         from information_schema.role_table_grants where table_schema = $1 and grantee <> current_user
       union all select format('schema acl %s', nspacl) from pg_namespace where nspname = $1
       union all select format('database acl %s comment %s', datacl, shobj_description(oid, 'pg_database'))
         from pg_database where datname = current_database()
       union all select format('role %s login %s inherit %s member of app %s', rolname, rolcanlogin, rolinherit,
                               pg_has_role(${`'${appRole(instance)}'`}, oid, 'member'))
         from pg_roles where rolname = $2
       order by 1`,
      [schema, role],
    );
    return rows.rows.map((r) =>
      r.item
        .replaceAll(`${schema}.`, 'S.')
        .replaceAll(role, 'ROLE')
        .replaceAll(`${current(dbUrl)}`, 'DB'),
    );
  });
const current = (dbUrl: string) => new URL(dbUrl).pathname.slice(1);

const ledger = (dbUrl: string, schema: string) =>
  withClient(dbUrl, async (c) => (await c.query(`select version, name from ${schema}.schema_migrations order by version`)).rows);

const newStore = (model: 'schema' | 'database'): ClinicStore => {
  const clinicId = newId('clinic');
  return { clinicId, regionId: 'r', placement: placementFor(model, { instance, clinicId, regionDatabase: database }) };
};

describe('a store provisioned in one transaction', () => {
  it('has the ledger and the catalogue of a store migrated version by version, and a second build migrates instead', async () => {
    const a = await withClient(url, (c) => provisionTenantSchema(c, built, TENANT_MIGRATIONS, []));
    const b = await withClient(url, (c) => migrateTenantSchema(c, migrated, TENANT_MIGRATIONS, []));
    expect(a).toEqual({ from: 0, to: b.to, applied: TENANT_MIGRATIONS.length });
    expect(await ledger(url, built)).toEqual(await ledger(url, migrated));
    const items = await catalogue(url, built);
    expect(items.length).toBeGreaterThan(50);
    expect(items).toEqual(await catalogue(url, migrated));
    // The store exists now: nothing is built twice, nothing is missing.
    expect(await withClient(url, (c) => provisionTenantSchema(c, built, TENANT_MIGRATIONS, []))).toEqual({
      from: b.to,
      to: b.to,
      applied: 0,
    });
  });
});

describe('a claimed spare store', () => {
  const fingerprint = migrationFingerprint(TENANT_MIGRATIONS);

  it('schema: is the schema, role and grants a build makes for the clinic, and is claimed once', async () => {
    await withClient(url, (c) => schemaSpares.build(ctx, 'r', c, TENANT_MIGRATIONS));
    const a = newStore('schema');
    const b = newStore('schema');
    // A spare at other migrations is never handed out.
    expect(await withClient(url, (c) => schemaSpares.claim(ctx, c, a, migrationFingerprint(TENANT_MIGRATIONS.slice(1))))).toBe(false);
    // Two nodes claiming at once: one gets the spare, the other none (and builds).
    const won = await Promise.all([a, b].map((s) => withClient(url, (c) => schemaSpares.claim(ctx, c, s, fingerprint))));
    expect(won.filter(Boolean)).toHaveLength(1);
    const [claimed, other] = won[0] ? [a, b] : [b, a];
    expect(await withClient(url, (c) => schemaSpares.list(ctx, 'r', c))).toEqual([]);
    await placementKind('schema').create(ctx, other, TENANT_MIGRATIONS);

    expect(await ledger(url, claimed.placement.schema)).toEqual(await ledger(url, other.placement.schema));
    const items = await catalogue(url, claimed.placement.schema, clinicRole(instance, claimed.clinicId, 'schema'));
    expect(items.filter((i) => i.startsWith('grant ')).length).toBeGreaterThan(20);
    expect(items.filter((i) => i.startsWith('function ')).length).toBeGreaterThan(1);
    expect(items).toContain('role ROLE login f inherit t member of app t');
    expect(items).toEqual(await catalogue(url, other.placement.schema, clinicRole(instance, other.clinicId, 'schema')));
  });

  it('database: is the database, role and grants a build makes for the clinic, and its role logs in', async () => {
    await withClient(url, (c) => databaseSpares.build(ctx, 'r', c, TENANT_MIGRATIONS));
    const claimed = newStore('database');
    const other = newStore('database');
    expect(await withClient(url, (c) => databaseSpares.claim(ctx, c, claimed, fingerprint))).toBe(true);
    expect(await withClient(url, (c) => databaseSpares.list(ctx, 'r', c))).toEqual([]);
    expect(await withClient(url, (c) => databaseSpares.claim(ctx, c, other, fingerprint))).toBe(false);
    await placementKind('database').create(ctx, other, TENANT_MIGRATIONS);

    const urlOf = (s: ClinicStore) => urlWithDatabase(admin, s.placement.database);
    const role = (s: ClinicStore) => clinicRole(instance, s.clinicId, 'database');
    expect(await ledger(urlOf(claimed), 'tenant')).toEqual(await ledger(urlOf(other), 'tenant'));
    const items = await catalogue(urlOf(claimed), 'tenant', role(claimed));
    expect(items).toContain('role ROLE login t inherit t member of app f');
    expect(items.find((i) => i.startsWith('database acl'))).toMatch(/ROLE=c\//);
    expect(items).toEqual(await catalogue(urlOf(other), 'tenant', role(other)));
    // The claimed role has the password every node derives for the clinic, not the spare's.
    const login = urlWithCredentials(urlOf(claimed), role(claimed), rolePassword(ctx.secret, role(claimed)));
    expect(await withClient(login, async (c) => (await c.query('select current_user as u')).rows[0].u)).toBe(role(claimed));
    await placementKind('database').remove(ctx, claimed);
    expect(
      await withClient(
        url,
        async (c) => (await c.query('select 1 from pg_database where datname = $1', [claimed.placement.database])).rowCount,
      ),
    ).toBe(0);
  });
});
