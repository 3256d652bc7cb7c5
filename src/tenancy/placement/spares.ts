import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inTransaction, quoteIdent as q, quoteLiteral, withClient } from '../../db/pg.js';
import type { TenantMigration } from '../migration-kit.js';
import { POOLED_SCHEMA, appRole, clinicRole, rolePassword, spareBuildDatabase, spareDatabase, spareRole, spareSchema } from '../naming.js';
import { ensureRole, prepareTenantDatabase } from '../store-migrate.js';
import { preparePoolerLogins } from '../pooler-logins.js';
import { provisionTenantSchema } from '../store-provision.js';
import type { SpareKind } from './kind.js';
import { dropRole } from './roles.js';

/**
 * Spare stores of the two placements whose clinics have a store of their own (issue #15). Building a store is
 * DDL: ~125 statements, 500–900 ms on a loaded server, the whole cost of provisioning a schema or database
 * clinic. A spare is that store built ahead, under a name no clinic has, with a role of its own that holds
 * exactly the rights the clinic's role would hold; a claim renames the schema (or database) and the role to the
 * clinic's, a catalogue update of a few milliseconds. Grants, memberships, ACLs and RLS follow objects by oid,
 * not by name, and no tenant function body names its schema, so a claimed store is the store a build would
 * have made (`store-provision.test.ts` compares them).
 *
 * A spare's name carries the fingerprint of the migrations it was built at: a claim takes only a spare at the
 * build's own migrations, so a spare is never handed out stale; the keeper discards the others.
 */

/** The migrations a store holds, as 8 hex digits: every version and its name, in version order. */
export function migrationFingerprint(migrations: TenantMigration[]): string {
  const list = [...migrations].sort((a, b) => a.version - b.version).map((m) => `${m.version}:${m.name}`);
  return createHash('sha256').update(list.join('\n')).digest('hex').slice(0, 8);
}

const lockName = (key: string) => `polyclinic:spare:${key}`;
const SPARE_NAME = /^spare_([0-9a-f]{8})_([0-9a-f]{10})$/;

/** Holds the spare's session lock for `fn`; undefined (and `fn` not run) when another operation holds it. */
async function holdingSpare<T>(admin: pg.ClientBase, key: string, fn: () => Promise<T>): Promise<T | undefined> {
  const got = await admin.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [lockName(key)]);
  if (!got.rows[0]?.ok) return undefined;
  try {
    return await fn();
  } finally {
    await admin.query('select pg_advisory_unlock(hashtextextended($1, 0))', [lockName(key)]);
  }
}

/**
 * Renames the first free spare whose name `candidates` lists, in one short transaction that first takes the
 * spare's lock without waiting (a spare another node is claiming is skipped, as `FOR UPDATE SKIP LOCKED` would)
 * and then checks that it still exists (a claimer that committed just before has renamed it away).
 */
async function claimFirst(
  admin: pg.ClientBase,
  candidates: { name: string; key: string }[],
  exists: string,
  rename: (name: string, key: string) => string[],
) {
  for (const { name, key } of candidates) {
    const claimed = await inTransaction(admin, async () => {
      const got = await admin.query<{ ok: boolean }>('select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as ok', [lockName(key)]);
      if (!got.rows[0]?.ok) return false;
      if (!(await admin.query(exists, [name])).rowCount) return false;
      await admin.query(rename(name, key).join(';\n'));
      return true;
    });
    if (claimed) return true;
  }
  return false;
}

