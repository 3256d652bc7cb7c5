import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { urlWithDatabase, withClient } from '../db/pg.js';
import { TENANT_MIGRATIONS } from '../schema.js';
import { migrateTenantSchema, prepareTenantDatabase } from './store-migrate.js';
import { provisionTenantSchema } from './store-provision.js';

/**
 * A store built in one transaction (`store-provision.ts`) is the store the migrations build one by one: the same
 * ledger, the same tables, columns, indexes, policies and triggers.
 */
const admin = inject('pgAdminUrl');
const database = `provision_test_${randomBytes(4).toString('hex')}`;
const url = urlWithDatabase(admin, database);
const built = 'built';
const migrated = 'migrated';

beforeAll(async () => {
  await withClient(admin, (c) => c.query(`create database ${database}`));
  await withClient(url, (c) => prepareTenantDatabase(c, database, []));
});
afterAll(async () => {
  await withClient(admin, (c) => c.query(`drop database if exists ${database} with (force)`));
});

/** What a schema holds, with its own name taken out. */
const catalogue = (schema: string) =>
  withClient(url, async (c) => {
    const rows = await c.query<{ item: string }>(
      `select format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable, coalesce(column_default, '')) as item
         from information_schema.columns where table_schema = $1
       union all select format('index %s', indexdef) from pg_indexes where schemaname = $1
       union all select format('policy %s.%s %s', tablename, policyname, qual) from pg_policies where schemaname = $1
       union all select format('trigger %s', pg_get_triggerdef(t.oid)) from pg_trigger t
         join pg_class r on r.oid = t.tgrelid join pg_namespace n on n.oid = r.relnamespace where n.nspname = $1 and not t.tgisinternal
       order by 1`,
      [schema],
    );
    return rows.rows.map((r) => r.item.replaceAll(`${schema}.`, 'S.'));
  });

const ledger = (schema: string) =>
  withClient(url, async (c) => (await c.query(`select version, name from ${schema}.schema_migrations order by version`)).rows);

describe('a store provisioned in one transaction', () => {
  it('has the ledger and the catalogue of a store migrated version by version, and a second build migrates instead', async () => {
    const a = await withClient(url, (c) => provisionTenantSchema(c, built, TENANT_MIGRATIONS, []));
    const b = await withClient(url, (c) => migrateTenantSchema(c, migrated, TENANT_MIGRATIONS, []));
    expect(a).toEqual({ from: 0, to: b.to, applied: TENANT_MIGRATIONS.length });
    expect(await ledger(built)).toEqual(await ledger(migrated));
    const items = await catalogue(built);
    expect(items.length).toBeGreaterThan(50);
    expect(items).toEqual(await catalogue(migrated));
    // The store exists now: nothing is built twice, nothing is missing.
    expect(await withClient(url, (c) => provisionTenantSchema(c, built, TENANT_MIGRATIONS, []))).toEqual({
      from: b.to,
      to: b.to,
      applied: 0,
    });
  });
});
