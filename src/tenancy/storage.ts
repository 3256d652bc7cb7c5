import type pg from 'pg';
import type { Platform } from '../platform/platform.js';
import { inTransaction, quoteIdent as q, withClient } from '../db/pg.js';
import { POOLED_SCHEMA, appRole, clinicRole, rolePassword, type Placement } from './naming.js';
import { ensureRole, migrateTenantSchema, prepareTenantDatabase } from './store-migrate.js';

/**
 * Creating and removing a clinic's storage in each placement. Provisioning and placement moves both use
 * these, so a clinic created in a placement and a clinic moved into it are indistinguishable.
 */

/** Builds the empty store for a clinic (no anchor row yet) and returns its schema version. */
export async function createClinicStore(p: Platform, clinicId: string, regionId: string, placement: Placement): Promise<number> {
  const { instance, secret } = p.config;
  switch (placement.model) {
    case 'pooled':
      return withClient(p.stores.adminUrl(regionId, placement.database), (c) => pooledVersion(c));
    case 'schema': {
      const role = clinicRole(instance, clinicId, 'schema');
      return withClient(p.stores.adminUrl(regionId, placement.database), async (c) => {
        await ensureRole(c, role, { login: false });
        await c.query(`grant ${q(role)} to ${q(appRole(instance))}`);
        return (await migrateTenantSchema(c, placement.schema, p.tenantMigrations, [role])).to;
      });
    }
    case 'database': {
      const role = clinicRole(instance, clinicId, 'database');
      await withClient(p.stores.adminUrl(regionId), async (c) => {
        await ensureRole(c, role, { login: true, password: rolePassword(secret, role) });
        const exists = await c.query('select 1 from pg_database where datname = $1', [placement.database]);
        if (!exists.rowCount) await c.query(`create database ${q(placement.database)}`);
      });
      return withClient(p.stores.adminUrl(regionId, placement.database), async (c) => {
        await prepareTenantDatabase(c, placement.database, [role]);
        return (await migrateTenantSchema(c, placement.schema, p.tenantMigrations, [role])).to;
      });
    }
  }
}

async function pooledVersion(c: pg.ClientBase): Promise<number> {
  const r = await c.query<{ v: number | null }>(`select max(version)::int as v from ${q(POOLED_SCHEMA)}.schema_migrations`);
  return r.rows[0]?.v ?? 0;
}

/** Inserts the clinic's anchor row, which every tenant table references. */
export async function insertAnchor(p: Platform, clinicId: string, regionId: string, placement: Placement): Promise<void> {
  await withClient(p.stores.adminUrl(regionId, placement.database), (c) =>
    inTransaction(c, async () => {
      await c.query(`select set_config('app.clinic_id', $1, true)`, [clinicId]);
      await c.query(`insert into ${q(placement.schema)}.clinic (clinic_id) values ($1)`, [clinicId]);
    }),
  );
}

/**
 * Removes everything of one clinic from a placement: its rows from the pooled tables (children first), or its
 * schema and role, or its database and role. Used after a move and to undo a failed provisioning or move.
 */
export async function removeClinicStore(p: Platform, clinicId: string, regionId: string, placement: Placement): Promise<void> {
  switch (placement.model) {
    case 'pooled':
      await withClient(p.stores.adminUrl(regionId, placement.database), (c) =>
        inTransaction(c, async () => {
          await c.query(`select set_config('app.clinic_id', $1, true)`, [clinicId]);
          for (const t of [...p.tenantTables].reverse())
            await c.query(`delete from ${q(placement.schema)}.${q(t.name)} where clinic_id = $1`, [clinicId]);
        }),
      );
      return;
    case 'schema':
      await withClient(p.stores.adminUrl(regionId, placement.database), async (c) => {
        await c.query(`drop schema if exists ${q(placement.schema)} cascade`);
        await dropRole(c, clinicRole(p.config.instance, clinicId, 'schema'));
      });
      return;
    case 'database':
      await p.stores.closeClinicPool(clinicId);
      await withClient(p.stores.adminUrl(regionId), async (c) => {
        await c.query(`drop database if exists ${q(placement.database)} with (force)`);
        await dropRole(c, clinicRole(p.config.instance, clinicId, 'database'));
      });
      return;
  }
}

async function dropRole(c: pg.ClientBase, role: string): Promise<void> {
  const exists = await c.query('select 1 from pg_roles where rolname = $1', [role]);
  if (!exists.rowCount) return;
  await c.query(`drop owned by ${q(role)}`);
  await c.query(`drop role ${q(role)}`);
}