export const schemaSpares: SpareKind = {
  list: async (_ctx, _regionId, admin) =>
    (await admin.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'spare\\_%'`)).rows.flatMap((r) => {
      const m = SPARE_NAME.exec(r.nspname);
      return m ? [{ fingerprint: m[1]!, key: m[2]! }] : [];
    }),

  // What `schema.create` does for a clinic (its role, granted to the app role, and the store in one transaction).
  build: async (ctx, _regionId, admin, migrations) => {
    const spare = { key: randomBytes(5).toString('hex'), fingerprint: migrationFingerprint(migrations) };
    const role = spareRole(ctx.instance, 'schema', spare.key);
    await holdingSpare(admin, spare.key, async () => {
      try {
        await ensureRole(admin, role, { login: false });
        await admin.query(`grant ${q(role)} to ${q(appRole(ctx.instance))}`);
        await provisionTenantSchema(admin, spareSchema(spare.fingerprint, spare.key), migrations, [role]);
      } catch (err) {
        await dropRole(admin, role).catch(() => {});
        throw err;
      }
    });
    return spare;
  },

  claim: async (ctx, admin, store, fingerprint) => {
    const names = await admin.query<{ nspname: string }>('select nspname from pg_namespace where nspname like $1 order by nspname', [
      `spare\\_${fingerprint}\\_%`,
    ]);
    const candidates = names.rows.flatMap((r) => {
      const m = SPARE_NAME.exec(r.nspname);
      return m ? [{ name: r.nspname, key: m[2]! }] : [];
    });
    return claimFirst(admin, candidates, 'select 1 from pg_namespace where nspname = $1', (name, key) => [
      `alter schema ${q(name)} rename to ${q(store.placement.schema)}`,
      `alter role ${q(spareRole(ctx.instance, 'schema', key))} rename to ${q(clinicRole(ctx.instance, store.clinicId, 'schema'))}`,
    ]);
  },

  discard: async (ctx, admin, spare) =>
    (await holdingSpare(admin, spare.key, async () => {
      await admin.query(`drop schema if exists ${q(spareSchema(spare.fingerprint, spare.key))} cascade`);
      await dropRole(admin, spareRole(ctx.instance, 'schema', spare.key));
      return true;
    })) ?? false,
};

/** Regions may share a server, where every database is visible: a spare database's comment names its region. */
const spareComment = (regionId: string) => `polyclinic spare store of region ${regionId}`;

export const databaseSpares: SpareKind = {
  list: async (ctx, regionId, admin) => {
    const prefix = `${ctx.instance}_`;
    const rows = await admin.query<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, $1) and shobj_description(oid, 'pg_database') = $2`,
      [`${prefix}spare_`, spareComment(regionId)],
    );
    return rows.rows.flatMap((r) => {
      const m = SPARE_NAME.exec(r.datname.slice(prefix.length));
      return m ? [{ fingerprint: m[1]!, key: m[2]! }] : [];
    });
  },

  // What `database.create` does for a clinic, under a building name that becomes the spare's name once complete.
  build: async (ctx, regionId, admin, migrations) => {
    const spare = { key: randomBytes(5).toString('hex'), fingerprint: migrationFingerprint(migrations) };
    const role = spareRole(ctx.instance, 'database', spare.key);
    const building = spareBuildDatabase(ctx.instance, spare.key);
    await holdingSpare(admin, spare.key, async () => {
      try {
        await ensureRole(admin, role, { login: true, password: rolePassword(ctx.secret, role) });
        await admin.query(`create database ${q(building)}`);
        await admin.query(`comment on database ${q(building)} is ${quoteLiteral(spareComment(regionId))}`);
        await withClient(ctx.adminUrl(regionId, building), async (c) => {
          await prepareTenantDatabase(c, building, [role]);
          await preparePoolerLogins(c, ctx.instance, building);
          await provisionTenantSchema(c, POOLED_SCHEMA, migrations, [role]);
        });
        // The building connection is closed; PostgreSQL waits (up to 5 s) for its backend to leave before renaming.
        await admin.query(`alter database ${q(building)} rename to ${q(spareDatabase(ctx.instance, spare.fingerprint, spare.key))}`);
      } catch (err) {
        await admin.query(`drop database if exists ${q(building)} with (force)`).catch(() => {});
        await dropRole(admin, role).catch(() => {});
        throw err;
      }
    });
    return spare;
  },

  claim: async (ctx, admin, store, fingerprint) => {
    const spares = (await databaseSpares.list(ctx, store.regionId, admin)).filter((s) => s.fingerprint === fingerprint);
    const candidates = spares.map((s) => ({ name: spareDatabase(ctx.instance, s.fingerprint, s.key), key: s.key }));
    const role = clinicRole(ctx.instance, store.clinicId, 'database');
    return claimFirst(admin, candidates, 'select 1 from pg_database where datname = $1', (name, key) => [
      `alter database ${q(name)} rename to ${q(store.placement.database)}`,
      `comment on database ${q(store.placement.database)} is null`,
      `alter role ${q(spareRole(ctx.instance, 'database', key))} rename to ${q(role)}`,
      // The password every node derives for the clinic's role (`rolePassword`): a rename keeps the spare's.
      `alter role ${q(role)} password ${quoteLiteral(rolePassword(ctx.secret, role))}`,
    ]);
  },

  discard: async (ctx, admin, spare) =>
    (await holdingSpare(admin, spare.key, async () => {
      await admin.query(`drop database if exists ${q(spareDatabase(ctx.instance, spare.fingerprint, spare.key))} with (force)`);
      await dropRole(admin, spareRole(ctx.instance, 'database', spare.key));
      return true;
    })) ?? false,
};
